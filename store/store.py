"""The store facade: one durable write = one ledger commit + one SQLite transaction.

Order matters for crash safety. The ledger (the truth) is committed first, then the index row is
written in a transaction that also records the ledger head it reflects. A process killed between the
two leaves the index one commit behind; the next `Store.open` sees that the recorded head differs
from git's HEAD and indexes the missing files ("catch-up"). If the SQLite side fails in a live
process, the ledger commit is undone, so no half-written record survives.

Lifecycle: `Store.open` creates what is missing (when asked), migrates the schema, and by default
`repair`s (removes only our own crash debris; a person's edits in the ledger are kept and reported)
and `catch_up`s. `factorops doctor` opens with neither, `inspect`s first, and repairs only with
`--fix`. A store is a context manager: `with Store.open(...) as store:` closes it.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar, cast

from factorops.store.components import Component, LazyComponents
from factorops.store.datadir import DataDir
from factorops.store.db import Index
from factorops.store.errors import StorageError, unusable_datadir, unusable_index
from factorops.store.ledger import Ledger, LedgerStatus

if TYPE_CHECKING:
    from factorops.store.db import Database

log = logging.getLogger("factorops.store")

T = TypeVar("T")
HEAD_KEY = "ledger_head"


@dataclass(frozen=True)
class CatchUp:
    files: int
    unknown: int
    full_rebuild: bool
    errors: tuple[str, ...] = ()  # ledger files that could not be read (e.g. broken hand edits)


@dataclass(frozen=True)
class Health:
    """What `inspect` found, without changing anything."""

    ledger_head: str
    index_head: str | None  # the ledger head the index reflects (None: never indexed)
    ledger: LedgerStatus

    @property
    def index_behind(self) -> bool:
        return self.index_head != self.ledger_head


OnCreate = Callable[["Store"], None]


def _probe_writable(datadir: DataDir) -> None:
    """Raise the data dir's own error if a file cannot be created in it (SQLite only says "unable
    to open database file"; permission bits do not stop root, a read-only mount does)."""
    try:
        with tempfile.TemporaryFile(dir=datadir.path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise unusable_datadir(datadir.path, exc) from exc


class Store:
    def __init__(self, datadir: DataDir, components: Sequence[Component]) -> None:
        self.datadir = datadir
        self.components = components
        self.index = Index(datadir.db_path)
        self.ledger = Ledger(datadir.ledger_path, datadir.lock_path)
        self.created = False  # whether `open` created the ledger
        # Data derived from this store (compiled guardrails, the metrics event buffer, the search's
        # row postings), by owner: kept with the data it comes from, so it goes with the store and
        # never outlives it (`close` closes each value that has a `close`).
        self._derived: dict[str, tuple[object, object]] = {}
        self._derived_lock = threading.RLock()

    @classmethod
    def open(
        cls,
        datadir: DataDir,
        components: Sequence[Component],
        *,
        create: bool = True,
        repair: bool = True,
        catch_up: bool = True,
        on_create: OnCreate | None = None,
    ) -> Store:
        """Open a project's store: create it if missing (when `create`), migrate the schema, then
        `repair` and `catch_up` unless told not to.

        `components` may be `LazyComponents`: when the index has applied every migration they
        name (one query), none of them is imported here; the first catch-up, rebuild or migration
        that needs them loads them all.

        `on_create(store)` runs once, under the ledger lock, right after this call created the data
        dir, so a second process opening the same new project waits for it (the domain uses it to
        install the starter guardrails exactly as `factorops init` does).

        Every failure to use the data dir is a `StorageError` saying what to do.
        """
        if not create and not datadir.exists():
            raise StorageError(
                f"no factorops data in {datadir.path}; run `factorops init --project {datadir.root}` first"
            )
        try:
            datadir.ensure()
        except OSError as exc:
            raise unusable_datadir(datadir.path, exc) from exc
        store = cls(datadir, components)
        try:
            with store.ledger.locked():
                store.created = store.ledger.create()
                try:
                    if not store.schema_current():
                        store.index.migrate(components)
                except sqlite3.DatabaseError as exc:
                    _probe_writable(datadir)  # a read-only data dir is not a damaged index
                    raise unusable_index(datadir.db_path, exc) from exc
                if repair:
                    store.repair()
                    store.upgrade_ledger()
                if catch_up:
                    store.catch_up()
                if store.created and on_create is not None:
                    on_create(store)
        except StorageError:
            store.close()
            raise
        except OSError as exc:
            store.close()
            raise unusable_datadir(datadir.path, exc) from exc
        except BaseException:
            store.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def schema_current(self) -> bool:
        """Whether the index has applied every migration of `LazyComponents`, asked in one query
        (no write lock, no component imported). False for a plain list (`migrate` checks it) and
        for an index without the migrations table yet."""
        if not isinstance(self.components, LazyComponents) or self.components.loaded:
            return False
        try:
            rows = self.index.db.execute("SELECT id FROM schema_migrations").fetchall()
        except sqlite3.OperationalError:  # a new index: no table yet
            return False
        return self.components.migration_ids <= {row[0] for row in rows}

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def repair(self) -> LedgerStatus:
        """Remove our own crash debris from the ledger (never a person's edits, which are reported)."""
        with self.ledger.locked():
            return self.ledger.recover()

    def upgrade_ledger(self) -> None:
        """Bring a ledger made by an older factorops to the current layout and git settings
        (sharded record folders, split index; see `Ledger.shard_flat`, `Ledger.tune`). A ledger
        that cannot be changed (read-only) still opens: it works, only slower."""
        try:
            self.ledger.tune()
            self.ledger.shard_flat()
        except (StorageError, OSError) as exc:
            log.warning("could not bring the ledger %s to the sharded layout: %s", self.ledger.path, exc)

    def inspect(self) -> Health:
        """The ledger's state and how far the index is behind it; changes nothing."""
        return Health(self.ledger.head(), self.index.get_meta(HEAD_KEY), self.ledger.status())

    def verify_records(self) -> tuple[str, ...]:
        """Index every committed ledger record into a scratch database; the ones that fail.

        The real index is left alone (doctor inspects before it repairs), so this works even when
        the index is behind or damaged.
        """
        with tempfile.TemporaryDirectory(prefix="factorops-verify-") as tmp:
            scratch = Store.__new__(Store)
            scratch.datadir = self.datadir
            scratch.components = self.components
            scratch.ledger = self.ledger
            scratch.index = Index(Path(tmp) / "verify.db")
            scratch.created = False
            try:
                scratch.index.migrate(self.components)
                with self.ledger.locked():
                    _, _, errors = scratch._index_changes(None, self.ledger.head(), clear=True)
            finally:
                scratch.index.close()
        return errors

    @property
    def db(self) -> Database:
        return self.index.db

    def write(
        self,
        files: Mapping[str, bytes],
        message: str,
        trailers: Mapping[str, str],
        index: Callable[[Database, str], T],
    ) -> tuple[str, T]:
        """Commit `files` to the ledger, then run `index(db, sha)` in one SQLite transaction."""
        return self.write_checked(lambda _db: files, message, trailers, index)

    def write_checked(
        self,
        prepare: Callable[[Database], Mapping[str, bytes]],
        message: str,
        trailers: Mapping[str, str],
        index: Callable[[Database, str], T],
    ) -> tuple[str, T]:
        """Read-modify-write under the ledger lock: `prepare(db)` sees the latest indexed state
        (every live writer indexes before it lets the lock go) and returns the files to commit, or
        raises (a DomainError: "already decided", "session ended") to refuse without writing.

        Use it whenever the new record depends on the current one (status changes, evidence
        counts, a checkpoint that must come before the session's end): deciding outside the lock
        lets a concurrent writer's change be silently overwritten or a refused state slip in.
        """
        with self.ledger.locked():
            files = prepare(self.db)
            previous = self.ledger.head()
            sha = self.ledger.commit(files, message, trailers)
            try:
                with self.index.transaction() as db:
                    result = index(db, sha)
                    Index.set_meta(db, HEAD_KEY, sha)
            except BaseException:
                self.ledger.undo_last(previous, list(files))
                raise
        return sha, result

    def derived(self, key: str, version: object, build: Callable[[], T]) -> T:
        """The value `build()` made from this store's data under `key`, made again when `version`
        (e.g. a counter its writers bump) differs from the one it was made at. Built under a lock, so
        concurrent callers get the same object."""
        with self._derived_lock:
            hit = self._derived.get(key)
            if hit is not None and hit[0] == version:
                return cast(T, hit[1])
            value = build()
            self._derived[key] = (version, value)
            return value

    def kept(self, key: str) -> object | None:
        """What `derived` keeps under `key`, without building it (None when there is nothing)."""
        with self._derived_lock:
            hit = self._derived.get(key)
        return None if hit is None else hit[1]

    def forget(self, key: str) -> object | None:
        """Drop what `derived` keeps under `key`; returns it (None when there was nothing)."""
        with self._derived_lock:
            hit = self._derived.pop(key, None)
        return None if hit is None else hit[1]

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
            bulk = ExitStack()  # a rebuild: components that write derived rows at the end
            if clear:
                db.execute("PRAGMA defer_foreign_keys=ON")
                for comp in reversed(self.components):
                    for table in comp.ledger_tables:
                        db.execute(f"DELETE FROM [{table}]")
                for comp in self.components:
                    if comp.bulk is not None:
                        bulk.enter_context(comp.bulk(db))
            with bulk:
                for change in changes:
                    if change.path == "README.md":
                        continue
                    kind = next((k for k in kinds if k.matches(change.path)), None)
                    if kind is None:
                        unknown += 1
                        continue
                    try:
                        with self.index.transaction():  # a savepoint: a file that fails leaves no rows
                            kind.index(
                                db, change.path, self.ledger.read_committed(head, change.path), change.sha
                            )
                        count += 1
                    except (ValueError, KeyError, TypeError) as exc:
                        # A hand-edited file that no longer parses: skip it, keep the others.
                        errors.append(str(exc) if change.path in str(exc) else f"{change.path}: {exc}")
                        log.warning("ledger file not indexed: %s", errors[-1])
            Index.set_meta(db, HEAD_KEY, head)
        if count or unknown:
            log.info("indexed %d ledger files (%d not recognised)", count, unknown)
        return count, unknown, tuple(errors)

    def close(self) -> None:
        with self._derived_lock:
            derived = [value for _, value in self._derived.values()]
            self._derived.clear()
        for value in derived:  # what works in the background on this store's data stops first
            stop = getattr(value, "close", None)
            if callable(stop):
                stop()
        self.ledger.close()  # waits for its background packer: no git process of ours left behind
        self.index.close()
