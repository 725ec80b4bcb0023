"""The store facade: one durable write = one ledger commit + one SQLite transaction.

Order matters for crash safety. The ledger (the truth) is committed first, then the index row is
written in a transaction that also records the ledger head it reflects. A process killed between the
two leaves the index one commit behind; the next `Store.open` sees that the recorded head differs
from git's HEAD and indexes the missing files ("catch-up"). If the SQLite side fails in a live
process, the ledger commit is undone, so no half-written record survives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from factorops.store.components import Component
from factorops.store.datadir import DataDir
from factorops.store.db import Index
from factorops.store.ledger import Ledger

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger("factorops.store")

T = TypeVar("T")
HEAD_KEY = "ledger_head"


@dataclass(frozen=True)
class CatchUp:
    files: int
    unknown: int
    full_rebuild: bool
    errors: tuple[str, ...] = ()  # ledger files that could not be read (e.g. broken hand edits)


class Store:
    def __init__(self, datadir: DataDir, components: list[Component]) -> None:
        self.datadir = datadir
        self.components = components
        self.index = Index(datadir.db_path)
        self.ledger = Ledger(datadir.ledger_path, datadir.lock_path)

    @classmethod
    def open(cls, datadir: DataDir, components: list[Component]) -> Store:
        """Create what is missing, migrate the schema, clean crash debris and catch the index up."""
        datadir.ensure()
        Ledger.init(datadir.ledger_path, datadir.lock_path)
        store = cls(datadir, components)
        with store.ledger.locked():
            store.index.migrate(components)
            store.ledger.recover()
            store.catch_up()
        return store

    @property
    def db(self) -> sqlite_utils.Database:
        return self.index.db

    def write(
        self,
        files: Mapping[str, bytes],
        message: str,
        trailers: Mapping[str, str],
        index: Callable[[sqlite_utils.Database, str], T],
    ) -> tuple[str, T]:
        """Commit `files` to the ledger, then run `index(db, sha)` in one SQLite transaction."""
        with self.ledger.locked():
            previous = self.ledger.head()
            sha = self.ledger.commit(files, message, trailers)
            try:
                with self.index.transaction() as db:
                    result = index(db, sha)
                    Index.set_meta(db, HEAD_KEY, sha)
            except BaseException:
                self.ledger.undo_last(previous)
                raise
        return sha, result

    def catch_up(self) -> CatchUp:
        """Index ledger commits the index has not seen (after a crash or a sync pull)."""
        with self.ledger.locked():
            head = self.ledger.head()
            seen = self.index.get_meta(HEAD_KEY)
            if seen == head:
                return CatchUp(0, 0, False)
            if seen is None or not self.ledger.is_ancestor(seen):
                return self.rebuild()
            files, unknown, errors = self._index_changes(seen, head, clear=False)
            return CatchUp(files, unknown, False, errors)

    def rebuild(self) -> CatchUp:
        """Re-create every ledger-backed row from the ledger alone, in one transaction."""
        with self.ledger.locked():
            head = self.ledger.head()
            files, unknown, errors = self._index_changes(None, head, clear=True)
            return CatchUp(files, unknown, True, errors)

    def _index_changes(self, since: str | None, head: str, clear: bool) -> tuple[int, int, tuple[str, ...]]:
        changes = self.ledger.changes(since)
        kinds = [k for c in self.components for k in c.kinds]
        count = unknown = 0
        errors: list[str] = []
        with self.index.transaction() as db:
            if clear:
                db.execute("PRAGMA defer_foreign_keys=ON")
                for comp in reversed(self.components):
                    for table in comp.ledger_tables:
                        db.execute(f"DELETE FROM [{table}]")
            for change in changes:
                if change.path == "README.md":
                    continue
                kind = next((k for k in kinds if k.matches(change.path)), None)
                if kind is None:
                    unknown += 1
                    continue
                try:
                    db.execute("SAVEPOINT record")
                    kind.index(db, change.path, self.ledger.read(change.path), change.sha)
                    db.execute("RELEASE record")
                    count += 1
                except (ValueError, KeyError, TypeError) as exc:
                    # A hand-edited file that no longer parses: skip it, keep the others.
                    db.execute("ROLLBACK TO record")
                    db.execute("RELEASE record")
                    errors.append(str(exc) if change.path in str(exc) else f"{change.path}: {exc}")
                    log.warning("ledger file not indexed: %s", errors[-1])
            Index.set_meta(db, HEAD_KEY, head)
        if count or unknown:
            log.info("indexed %d ledger files (%d not recognised)", count, unknown)
        return count, unknown, tuple(errors)

    def close(self) -> None:
        self.index.close()
