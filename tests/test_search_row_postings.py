"""The row postings a serving process holds (row_postings): a faithful copy of one state, the same
answers and the same work with or without them, never used for a state they were not built from
(after a write in this process or in another), never built from a writer's search, for a small
store or outside a serving process, and cancelled when the store closes. Real SQLite files, real
threads, a real second process."""

from __future__ import annotations

import array
import logging
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.db import Database
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns import row_postings
from factorops.tools.patterns import search as pattern_search
from factorops.tools.patterns.model import Pattern
from factorops.tools.registry import components

from .conftest import ok
from .search_corpus import NOW, mid_corpus, put

ROWS = 3000
MID = {"alpha": 0.3, "beta": 0.08, "gamma": 0.01}
QUERIES = [
    "alpha",
    "alpha beta",
    "beta gamma common",
    "common",
    "zebra",
    "zebra alpha filler3",
    "filler1 filler2 filler7 gamma",
    "filler5_filler6 alpha",  # one word FTS5 splits in two: a phrase, scored by FTS5
    "nothing matches this",
]
SETTINGS = [
    (pattern_search.Filters(), math.inf),
    (pattern_search.Filters(status="active"), math.inf),
    (pattern_search.Filters(kind="pattern", tags=("t1",)), math.inf),
    (pattern_search.Filters(), 400.0),  # a budget that binds: the budget's best, both ways
]
DEADLINE = 60.0  # seconds a test waits for a background build before it fails


@pytest.fixture
def serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process serves (searches build and use the arrays), whatever the store's size."""
    monkeypatch.setenv("FACTOROPS_ROW_POSTINGS_MIN_ROWS", "0")
    monkeypatch.setattr(row_postings, "_enabled", True)


def _filled(store: Store) -> row_postings.Holder:
    """The corpus written; the store's row postings (kept on it, as the tool's searches find them)."""
    put(store, mid_corpus(ROWS, 11, MID, filler=40, common=0.7, zebra_every=97))
    return patterns.row_postings_of(store)


def _search(
    db: Database,
    q: str,
    rows: row_postings.Holder | None,
    filters: pattern_search.Filters = pattern_search.Filters(),
    budget: float = math.inf,
) -> tuple[list[tuple[int, str]], pattern_search.Work]:
    work = pattern_search.Work(budget=budget)
    return pattern_search.search_rowids(db, q, filters, 6, work, rows), work


def _key(db: Database) -> tuple[object, ...]:
    key = pattern_search._key(db)
    assert key is not None
    return key


def _built(store: Store, rows: row_postings.Holder) -> row_postings.RowPostings:
    """Search until a background build holds the arrays of the store's current state."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        _search(store.db, "alpha", rows)
        held = rows.wait(DEADLINE)
        if held is not None and held.key == _key(store.db):
            return held
        time.sleep(0.02)  # the next build waits as long as the last one took
    raise AssertionError("no row postings were built for the current state")


def _rowid(store: Store, pattern_id: str) -> int:
    return int(store.db.execute("SELECT rowid FROM patterns WHERE id = ?", [pattern_id]).fetchone()[0])


def test_the_arrays_are_the_tables_postings(
    store: Store, serving: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(row_postings, "CHUNK", 7)  # many chunks, some ending in rows with no words
    rows = _filled(store)
    put(store, [Pattern(id=f"pat-none-{i}", title="...", created=NOW, updated=NOW) for i in range(9)])
    put(store, [Pattern(id="pat-last", title="last words", created=NOW, updated=NOW)])
    held = _built(store, rows)
    assert held.rows == _rowid(store, "pat-last") + 1
    table = {
        (int(pid), int(wid)): (int(tf), int(dl))
        for pid, wid, tf, dl in store.db.execute("SELECT pid, wid, tf, dl FROM pattern_postings")
    }
    copy: dict[tuple[int, int], tuple[int, int]] = {}
    for pid in range(held.rows):
        ws = held.wids[held.starts[pid] : held.starts[pid + 1]]
        assert list(ws) == sorted(set(ws))  # ascending, each once: bisection finds them
        for i in range(held.starts[pid], held.starts[pid + 1]):
            copy[(pid, held.wids[i])] = (held.tfs[i], held.lengths[pid])
    assert len(table) > ROWS * 10
    assert copy == table
    assert held.starts[held.rows] == len(held.wids) == len(held.tfs) == len(table)


def test_the_same_answers_and_work_with_or_without_the_arrays(store: Store, serving: None) -> None:
    rows = _filled(store)
    _built(store, rows)
    used = 0
    for q in QUERIES:
        for filters, budget in SETTINGS:
            got, work = _search(store.db, q, rows, filters, budget)
            row_postings.enable(False)
            want, plain = _search(store.db, q, rows, filters, budget)
            row_postings.enable(True)
            assert got == want, (q, filters, budget)
            assert (work.spent, work.scored, work.postings, work.exact) == (
                plain.spent,
                plain.scored,
                plain.postings,
                plain.exact,
            ), (q, filters, budget)
            assert plain.held == 0
            assert work.held <= work.scored
            used += work.held
    assert used > 1000  # the arrays did the scoring
    assert not _search(store.db, "alpha", rows, budget=400.0)[1].exact  # the budget did bind


def test_a_write_here_is_never_answered_from_the_arrays_of_the_state_before(
    store: Store, serving: None
) -> None:
    rows = _filled(store)
    before = _built(store, rows)
    # pat-00010 holds no "quagga" yet; after this write its title says it three times
    (row,) = [
        p for p in mid_corpus(ROWS, 11, MID, filler=40, common=0.7, zebra_every=97) if p.id == "pat-00010"
    ]
    put(store, [row.model_copy(update={"title": "quagga quagga quagga alpha", "status": "active"})])
    put(store, [Pattern(id="pat-q", title="quagga", problem="one", created=NOW, updated=NOW)])
    got, work = _search(store.db, "quagga alpha", rows)
    assert work.held == 0  # the arrays are of the state before the write
    assert got[0][0] == _rowid(store, "pat-00010")
    after = _built(store, rows)
    assert after.key != before.key
    again, work = _search(store.db, "quagga alpha", rows)
    assert work.held > 0
    assert again == got


SCRIPT = """
import sys
from pathlib import Path
from datetime import datetime, UTC
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records
from factorops.tools.patterns.model import Pattern
from factorops.tools.registry import components

store = Store.open(DataDir.for_project(Path(sys.argv[1])), components())
now = datetime(2026, 11, 25, tzinfo=UTC)
with store.index.transaction() as db:
    records.upsert(db, Pattern(id="pat-other", title="okapi okapi okapi", problem="alpha", created=now,
                               updated=now), "0" * 40)
store.close()
"""


def test_a_write_from_another_process_is_never_answered_from_the_arrays(
    store: Store, project: Path, serving: None
) -> None:
    rows = _filled(store)
    before = _built(store, rows)
    subprocess.run([sys.executable, "-c", SCRIPT, str(project)], check=True, timeout=120)
    got, work = _search(store.db, "okapi alpha", rows)
    assert work.held == 0
    assert got[0][0] == _rowid(store, "pat-other")
    assert _built(store, rows).key != before.key


def test_a_writers_search_builds_nothing_and_a_readers_does(store: Store, serving: None) -> None:
    rows = _filled(store)
    with store.index.transaction() as db:
        _search(db, "alpha beta", rows)  # as pattern_record's duplicate check and mining search
        assert db.conn.in_transaction  # the search joined the writer's transaction
    assert rows.build is None
    assert rows.wait() is None
    _search(store.db, "alpha beta", rows)
    assert not store.db.conn.in_transaction  # its own read transaction ended
    held = rows.wait(DEADLINE)
    assert held is not None and held.key == _key(store.db)
    with store.index.transaction() as db:  # a writer before its first write reads that state
        assert _search(db, "alpha beta", rows)[1].held > 0


@pytest.mark.parametrize(
    ("threshold", "builds"),
    [("3001", False), ("3000", True), ("", False), ("many", False), ("-1", False)],  # bad: the default
)
def test_only_stores_of_min_rows_or_more_get_arrays(
    store: Store, monkeypatch: pytest.MonkeyPatch, threshold: str, builds: bool
) -> None:
    monkeypatch.setattr(row_postings, "_enabled", True)
    monkeypatch.setenv("FACTOROPS_ROW_POSTINGS_MIN_ROWS", threshold)  # "": the default, 50,000
    rows = _filled(store)
    _search(store.db, "alpha", rows)
    assert (rows.build is not None) is builds
    assert (rows.wait(DEADLINE) is not None) is builds


def test_a_one_shot_process_builds_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(row_postings, "_enabled", False)
    monkeypatch.setenv("FACTOROPS_ROW_POSTINGS_MIN_ROWS", "0")
    rows = _filled(store)
    assert _search(store.db, "alpha", rows)[1].held == 0
    assert rows.build is None


def test_closing_the_store_cancels_a_running_build(
    project: Path, serving: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(DataDir.for_project(project), components())
    rows = _filled(store)
    started, release = threading.Event(), threading.Event()
    chunks: list[int] = []
    append = row_postings._append

    def counted(*args: object) -> int:
        chunks.append(1)
        return append(*args)  # type: ignore[arg-type]

    def slow_key(db: Database) -> tuple[object, ...] | None:
        started.set()
        assert release.wait(DEADLINE)
        return pattern_search._key(db)

    monkeypatch.setattr(row_postings, "_append", counted)
    rows.want(ROWS, slow_key)
    build = rows.build
    assert build is not None
    assert started.wait(DEADLINE)
    closer = threading.Thread(target=store.close)
    closer.start()
    assert build.cancelled.wait(DEADLINE)  # close asked the build to stop...
    assert closer.is_alive()  # ...and waits for it
    release.set()
    closer.join(DEADLINE)
    assert not closer.is_alive()
    assert build.thread is not None and not build.thread.is_alive()
    assert chunks == []  # it stopped before reading a row
    assert rows.wait() is None  # nothing held
    build.not_before = 0.0  # past the wait after the last build
    rows.want(ROWS, pattern_search._key)
    assert rows.build is build  # and a closed store's searches start no build


async def test_a_served_search_builds_the_arrays(
    client: Client, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(row_postings, "_enabled", False)  # as a fresh process
    monkeypatch.setenv("FACTOROPS_ROW_POSTINGS_MIN_ROWS", "0")
    store = runtime.store_sync()
    rows = _filled(store)
    first = await ok(client, "patterns_search", {"query": "alpha beta", "limit": 5})
    held = rows.wait(DEADLINE)  # the tool's first call made this process a server
    assert held is not None and held.rows > ROWS
    assert await ok(client, "patterns_search", {"query": "alpha beta", "limit": 5}) == first
    assert len(first["results"]) == 5


def test_closing_the_store_lets_the_arrays_go(project: Path, serving: None) -> None:
    store = Store.open(DataDir.for_project(project), components())
    rows = _filled(store)
    assert _built(store, rows) is not None
    store.close()
    assert rows.wait() is None
    reopened = Store.open(DataDir.for_project(project), components())
    try:
        assert patterns.row_postings_of(reopened) is not rows  # a new store, its own arrays
    finally:
        reopened.close()


def test_word_ids_past_16_bits_are_held_wide(store: Store, serving: None) -> None:
    rows = _filled(store)
    with store.index.transaction() as db:  # as a store of more than 65,536 distinct words
        db.execute("UPDATE pattern_words SET id = id + 70000")
        db.execute("UPDATE pattern_postings SET wid = wid + 70000")
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'patterns_version'")
    held = _built(store, rows)
    assert held.wids.typecode == "I" and min(held.wids) > 70000
    for q in QUERIES:
        got, work = _search(store.db, q, rows)
        row_postings.enable(False)
        assert _search(store.db, q, rows)[0] == got
        row_postings.enable(True)


def test_a_count_past_16_bits_keeps_the_search_seeking(
    store: Store, serving: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=row_postings.__name__)
    rows = _filled(store)
    with store.index.transaction() as db:
        db.execute(
            "UPDATE pattern_postings SET tf = 70000 WHERE pid = (SELECT max(pid) FROM pattern_postings)"
        )
    before = _search(store.db, "alpha beta", rows)
    assert rows.wait(DEADLINE) is None  # not held: searches seek, as before
    assert _search(store.db, "alpha beta", rows) == before
    assert "a count of 70000 does not fit" in caplog.text


def test_a_row_out_of_order_is_sorted() -> None:
    wids, tfs = array.array("H"), array.array("H")
    row_postings._append(
        wids,
        tfs,
        array.array("H", bytes.fromhex("000900020005")),
        array.array("H", bytes.fromhex("000100020003")),
    )
    assert (list(wids), list(tfs)) == ([2, 5, 9], [2, 3, 1])


def test_a_build_waits_after_the_last_one_as_long_as_it_took(store: Store, serving: None) -> None:
    rows = _filled(store)
    first = _built(store, rows)
    last = rows.build
    assert last is not None and last.not_before > 0.0
    put(store, [Pattern(id="pat-new", title="new words", created=NOW, updated=NOW)])
    last.not_before = time.monotonic() + 3600.0  # as if the last build had taken an hour
    assert _search(store.db, "alpha", rows)[1].held == 0
    assert rows.build is last  # none started
    last.not_before = 0.0
    _search(store.db, "alpha", rows)
    assert rows.build is not last
    held = rows.wait(DEADLINE)
    assert held is not None and held.key != first.key
