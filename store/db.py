"""Opening the SQLite index with the settings several processes need to share it safely.

WAL lets readers work while one writer commits; the busy timeout turns a momentary lock into a
short wait instead of "database is locked"; foreign keys keep rows consistent. Each thread gets its
own connection because MCP runs sync tools in worker threads and sqlite3 connections are not
meant to be shared between threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from factorops.store.components import Component
from factorops.store.env import env_int

BUSY_TIMEOUT_MS = 60_000
# SQLite reads the first MMAP_BYTES of the index through a memory map (env
# FACTOROPS_SQLITE_MMAP_BYTES; 0 turns it off): a page outside SQLite's own cache (2 MB a
# connection) is then a mapped page, not a read() copied into it. Large pattern stores are read
# at random: there the bench's searches right after a query that swept the cache took ~1 ms less
# at p95 (CPU 11.1-11.4 -> 10.3-10.4 ms; 11.2 -> 10.1 ms on 2026-11-27). In its 409 MiB store of
# 100,000 patterns the first 256 MiB hold the patterns, FTS5's tables and half the postings by
# word, not the postings' by-row index (written last); mapping the whole file gained nothing
# more (docs/patterns.md: a row scored costs reaching a page no cache holds, not the read()).
# A small store fits in the cache anyway.
MMAP_BYTES = 256 << 20


class Database:
    """One connection to the index: `execute(sql, parameters)` and the `sqlite3` connection `conn`.

    This is all the code used of sqlite-utils' `Database`, which the store wrapped until the
    dependency was dropped (docs/architecture.md says why); the call sites kept their shape."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)


def connect(path: Path) -> Database:
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA mmap_size={mmap_bytes()}")
    return Database(conn)


def mmap_bytes() -> int:
    """How much of the index SQLite maps (MMAP_BYTES, or FACTOROPS_SQLITE_MMAP_BYTES)."""
    return env_int("FACTOROPS_SQLITE_MMAP_BYTES", MMAP_BYTES, minimum=0)


class Index:
    """The SQLite index of one data dir: a connection per thread, migrations, transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[Database] = []
        self._all_lock = threading.Lock()

    @property
    def db(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._all_lock:
                self._all.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write transaction on this thread's connection; used inside another, a savepoint.

        Outermost: BEGIN IMMEDIATE (take the write lock up front so two writers never deadlock on
        upgrade), COMMIT at the end. An exception in the block rolls back; so does a COMMIT that
        fails (a deferred foreign key, a constraint checked at commit): nothing is half-written and
        the connection is left outside any transaction, ready for the next one.

        Nested (`with index.transaction():` while one is open on this thread): a SAVEPOINT. An
        exception in the inner block undoes only the inner block's writes and propagates; the outer
        block may catch it and go on, and its own writes stay.
        """
        db = self.db
        depth: int = getattr(self._local, "depth", 0)
        if depth:
            name = f"factorops_{depth}"
            db.execute(f"SAVEPOINT {name}")
            self._local.depth = depth + 1
            try:
                yield db
            except BaseException:
                db.execute(f"ROLLBACK TO {name}")
                db.execute(f"RELEASE {name}")
                raise
            finally:
                self._local.depth = depth
            db.execute(f"RELEASE {name}")
            return
        db.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:  # also when COMMIT itself failed: SQLite keeps it open
                db.execute("ROLLBACK")
            raise
        finally:
            self._local.depth = 0

    def migrate(self, components: Sequence[Component]) -> list[str]:
        """Apply every migration not yet recorded; returns the ids applied."""
        applied: list[str] = []
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            done = {row[0] for row in db.execute("SELECT id FROM schema_migrations").fetchall()}
            for comp in components:
                for mig in comp.migrations:
                    if mig.id in done:
                        continue
                    for statement in _split_sql(mig.sql):
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_migrations (id, applied_at) VALUES (?, datetime('now'))",
                        [mig.id],
                    )
                    applied.append(mig.id)
        return applied

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def set_meta(db: Database, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def close(self) -> None:
        with self._all_lock:
            for db in self._all:
                db.conn.close()
            self._all.clear()
        self._local = threading.local()


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements; sqlite3 executes one at a time inside our transaction."""
    parts: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                parts.append(buf.strip())
            buf = ""
    if buf.strip():
        parts.append(buf.strip())
    return parts
