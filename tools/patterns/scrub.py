"""Secrets out of pattern records: the one redaction every way into the ledger goes through.

Recording, mining and bundle import all hand patterns to the ledger, and from there they travel
(search, resources, sync, bundles). `scrub_pattern` applies the kernel's redactor
(`tools/kernel/redact.py`) to every free-text field of a pattern; `doctor --fix` uses the same
function to rewrite records written before redaction existed.
"""

from __future__ import annotations

from typing import TypeVar

from factorops.tools.kernel.redact import redact

from .model import PatternCandidate

P = TypeVar("P", bound=PatternCandidate)

_LIMITS = {"title": 200, "problem": 4000, "solution": 4000}


def scrub_pattern(p: P) -> tuple[P, int]:
    """`p` with secret values in its text replaced by `[REDACTED:<kind>]`, and how many were.

    Title, problem, solution, tags and the evidence excerpt are redacted; ids, globs and rules are
    structure, not prose, and are left alone. Returns `p` itself when nothing was found.
    """
    found = 0
    update: dict[str, object] = {}
    for name, limit in _LIMITS.items():
        text, counts = redact(getattr(p, name))
        if counts:
            found += sum(counts.values())
            update[name] = text[:limit]
    tags: list[str] = []
    for tag in p.tags:
        text, counts = redact(tag)
        found += sum(counts.values())
        tags.append(text)
    if tags != p.tags:
        update["tags"] = tags
    excerpt = p.evidence.excerpt
    if excerpt:
        text, counts = redact(excerpt)
        if counts:
            found += sum(counts.values())
            update["evidence"] = p.evidence.model_copy(update={"excerpt": text[:500]})
    return (p.model_copy(update=update) if update else p), found
