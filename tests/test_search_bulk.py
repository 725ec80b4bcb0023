"""A bulk fill of patterns (issue #14): inside `search.deferred` (what `factorops rebuild` runs
the ledger's files in) the pattern writer writes no postings row by row, and the one pass at the
end writes the same postings the row-by-row upkeep does; a search over them ranks as SQLite does,
through the MCP client."""

from __future__ import annotations

from pathlib import Path

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns import search as pattern_search
from factorops.tools.registry import components

from .conftest import Clock, ok, served, sqlite_top
from .test_search_postings import FILTERS, QUERIES, _consistent, _corpus, _postings


def test_one_pass_writes_the_postings_row_by_row_upkeep_writes(tmp_path: Path) -> None:
    rows = _corpus(1500, seed=9)
    stores = [Store.open(DataDir.for_project(tmp_path / name), components()) for name in ("rows", "bulk")]
    try:
        with stores[0].index.transaction() as db:
            for p in rows:
                patterns.upsert(db, p, "0" * 40)
        with stores[1].index.transaction() as db, pattern_search.deferred(db):
            assert not db.execute("SELECT 1 FROM pattern_postings").fetchall()  # nothing written yet
            for p in rows:
                patterns.upsert(db, p, "0" * 40)
            for p in rows[:50]:  # an update in the same fill replaces the row
                patterns.upsert(
                    db, p.model_copy(update={"title": "zeppelin docking", "status": "active"}), "1" * 40
                )
            assert not db.execute("SELECT 1 FROM pattern_postings").fetchall()
        with stores[0].index.transaction() as db:
            for p in rows[:50]:
                patterns.upsert(
                    db, p.model_copy(update={"title": "zeppelin docking", "status": "active"}), "1" * 40
                )
        assert _postings(stores[1]) == _postings(stores[0])
        for s in stores:
            _consistent(s)
        assert (
            stores[1].db.execute("SELECT 1 FROM sqlite_master WHERE name = 'pattern_postings_row'").fetchone()
        )  # the (row, word) index the search's random access reads
    finally:
        for s in stores:
            s.close()


async def test_a_search_over_bulk_filled_postings_ranks_as_sqlite(project: Path, clock: Clock) -> None:
    store = Store.open(DataDir.for_project(project), components())
    try:
        with store.index.transaction() as db, pattern_search.deferred(db):
            for p in _corpus(3000, seed=4):
                patterns.upsert(db, p, "0" * 40)
        async with served(project, clock) as (c, _):
            for q in QUERIES:
                for extra in FILTERS:
                    got = [
                        h["id"]
                        for h in (await ok(c, "patterns_search", {"query": q, "limit": 5, **extra}))[
                            "results"
                        ]
                    ]
                    assert got == sqlite_top(store, q, extra), (q, extra)
    finally:
        store.close()
