"""patterns_search's work (issue #14), counted in SQLite virtual-machine steps, which neither the
clock nor the machine's load changes: a search whose rare word settles the top-k does not sum the
postings of its common words. Each answer equals SQLite's own unwindowed ranking, through the MCP
client, also where confidence decides among common words."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.store import db as store_db
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.model import Pattern
from factorops.tools.registry import components

from .conftest import Clock, ok, served, sqlite_top

NOW = datetime(2026, 11, 25, tzinfo=UTC)
STEP = 100  # VM instructions per progress-handler call


class Steps:
    """SQLite VM instructions run on every connection opened while counting (the server's worker
    threads open their own)."""

    def __init__(self) -> None:
        self.n = 0
        self.conns: list[sqlite3.Connection] = []

    def _tick(self) -> int:
        self.n += STEP
        return 0

    def watch(self, conn: sqlite3.Connection) -> None:
        conn.set_progress_handler(self._tick, STEP)
        self.conns.append(conn)


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Steps]:
    counter = Steps()
    connect = store_db.connect

    def counted(path: Path) -> store_db.Database:
        db = connect(path)
        counter.watch(db.conn)
        return db

    monkeypatch.setattr(store_db, "connect", counted)
    yield counter


def _corpus(n: int, seed: int, in_title: float = 0.1) -> list[Pattern]:
    """`common0`..`common3` each in about a third of the rows (idf well above zero, so the search
    must weigh them; in a title with chance `in_title`), `zebra` in a handful of titles, filler
    words elsewhere."""
    rng = random.Random(seed)
    filler = [f"filler{i}" for i in range(300)]
    rows = []
    for i in range(n):
        body = rng.choices(filler, k=14)
        title = rng.choices(filler, k=3)
        for w in ("common0", "common1", "common2", "common3"):
            if rng.random() < 0.33:
                (title if rng.random() < in_title else body).append(w)
        if i % 400 == 7:
            title.append("zebra")
        rows.append(
            Pattern(
                id=f"pat-{i:05d}",
                title=" ".join(title),
                problem=" ".join(body[:7]),
                solution=" ".join(body[7:]),
                kind=rng.choice(["pattern", "anti-pattern"]),
                status=rng.choice(["candidate", "active"]),
                confidence=rng.random(),
                created=NOW,
                updated=NOW,
            )
        )
    return rows


def _read_whole(store: Store, word: str) -> int:
    """The steps SQLite takes just to read a word's postings once, summing nothing."""
    conn = store.db.conn
    counter = Steps()
    counter.watch(conn)
    conn.execute(
        "SELECT count(*) FROM pattern_postings pp JOIN pattern_words w ON w.id = pp.wid "
        "WHERE w.term = ? AND pp.tf > 0",
        [word],
    ).fetchall()
    conn.set_progress_handler(None, 0)
    return counter.n


async def _search(c: Client, steps: Steps, args: dict[str, Any]) -> tuple[list[str], int]:
    before = steps.n
    got = [h["id"] for h in (await ok(c, "patterns_search", args))["results"]]
    return got, steps.n - before


async def test_a_rare_word_that_settles_the_top_k_spares_the_common_words_rows(
    project: Path, clock: Clock, steps: Steps
) -> None:
    store = Store.open(DataDir.for_project(project), components())
    try:
        with store.index.transaction() as db:
            for p in _corpus(8000, seed=1):
                patterns.upsert(db, p, "0" * 40)
        whole = _read_whole(store, "common0")
        async with served(project, clock) as (c, _):
            await ok(c, "patterns_search", {"query": "warm up"})
            got, work = await _search(c, steps, {"query": "zebra common0"})
            assert got == sqlite_top(store, "zebra common0")
            # The zebra rows decide; reading common0's ~2,600 postings once would cost `whole`.
            assert work < whole, (work, whole)
    finally:
        store.close()


async def test_common_words_that_confidence_decides_rank_as_sqlite_does(project: Path, clock: Clock) -> None:
    # Common words never in a title: every row holds them at the same tf, the lists' first rows
    # say little, and confidence decides; the search starts its k-th best from the most
    # confident rows and reads only postings that can still reach it.
    store = Store.open(DataDir.for_project(project), components())
    try:
        with store.index.transaction() as db:
            for p in _corpus(4000, seed=2, in_title=0.0):
                patterns.upsert(db, p, "0" * 40)
        async with served(project, clock) as (c, _):
            for q in (
                "common1 common2",
                "common0 common1 common2 common3",
                "common3 zebra common1",
                "common2",
                "zebra filler3 common0",
            ):
                for extra in ({}, {"kind": "anti-pattern"}, {"status": "active"}):
                    got = [
                        h["id"] for h in (await ok(c, "patterns_search", {"query": q, **extra}))["results"]
                    ]
                    assert got == sqlite_top(store, q, extra), (q, extra)
    finally:
        store.close()
