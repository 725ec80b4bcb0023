"""Patterns as Markdown files with front matter: readable in git, safe to edit by hand.

Front matter is one `key: value` per line where every value is written as JSON (`title: "…"`,
`tags: ["a", "b"]`, `confidence: 0.7`). That is valid YAML for any tool that reads YAML, and it
parses exactly, with no YAML dependency and no surprises (`no` staying a string, `1.10` staying a
version). The problem and the solution (or rule) are the body's two sections.

A hand edit that breaks a file is reported with the file name and line; it never stops the other
patterns from loading.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .model import USAGE_FIELDS, Pattern

_FIELDS_ORDER = (
    "id",
    "title",
    "kind",
    "status",
    "revises",
    "confidence",
    "tags",
    "scope",
    "rule",
    "evidence",
    "source",
    "changed_by",
    *USAGE_FIELDS,
    "created",
    "updated",
)
# Written only when set, so a pattern never cited reads (and hashes) as it did before citations.
_ONLY_WHEN_SET = frozenset({"times_hurt", "helped_in", "hurt_in", "last_cited"})
_SECTIONS = {"problem": "## Problem", "solution": "## Solution"}


class PatternFileError(ValueError):
    """A ledger pattern file that cannot be read; the message names the file and the line."""


def render(p: Pattern) -> str:
    data = p.model_dump(mode="json")
    lines = ["---"]
    for key in _FIELDS_ORDER:
        value = data.get(key)
        if value is None or (key in _ONLY_WHEN_SET and value in (0, [])):
            continue
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}")
    lines.append("---")
    lines.append("")
    lines.append(f"# {p.title}")
    lines.append("")
    lines.append(_SECTIONS["problem"])
    lines.append("")
    lines.append(p.problem.strip() or "_(not described)_")
    lines.append("")
    lines.append(_SECTIONS["solution"])
    lines.append("")
    lines.append(p.solution.strip() or "_(not described)_")
    lines.append("")
    return "\n".join(lines)


def parse(text: str, name: str) -> Pattern:
    """Read a pattern file; any problem raises PatternFileError naming `name` and the line."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise PatternFileError(f"{name}: line 1: front matter must start with '---'")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise PatternFileError(f"{name}: front matter is not closed with '---'") from None
    data: dict[str, Any] = {}
    for i in range(1, end):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, raw = line.partition(":")
        if not sep:
            raise PatternFileError(f"{name}: line {i + 1}: expected 'key: value'")
        key = key.strip()
        raw = raw.strip()
        if key not in _FIELDS_ORDER:
            # Strict on keys: a typo such as `stauts: active` must not be silently ignored.
            raise PatternFileError(
                f"{name}: line {i + 1}: unknown key {key!r}; known keys: {', '.join(_FIELDS_ORDER)}"
            )
        if key in data:
            raise PatternFileError(f"{name}: line {i + 1}: {key!r} is given twice")
        try:
            data[key] = json.loads(raw)
        except json.JSONDecodeError:
            if raw and not raw.startswith(("[", "{", '"')):
                data[key] = raw  # a hand-written bare string: accept it as YAML would
            else:
                raise PatternFileError(f"{name}: line {i + 1}: value of {key!r} is not valid") from None
    body = "\n".join(lines[end + 1 :])
    for field_name, heading in _SECTIONS.items():
        data[field_name] = _section(body, heading)
    try:
        return Pattern.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise PatternFileError(f"{name}: {problems}") from None


def _section(body: str, heading: str) -> str:
    start = body.find(heading)
    if start < 0:
        return ""
    rest = body[start + len(heading) :]
    nxt = rest.find("\n## ")
    text = (rest if nxt < 0 else rest[:nxt]).strip()
    return "" if text == "_(not described)_" else text
