"""patterns_search filtered by a status and a kind (issue #14): the list of patterns by confidence
walks only the rows those filters pass, through the (status, kind, confidence, tags) index of
migration patterns-010, and checks the tags in that index; the answers stay SQLite's own ranking.

At 100,000 patterns a search filtered by kind, status and a tag walked the whole table by
confidence, reading each row for its status, kind and tags (bench_patterns_search.py: CPU p95
~27 ms, against ~10 ms unfiltered)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns import search as pattern_search
from factorops.tools.registry import components

from .conftest import Clock, ok, served, sqlite_top
from .search_corpus import mid_corpus

MID = {f"mid{i}": 0.08 + 0.03 * i for i in range(12)}
QUERIES = ["mid0 mid1", "mid2 mid5 mid9", "mid1 common mid10", "zebra mid5 mid6", "common", "filler3 mid4"]
FILTERS: list[dict[str, Any]] = [
    {"status": "active", "kind": "anti-pattern"},
    {"status": "candidate", "kind": "pattern", "tags": ["t1"]},
    {"status": "retired", "kind": "anti-pattern", "tags": ["t0", "t3"]},
    {"status": "active", "kind": "guardrail"},  # no row is a guardrail
]


def _filled(project: Path) -> None:
    store = Store.open(DataDir.for_project(project), components())
    try:
        with store.index.transaction() as db:
            for p in mid_corpus(2500, 8, MID, filler=200, common=0.7, zebra_every=150):
                patterns.upsert(db, p, "0" * 40)
    finally:
        store.close()


async def test_status_and_kind_filters_rank_as_sqlite_does(project: Path, clock: Clock) -> None:
    _filled(project)
    async with served(project, clock) as (c, rt):
        store = rt.store_sync()
        for q in QUERIES:
            for extra in FILTERS:
                got = [h["id"] for h in (await ok(c, "patterns_search", {"query": q, **extra}))["results"]]
                assert got == sqlite_top(store, q, extra), (q, extra)
                if extra["kind"] == "guardrail":
                    assert got == []


async def test_a_store_made_before_the_index_gets_it_when_a_server_opens_it(
    project: Path, clock: Clock
) -> None:
    # A store whose migrations stop at patterns-008 (made before patterns-010): the server's
    # start-up check must see the missing migration, or the filtered walk names an index that is
    # not there ("no such index").
    _filled(project)
    store = Store.open(DataDir.for_project(project), components())
    try:
        store.db.execute(f"DROP INDEX {pattern_search.CONFIDENCE_INDEX}")
        store.db.execute("DELETE FROM schema_migrations WHERE id = 'patterns-010'")
    finally:
        store.close()
    extra = FILTERS[1]
    async with served(project, clock) as (c, rt):
        got = [h["id"] for h in (await ok(c, "patterns_search", {"query": "mid0 mid1", **extra}))["results"]]
        assert got == sqlite_top(rt.store_sync(), "mid0 mid1", extra)
        indexes = {
            r[0] for r in rt.store_sync().db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert pattern_search.CONFIDENCE_INDEX in indexes


def _confidence_plan(store: Store, filters: pattern_search.Filters) -> str:
    """How SQLite walks the search's list of patterns by confidence for `filters`: the plan of the
    statement the search ran (caught as it ran, values bound)."""
    ran: list[str] = []
    store.db.conn.set_trace_callback(ran.append)
    try:
        pattern_search.search_rowids(store.db, "mid0 mid1 common", filters, 6)
    finally:
        store.db.conn.set_trace_callback(None)
    walk = [s for s in ran if "INDEXED BY" in s and "ORDER BY p.confidence DESC" in s]
    assert len(walk) == 1, ran
    return " | ".join(str(r[3]) for r in store.db.execute(f"EXPLAIN QUERY PLAN {walk[0]}"))


@pytest.mark.parametrize(
    ("filters", "plan"),
    [
        (
            pattern_search.Filters(status="active", kind="pattern", tags=("t1",)),
            f"COVERING INDEX {pattern_search.CONFIDENCE_INDEX} (status=? AND kind=?)",
        ),
        (pattern_search.Filters(status="active", kind="pattern"), "COVERING INDEX"),
        (pattern_search.Filters(kind="pattern"), "USING INDEX patterns_confidence"),
        (pattern_search.Filters(), "USING INDEX patterns_confidence"),
    ],
)
def test_the_confidence_walk_reads_only_the_rows_a_status_and_kind_pass(
    project: Path, filters: pattern_search.Filters, plan: str
) -> None:
    _filled(project)
    store = Store.open(DataDir.for_project(project), components())
    try:
        assert plan in _confidence_plan(store, filters)
    finally:
        store.close()
