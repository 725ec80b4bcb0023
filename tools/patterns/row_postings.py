"""Every row's postings held in the serving process, so that a search scores a row without a seek
into the postings' by-row index.

Why: at 100,000 patterns a search's tail is the rows it scores exactly, one random page of the
`(pid, wid)` index each (issue #14). The bench's store keeps that index in its last 76 MB, and a
page that no CPU cache holds costs ~9 us whether SQLite maps it or reads it (docs/patterns.md).
The same postings as arrays (per row: its word ids in order and their weighted counts, found by
bisection) take 21.5 MiB at 100,000 patterns and are read in cache lines, not pages.

The arrays are a copy of one committed state of the index. They are read on a connection of their
own in one read transaction, which also reads that state's key (`search._stats`: the file, the
index's id, `patterns_version`, FTS5's row and token counts). A search uses them only when the
state it reads, in its own read transaction, has the same key; any write to a pattern changes the
version, so after a write, from this process or another, the search seeks as before until the
arrays of the new state are built. The same state holds the same postings either way, so the
answer and the work it is charged are the same with or without the arrays.

The build is never on a request's path: a daemon thread, one at a time per store (a `Holder`,
kept on the `Store`, whose close cancels it), started by a
search that found no current arrays, and never by a search inside a write transaction (a
pattern_record's duplicate check, mining: their state is about to change). A build waits after
the last one for as long as that one took, so a stream of writes costs at most half a core. It
happens only in a process that serves (`enable`, by the MCP app; a one-shot CLI command exits
before arrays would pay) and only for stores of MIN_ROWS patterns or more
(FACTOROPS_ROW_POSTINGS_MIN_ROWS), below which the by-row index stays in SQLite's cache anyway.
Most of a build is SQLite formatting each row's postings (the GIL released); Python only turns
hex into arrays: at 100,000 patterns 4.6-8.7 s wall in the bench, of which the Python parse 0.2 s.
"""

from __future__ import annotations

import array
import bisect
import itertools
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from factorops.store.db import Database, connect
from factorops.store.env import env_int

log = logging.getLogger(__name__)

MIN_ROWS = 50_000  # the smallest store that gets arrays (env FACTOROPS_ROW_POSTINGS_MIN_ROWS)
CHUNK = 8192  # rows read per query of a build (its transient memory; cancelled between chunks)

# A state's key: anything the search's `_stats` reads from one read transaction.
KeyOf = Callable[[Database], "tuple[object, ...] | None"]


@dataclass(frozen=True)
class RowPostings:
    """One state of the index's postings by row: row `pid`'s word ids are
    `wids[starts[pid]:starts[pid + 1]]`, ascending, with their weighted counts in `tfs` at the same
    places, and its length in tokens is `lengths[pid]`."""

    key: tuple[object, ...]
    starts: array.array[int]
    wids: array.array[int]
    tfs: array.array[int]
    lengths: array.array[int]

    @property
    def rows(self) -> int:
        """Rowids below this are covered (a rowid the state does not hold has no postings)."""
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.starts, self.wids, self.tfs, self.lengths))

    def lookup(
        self, pids: Iterable[int], wids: list[int]
    ) -> tuple[dict[int, dict[int, int]], dict[int, int]]:
        """Per row of `pids` that holds any of `wids` (ascending): its count of each it holds, and
        its length; what `_score` reads from SQLite otherwise. A pid must be below `rows`."""
        tf: dict[int, dict[int, int]] = {}
        dl: dict[int, int] = {}
        starts, ws, fs = self.starts, self.wids, self.tfs
        find = bisect.bisect_left
        for pid in pids:
            lo, hi = starts[pid], starts[pid + 1]
            held: dict[int, int] | None = None
            for w in wids:
                i = find(ws, w, lo, hi)
                if i < hi and ws[i] == w:
                    if held is None:
                        tf[pid] = held = {}
                        dl[pid] = self.lengths[pid]
                    held[w] = fs[i]
                    lo = i + 1
        return tf, dl


def load(db: Database, key_of: KeyOf, cancelled: threading.Event | None = None) -> RowPostings | None:
    """Read every row's postings and the state's key in one read transaction on `db` (a connection
    no one else uses). None: no postings to hold (an empty or uncovered store), or cancelled."""
    db.execute("BEGIN")
    try:
        key = key_of(db)
        top = db.execute("SELECT max(pid), max(wid) FROM pattern_postings").fetchone()
        if key is None or top[0] is None:
            return None
        rows, wide = int(top[0]) + 1, int(top[1]) >= 1 << 16
        code, width = ("I", 8) if wide else ("H", 4)
        counts = array.array("I", bytes(4 * rows))  # postings a row: `starts` is their running sum
        lengths = array.array("I", bytes(4 * rows))
        wids, tfs = array.array(code), array.array("H")
        for lo in range(0, rows, CHUNK):
            if cancelled is not None and cancelled.is_set():
                return None
            got = db.execute(
                f"SELECT pid, max(dl), max(tf), group_concat(printf('%0{width}x', wid), ''), "
                "group_concat(printf('%04x', tf), '') FROM pattern_postings INDEXED BY pattern_postings_row "
                "WHERE pid >= ? AND pid < ? GROUP BY pid ORDER BY pid",
                [lo, lo + CHUNK],
            ).fetchall()
            for pid, n, most, w_hex, f_hex in got:
                if most >= 1 << 16:
                    log.info("row postings not held: a count of %d does not fit", most)
                    return None
                lengths[pid] = n
                counts[pid] = _append(
                    wids, tfs, array.array(code, bytes.fromhex(w_hex)), array.array("H", bytes.fromhex(f_hex))
                )
        starts = array.array("I", itertools.accumulate(counts, initial=0))
        return RowPostings(key, starts, wids, tfs, lengths)
    finally:
        db.execute("COMMIT")


def _append(wids: array.array[int], tfs: array.array[int], w: array.array[int], f: array.array[int]) -> int:
    """One row's postings, from big-endian hex, in word order (SQLite's GROUP BY over the (pid,
    wid) index gives that order; it is checked, not assumed); returns how many."""
    if sys.byteorder == "little":
        w.byteswap()
        f.byteswap()
    if sorted(w) != w.tolist():
        pairs = sorted(zip(w, f, strict=True))
        w = array.array(w.typecode, [a for a, _ in pairs])
        f = array.array("H", [b for _, b in pairs])
    wids.extend(w)
    tfs.extend(f)
    return len(w)


# -- held per store, built in the background ---------------------------------------------------

_enabled = False


def enable(on: bool = True) -> None:
    """Let searches in this process build and use the arrays (a serving process)."""
    global _enabled
    _enabled = on


def min_rows() -> int:
    return env_int("FACTOROPS_ROW_POSTINGS_MIN_ROWS", MIN_ROWS, minimum=0)


@dataclass
class _Build:
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    not_before: float = 0.0  # time.monotonic() before which no next build starts


class Holder:
    """The arrays of one store (kept on the `Store` as a derived value; the store's close closes
    it): the latest built, and the build under way."""

    def __init__(self, path: Path) -> None:
        self.path = path  # the index file: a build opens its own connection to it
        self._lock = threading.Lock()
        self._held: RowPostings | None = None
        self.build: _Build | None = None  # the last build started
        self._closed = False

    def held(self, key: tuple[object, ...]) -> RowPostings | None:
        """The arrays of the state `key`, if they are built; stale ones are let go."""
        if not _enabled:
            return None
        found = self._held
        if found is None or found.key == key:
            return found
        with self._lock:
            if self._held is found:
                self._held = None
        return None

    def want(self, rows: int, key_of: KeyOf) -> None:
        """Start a build unless one is running, the last one ended less than its own duration
        ago, the store has fewer than `min_rows()` patterns or the process does not serve."""
        if not _enabled or rows < min_rows():
            return
        with self._lock:
            last = self.build
            if self._closed or (
                last is not None
                and (
                    (last.thread is not None and last.thread.is_alive()) or time.monotonic() < last.not_before
                )
            ):
                return
            build = self.build = _Build()
            build.thread = threading.Thread(
                target=self._run, args=(build, key_of), name="factorops-row-postings", daemon=True
            )
            build.thread.start()

    def _run(self, build: _Build, key_of: KeyOf) -> None:
        began = time.monotonic()
        got: RowPostings | None = None
        try:
            db = connect(self.path)
            try:
                db.execute("PRAGMA query_only=ON")
                got = load(db, key_of, build.cancelled)
            finally:
                db.conn.close()
        except sqlite3.Error as exc:  # the store went away or changed shape: searches keep seeking
            log.warning("row postings of %s not built: %s", self.path, exc)
        took = time.monotonic() - began
        with self._lock:
            build.not_before = time.monotonic() + took
            if got is not None and not build.cancelled.is_set():
                self._held = got
        if got is not None:
            log.info(
                "row postings of %s: %d rows, %.1f MiB, in %.2fs",
                self.path,
                got.rows,
                got.nbytes / 2**20,
                took,
            )

    def wait(self, timeout: float | None = None) -> RowPostings | None:
        """Wait for a running build to end; the arrays held then (of any state)."""
        build = self.build
        if build is not None and build.thread is not None:
            build.thread.join(timeout)
        return self._held

    def close(self) -> None:
        """The store closes: cancel a build, wait for it, let the arrays go."""
        with self._lock:  # under the lock: a build that ends now sees it is cancelled
            self._closed = True
            self._held = None
            build = self.build
            if build is not None:
                build.cancelled.set()
        if build is not None and build.thread is not None and build.thread is not threading.current_thread():
            build.thread.join()
