"""The repo-map section of a load: ranked paths with their most relevant signatures.

Whole files give depth; a map gives breadth: at any budget the assistant learns which files bear
on the task and what they define, and can ask for them by path (aider's repository-map idea). A
file's signatures are its definitions ordered by how well their names match the task's words and
identifiers, top-level definitions before methods, shown in source order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
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


class Defs:
    """A file's indexed definitions as the map picks from them, with what does not depend on the
    task worked out once (the caller keeps a file's `Defs` per index generation): the names and
    name parts a task must share for any definition to score, and the task-free order used when
    none does. Most files of a map share no word with the task, so most picks need no scoring."""

    __slots__ = ("_names", "_plain", "_words", "symbols")

    def __init__(self, symbols: Sequence[Symbol]) -> None:
        self.symbols = tuple(symbols)
        self._names = frozenset(s.name.lower() for s in self.symbols)
        self._words = self._names.union(*(_parts(s.name) for s in self.symbols))
        self._plain: dict[int, tuple[Symbol, ...]] = {}

    def scores_zero(self, terms: set[str], idents: set[str]) -> bool:
        """Whether every definition's `relevance` is 0 for these words (its three tests, as sets)."""
        return self._names.isdisjoint(idents) and self._words.isdisjoint(terms)

    def plain(self, limit: int) -> list[Symbol]:
        """`pick` when nothing scores: top-level public definitions first, then by line."""
        got = self._plain.get(limit)
        if got is None:
            got = self._plain[limit] = tuple(_chosen(self.symbols, limit, lambda s: 0.0))
        return list(got)


def pick(
    defs: Defs,
    terms: set[str],
    idents: set[str],
    limit: int,
    memo: dict[str, float] | None = None,
) -> list[Symbol]:
    """The `limit` most relevant definitions, in source order. `memo`: relevance by name, for the
    calls of one load (the same terms and identifiers): a map scores the same names in many files."""
    if defs.scores_zero(terms, idents):
        return defs.plain(limit)
    memo = {} if memo is None else memo

    def score(s: Symbol) -> float:
        got = memo.get(s.name)
        if got is None:
            got = memo[s.name] = relevance(s.name, terms, idents)
        return got

    return _chosen(defs.symbols, limit, score)


def _chosen(symbols: Sequence[Symbol], limit: int, score: Callable[[Symbol], float]) -> list[Symbol]:
    scored = heapq.nsmallest(
        limit,
        symbols,
        key=lambda s: (-score(s), s.name.startswith("_"), s.kind in ("method", "heading"), s.line),
    )
    return sorted(scored, key=lambda s: s.line)


def entry(path: str, why: str, chosen: Sequence[Symbol]) -> str:
    """`path  (why)` then `  L<n> <signature line>` per definition."""
    out = [f"{path}  ({why})" if why else path]
    out += [f"  L{s.line} {s.sig or s.name}" for s in chosen]
    return "\n".join(out) + "\n"
