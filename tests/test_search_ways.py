"""patterns_search's three ways to find the rows that can still reach the k-th best through
several mid-frequency words (issue #14, `_Search._summed`): lookups per candidate (`_ranked`),
one GROUP BY over every posting (`_grouped`), and the rows that hold every required word, found
by FTS5 (`_required`); before them, the most confident rows that hold every strong word give the
k-th best its start. Each way is forced in turn (the cost constants the choice reads) and must
give SQLite's own unwindowed ranking, through the MCP client, with and without filters; each
test checks the way it forces did run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns import search as pattern_search
from factorops.tools.patterns.model import Pattern
from factorops.tools.registry import components

from .conftest import Clock, ok, served, sqlite_top
from .search_corpus import mid_corpus

NOW = datetime(2026, 11, 25, tzinfo=UTC)
# Mid-frequency words (each in 8-40% of the rows, so every one has a useful idf), a word in most
# rows (idf floored: a weak word) and a rare one.
MID = {f"mid{i}": 0.08 + 0.03 * i for i in range(12)}
QUERIES = [
    "mid0 mid1",
    "mid3 mid7",
    "mid10 mid11",
    "mid2 mid5 mid9",
    "mid4 mid6 mid8 mid11",
    "mid0 mid3 mid6 mid9",
    "mid1 common mid10",
    "zebra mid5 mid6",
    "mid7 mid8 common zebra",
    "mid2 mid2 mid11",
]
FILTERS: list[dict[str, Any]] = [{}, {"kind": "anti-pattern"}, {"status": "active"}, {"tags": ["t1"]}]


def _corpus(n: int, seed: int) -> list[Pattern]:
    return mid_corpus(n, seed, MID, filler=200, common=0.7, zebra_every=150)


def _filled(project: Path, n: int = 3000, seed: int = 21) -> None:
    store = Store.open(DataDir.for_project(project), components())
    try:
        with store.index.transaction() as db:
            for p in _corpus(n, seed):
                patterns.upsert(db, p, "0" * 40)
    finally:
        store.close()


# The cost constants that force each way (the others made dear); `_summed` takes the cheapest.
WAYS: dict[str, dict[str, float]] = {
    "_ranked": {"RANK_COST": 0.0, "GROUP_COST": 1e12, "ROW_COST": 1e12, "RANKED_LONG": 0.0},
    "_grouped": {"RANK_COST": 1e12, "GROUP_COST": 1e-9, "ROW_COST": 1e12, "RANKED_LONG": 1e18},
    "_required": {"RANK_COST": 1e12, "GROUP_COST": 1e12, "ROW_COST": 1e-12, "RANKED_LONG": 1e18},
}


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """How often `_Search.<name>` runs (it still does its work)."""
    calls = [0]
    original: Callable[..., None] = getattr(pattern_search._Search, name)

    def counted(self: pattern_search._Search, *args: Any) -> None:
        calls[0] += 1
        original(self, *args)

    monkeypatch.setattr(pattern_search._Search, name, counted)
    return calls


@pytest.mark.parametrize("way", list(WAYS))
async def test_each_way_ranks_as_sqlite_does(
    way: str, project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _filled(project)
    for name, value in WAYS[way].items():
        monkeypatch.setattr(pattern_search, name, value)
    calls = _count_calls(monkeypatch, way)
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        for q in QUERIES:
            for extra in FILTERS:
                got = [h["id"] for h in (await ok(c, "patterns_search", {"query": q, **extra}))["results"]]
                assert got == sqlite_top(store, q, extra), (way, q, extra)
        got = [
            h["id"]
            for h in (
                await ok(
                    c, "patterns_search", {"query": "mid2 mid5 mid9", "limit": 40, "budget_tokens": 20000}
                )
            )["results"]
        ]
        assert got == sqlite_top(store, "mid2 mid5 mid9", {}, 40)
    assert calls[0] >= len(QUERIES), (way, calls[0])  # the forced way did the work


async def test_the_start_from_rows_that_hold_every_word_is_exact_and_taken(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows that hold every strong word, most confident first, are scored before the
    # candidate pass (here always, BOOT_IF): many of them (BOOT_ROWS large) or none (BOOT_MAX 0),
    # the same answers.
    _filled(project, n=2000, seed=5)
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        for boot_rows, boot_max in ((500, 10**9), (64, 0)):
            monkeypatch.setattr(pattern_search, "BOOT_IF", -1.0)  # whatever the way costs
            monkeypatch.setattr(pattern_search, "BOOT_ROWS", boot_rows)
            monkeypatch.setattr(pattern_search, "BOOT_MAX", boot_max)
            for q in QUERIES:
                for extra in FILTERS:
                    got = [
                        h["id"] for h in (await ok(c, "patterns_search", {"query": q, **extra}))["results"]
                    ]
                    assert got == sqlite_top(store, q, extra), (boot_rows, q, extra)
