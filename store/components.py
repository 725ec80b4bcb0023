"""How a capability plugs into the store: its schema migrations and its ledger record kinds.

Each capability in `factorops.tools` declares one `Component`. The store applies every component's
migrations (tracked by id, so components never collide on version numbers) and, when the index must
be caught up or rebuilt from the ledger, hands each ledger file to the kind whose pattern matches it.
The store knows nothing of sessions or patterns: arrows point down.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from factorops.store.db import Database


@dataclass(frozen=True)
class Migration:
    """One schema step; `id` is unique across all components (e.g. "sessions-001")."""

    id: str
    sql: str


# index(db, ledger_path, file_bytes, commit_sha) -> None; must be idempotent (upsert), because
# catch-up may hand it a file it already indexed.
Indexer = Callable[["Database", str, bytes, str], None]


@dataclass(frozen=True)
class RecordKind:
    """A family of ledger files (matched by a regex on the ledger-relative path) and its indexer."""

    name: str
    path_regex: str
    index: Indexer

    def matches(self, path: str) -> bool:
        return re.fullmatch(self.path_regex, path) is not None


@dataclass(frozen=True)
class Component:
    name: str
    migrations: tuple[Migration, ...] = ()
    kinds: tuple[RecordKind, ...] = ()
    # Tables whose rows come from the ledger (or are derived from those rows): emptied, children
    # last in this order, before a rebuild re-indexes the ledger. Tables of SQLite-only data, such
    # as metrics events, are left out so a rebuild keeps them.
    ledger_tables: tuple[str, ...] = field(default_factory=tuple)
    # A rebuild indexes every ledger file inside `bulk(db)` (in its transaction), so a component
    # can write what it derives once at the end instead of row by row.
    bulk: Callable[[Database], AbstractContextManager[None]] | None = None


class LazyComponents(Sequence[Component]):
    """The components, imported when first used; `migration_ids` names, without importing them,
    every migration they declare.

    An index whose applied migrations already include all of `migration_ids` opens without loading
    any capability (`Store.open`): a server's first tool call then imports only its own
    implementation, not every capability's module (start-up, issue #19). A catch-up, a rebuild or
    a migration loads them all, in order. `tools/registry.py` keeps the ids; a test holds them equal
    to the components' own.
    """

    def __init__(self, load: Callable[[], list[Component]], migration_ids: Iterable[str]) -> None:
        self._load = load
        self._items: list[Component] | None = None
        self._lock = threading.Lock()
        self.migration_ids = frozenset(migration_ids)

    @property
    def loaded(self) -> bool:
        return self._items is not None

    def _all(self) -> list[Component]:
        if self._items is None:
            with self._lock:
                if self._items is None:
                    self._items = self._load()
        return self._items

    @overload
    def __getitem__(self, i: int) -> Component: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Component]: ...

    def __getitem__(self, i: int | slice) -> Component | Sequence[Component]:
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Component]:
        return iter(self._all())
