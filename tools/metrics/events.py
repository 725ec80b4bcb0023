"""Recording metrics events: what every tool call does, so it must cost next to nothing.

Events are buffered in memory per store and written by a background thread in one transaction per
batch (or when the process closes the store). Apart from the report (`report.py`), which reads the
other capabilities' queries, so that the server's call hook and `context_load` record an event
without importing any of that (start-up, issue #19).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import rollup as metrics_rollup

if TYPE_CHECKING:
    from factorops.store.store import Store

FLUSH_EVERY = 32
FLUSH_AFTER_S = 2.0
MAX_PENDING = 10_000  # events kept in memory while SQLite cannot be written
CHARS_PER_TOKEN = 4  # call sizes are recorded in characters; tokens are estimated from them

log = logging.getLogger("factorops.metrics")

Row = tuple[str, str, str, str | None, float | None, str | None, int | None, int | None]


class EventBuffer:
    """Per store: events wait here and a background thread writes them in batches.

    The tool call that records an event only appends to a list: no SQLite on the hot path, so a
    write lock held by another process can never stall the event loop. The writer wakes when a
    batch is full or every FLUSH_AFTER_S, whichever comes first; `flush()` writes at once (a
    report wants every event so far) and `close()` writes the rest and stops the thread.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[Row] = []
        self.cond = threading.Condition()
        self.write_lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="factorops-metrics", daemon=True)
        self.thread.start()

    def add(self, row: Row) -> None:
        with self.cond:
            self.rows.append(row)
            if len(self.rows) == FLUSH_EVERY:
                self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                if not self.closed and len(self.rows) < FLUSH_EVERY:
                    self.cond.wait(FLUSH_AFTER_S)
                closed = self.closed
            try:
                self.flush()
            except Exception:  # metrics must never take the server down; the rows are kept for a retry
                log.exception("writing metrics events failed")
            if closed:
                return

    def flush(self) -> None:
        with self.write_lock:
            with self.cond:
                rows, self.rows = self.rows, []
            if not rows:
                return
            try:
                with self.store.index.transaction() as db:
                    db.conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                    metrics_rollup.add_batch(
                        db.conn,
                        (
                            (r[0], r[2], r[4] or 0.0, r[5] or "ok", r[6] or 0, r[7] or 0)
                            for r in rows
                            if r[1] == "call"
                        ),
                    )
            except BaseException:
                with self.cond:  # kept for the next try, but never more than MAX_PENDING in all
                    room = max(0, MAX_PENDING - len(self.rows))
                    self.rows[:0] = rows[-room:] if room else []
                raise

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.thread.join(timeout=10)
        self.flush()


_BUFFER = "metrics.events"


def buffer_for(store: Store) -> EventBuffer:
    """This store's event buffer (one per store, kept on it)."""
    return store.derived(_BUFFER, None, lambda: EventBuffer(store))


def flush(store: Store) -> None:
    """Write the events recorded so far (before a report reads them)."""
    buf = store.kept(_BUFFER)
    if isinstance(buf, EventBuffer):
        buf.flush()


def close(store: Store) -> None:
    """Write the rest and stop the writer: call before the store closes."""
    buf = store.forget(_BUFFER)
    if isinstance(buf, EventBuffer):
        buf.close()


def record_call(
    store: Store,
    ts: datetime,
    tool: str,
    latency_ms: float,
    outcome: str,
    tokens_in: int,
    tokens_out: int,
    session_id: str | None,
) -> None:
    buffer_for(store).add(
        (ts.astimezone(UTC).isoformat(), "call", tool, session_id, latency_ms, outcome, tokens_in, tokens_out)
    )


def record_context_use(store: Store, ts: datetime, session_id: str | None, used: int, window: int) -> None:
    """How full the assistant's window is after a context load: the 40% rule, measured."""
    buffer_for(store).add(
        (ts.astimezone(UTC).isoformat(), "context", "context_load", session_id, None, None, used, window)
    )
