"""The repo-map section of a load: ranked paths with their most relevant signatures.

Whole files give depth; a map gives breadth: at any budget the assistant learns which files bear
on the task and what they define, and can ask for them by path (aider's repository-map idea). A
file's signatures are its definitions ordered by how well their names match the task's words and
identifiers, top-level definitions before methods, shown in source order.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .index import split_identifier

HEADER = "=== repo map: more files for the task, best first (ask for one with paths=[...]) ===\n"


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str
    line: int
    sig: str = ""  # its signature line, as indexed


def signature(lines: list[str], line: int, width: int = 120) -> str:
    src = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return src if len(src) <= width else src[: width - 3] + "..."


def relevance(name: str, terms: set[str], idents: set[str]) -> float:
    """How well a definition's name matches the task: named outright beats sharing a word."""
    low = name.lower()
    if low in idents:
        return 5.0
    if low in terms:
        return 3.0
    return float(sum(1 for p in _parts(name) if p in terms))


@lru_cache(maxsize=20_000)
def _parts(name: str) -> tuple[str, ...]:
    return tuple(split_identifier(name))


def pick(
    symbols: Sequence[Symbol],
    terms: set[str],
    idents: set[str],
    limit: int,
    memo: dict[str, float] | None = None,
) -> list[Symbol]:
    """The `limit` most relevant definitions, in source order. `memo`: relevance by name, for the
    calls of one load (the same terms and identifiers): a map scores the same names in many files."""
    memo = {} if memo is None else memo

    def score(name: str) -> float:
        got = memo.get(name)
        if got is None:
            got = memo[name] = relevance(name, terms, idents)
        return got

    scored = heapq.nsmallest(
        limit,
        symbols,
        key=lambda s: (-score(s.name), s.name.startswith("_"), s.kind in ("method", "heading"), s.line),
    )
    return sorted(scored, key=lambda s: s.line)


def entry(path: str, why: str, chosen: Sequence[Symbol]) -> str:
    """`path  (why)` then `  L<n> <signature line>` per definition."""
    out = [f"{path}  ({why})" if why else path]
    out += [f"  L{s.line} {s.sig or s.name}" for s in chosen]
    return "\n".join(out) + "\n"
