"""Contradictions (issue #18): two active patterns giving opposite advice on the same scope.

"Opposite", kept simple so a person can predict it (docs/patterns.md, Contradictions):

- polarity: an anti-pattern, or a pattern whose title starts with avoid / never / don't / do not /
  stop / no, advises *against* its subject; any other pattern advises *for* it;
- subject: the title's words without those negations (and without "always", the prefix
  "Reverted change:" of a mined revert);
- two active patterns (guardrails aside: they act through guardrail_check) contradict when their
  polarities differ, their subjects are the same finding (>= 80% of the words shared, as for
  near-duplicates) and their scopes overlap (no scope means everywhere; else a glob of one matches
  a glob or path of the other, or one is a folder of the other).

Flagged for a person, never resolved here: `factorops patterns list`, `factorops doctor` and the
`agentops://patterns` resource show each pair; a person retires or revises one of them.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch

from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.model import Pattern

NEGATIONS = ("do not ", "don't ", "dont ", "never ", "avoid ", "stop ", "no ")
_DROP = frozenset({"always", "never", "avoid", "don", "dont", "t", "do", "not", "stop", "no"})


class Contradiction(CompactModel):
    a: str
    b: str
    a_title: str
    b_title: str
    why: str


def polarity(p: Pattern) -> bool:
    """True when the pattern advises for its subject, False when against it."""
    if p.kind == "anti-pattern":
        return False
    title = p.title.strip().lower()
    return not title.startswith(NEGATIONS)


def subject(p: Pattern) -> frozenset[str]:
    title = re.sub(r"^reverted change:\s*", "", p.title.strip(), flags=re.IGNORECASE)
    return frozenset(w for w in patterns.title_words(title) if w not in _DROP)


def _under(path: str, glob: str) -> bool:
    base = glob.rstrip("*").rstrip("/")
    return bool(base) and (path == base or path.startswith(base + "/"))


def scopes_overlap(a: list[str], b: list[str]) -> bool:
    if not a or not b:
        return True
    return any(x == y or fnmatch(x, y) or fnmatch(y, x) or _under(x, y) or _under(y, x) for x in a for y in b)


def find(store: Store) -> list[Contradiction]:
    """Every pair of active patterns that contradict, oldest pair member first."""
    active: list[Pattern] = []
    for row in patterns.list_patterns(store, status="active", limit=100_000):
        if row["kind"] == "guardrail":
            continue
        try:
            active.append(patterns.get(store, str(row["id"])))
        except DomainError:
            continue
    active.sort(key=lambda p: (p.created, p.id))
    out: list[Contradiction] = []
    for i, a in enumerate(active):
        sa, pa = subject(a), polarity(a)
        for b in active[i + 1 :]:
            if polarity(b) == pa or not patterns.similar(sa, subject(b)):
                continue
            if not scopes_overlap(a.scope, b.scope):
                continue
            yes, no = (a, b) if pa else (b, a)
            where = ", ".join(sorted(set(a.scope) | set(b.scope))[:5]) or "everywhere"
            out.append(
                Contradiction(
                    a=a.id,
                    b=b.id,
                    a_title=a.title,
                    b_title=b.title,
                    why=f"{yes.id} advises '{patterns.one_line(yes.title, 80)}', {no.id} advises "
                    f"against it ('{patterns.one_line(no.title, 80)}'), on {where}",
                )
            )
    return out


def lines(found: list[Contradiction]) -> list[str]:
    if not found:
        return []
    out = ["Contradicting active patterns (a person retires or revises one):"]
    out += [f"  {c.a} vs {c.b}: {c.why}" for c in found]
    return out
