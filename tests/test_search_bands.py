"""patterns_search's candidate passes read only the postings that can still help (issue #14): per
word and tf, a confidence range of the (word, tf, confidence) index (`_bands`, migration
patterns-009); before them, each strong word's best rows by its part plus confidence give the
k-th best a start (`_best`); a query with one such word and others of no use takes the same pass
(`TOGETHER_MIN`). Each is forced in turn and must give SQLite's own unwindowed ranking, through
the MCP client, with and without filters; an upgraded store gets the index, and a store without
it still answers exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import search as pattern_search
from factorops.tools.registry import components

from .conftest import Clock, ok, served, sqlite_top
from .test_search_ways import FILTERS, QUERIES, WAYS, _count_calls, _filled

# Queries with one strong word beside a word in most rows (idf floored) or alone.
ONE_WORD = ["mid11 common", "common mid6", "mid0", "zebra common", "mid10 common common"]

VARIANTS: dict[str, dict[str, float]] = {
    # every candidate pass by grouping the postings in the bands
    "grouped": WAYS["_grouped"],
    # the start from each word's best rows by part plus confidence, always, then the cheapest way
    "best": {"BEST_IF": -1.0, "BEST_SHARE": 0.0},
    # both, with more of each tf read and kept
    "best_grouped": {
        **WAYS["_grouped"],
        "BEST_IF": -1.0,
        "BEST_SHARE": 0.0,
        "BEST_ROWS": 64,
        "BEST_KEEP": 200,
    },
}


async def _ids(c: Any, args: dict[str, Any]) -> list[str]:
    return [h["id"] for h in (await ok(c, "patterns_search", args))["results"]]


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_the_bands_and_the_start_rank_as_sqlite_does(
    variant: str, project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _filled(project, n=3000, seed=31)
    for name, value in VARIANTS[variant].items():
        monkeypatch.setattr(pattern_search, name, value)
    best = _count_calls(monkeypatch, "_best")
    grouped = _count_calls(monkeypatch, "_grouped")
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        for q in QUERIES + ONE_WORD:
            for extra in FILTERS:
                assert await _ids(c, {"query": q, **extra}) == sqlite_top(store, q, extra), (
                    variant,
                    q,
                    extra,
                )
        q = "mid2 mid5 mid9"
        assert await _ids(c, {"query": q, "limit": 40, "budget_tokens": 20000}) == sqlite_top(
            store, q, {}, 40
        )
    if "BEST_IF" in VARIANTS[variant]:
        assert best[0] >= len(QUERIES), best[0]  # the start did its work
    if "GROUP_COST" in VARIANTS[variant]:
        assert grouped[0] >= len(QUERIES), grouped[0]


async def test_one_strong_word_takes_the_candidate_pass(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A word of useful idf beside words in most rows: its bands, not the Threshold Algorithm's
    # walk of the patterns by confidence; the same answers with the pass and without it.
    _filled(project, n=3000, seed=32)
    for name, value in WAYS["_grouped"].items():
        monkeypatch.setattr(pattern_search, name, value)
    grouped = _count_calls(monkeypatch, "_grouped")
    monkeypatch.setattr(pattern_search, "ALONE_MIN", 1)  # a word alone too
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        for together in (1, 2):
            monkeypatch.setattr(pattern_search, "TOGETHER_MIN", together)
            for q in ONE_WORD:
                for extra in FILTERS:
                    want = sqlite_top(store, q, extra)
                    assert await _ids(c, {"query": q, **extra}) == want, (together, q, extra)
            if together == 1:
                assert grouped[0] >= len(ONE_WORD), grouped[0]
                grouped[0] = 0
        assert grouped[0] == 0  # TOGETHER_MIN 2: one strong word is the Threshold Algorithm's


def _drop_bands(project: Path, forget_migration: bool) -> None:
    store = Store.open(DataDir.for_project(project), components())
    try:
        with store.index.transaction() as db:
            db.execute(f"DROP INDEX {pattern_search.BANDS_INDEX}")
            if forget_migration:  # the index as patterns-008 left it
                db.execute("DELETE FROM schema_migrations WHERE id = 'patterns-009'")
    finally:
        store.close()


async def test_an_upgraded_store_gets_the_bands_index(project: Path, clock: Clock) -> None:
    _filled(project, n=1500, seed=33)
    _drop_bands(project, forget_migration=True)
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        assert store.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", [pattern_search.BANDS_INDEX]
        ).fetchone()
        for q in QUERIES + ONE_WORD:
            assert await _ids(c, {"query": q}) == sqlite_top(store, q, {}), q


async def test_without_the_bands_index_the_search_is_still_exact(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The queries do not name the index (SQLite takes it for their ranges): a store that lost it
    # answers through the table's own key, slower, the same.
    _filled(project, n=1500, seed=34)
    _drop_bands(project, forget_migration=False)
    for name, value in VARIANTS["best_grouped"].items():
        monkeypatch.setattr(pattern_search, name, value)
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        assert not store.db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ?", [pattern_search.BANDS_INDEX]
        ).fetchone()
        for q in QUERIES + ONE_WORD:
            for extra in FILTERS:
                assert await _ids(c, {"query": q, **extra}) == sqlite_top(store, q, extra), (q, extra)
