"""How a capability plugs into the store: its schema migrations and its ledger record kinds.

Each capability in `factorops.tools` declares one `Component`. The store applies every component's
migrations (tracked by id, so components never collide on version numbers) and, when the index must
be caught up or rebuilt from the ledger, hands each ledger file to the kind whose pattern matches it.
The store knows nothing of sessions or patterns: arrows point down.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
