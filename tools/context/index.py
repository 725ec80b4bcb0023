"""The repository index: what is in the user's project, searchable, with token counts cached.

Derived data only (SQLite, never the ledger): rebuilt from the working tree whenever it changes.
Refreshing is incremental by content identity: a tracked file's git blob SHA (or an untracked
file's content hash) says whether anything changed, so an unchanged file is never read, parsed or
tokenized again, and token counts are cached by that identity across renames and branches.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from factorops.store.components import Component, Migration
from factorops.tools.kernel.tokens import DEFAULT_ENCODING, count_many

if TYPE_CHECKING:
    from factorops.store.db import Database

COMPONENT = Component(
    name="repo_index",
    migrations=(
        Migration(
            "repo-001",
            """
            CREATE TABLE repo_files (
                path TEXT PRIMARY KEY,
                content_id TEXT NOT NULL,
                size INTEGER NOT NULL,
                tokens INTEGER NOT NULL,
                lines INTEGER NOT NULL,
                mtime REAL NOT NULL DEFAULT 0
            );
            CREATE VIRTUAL TABLE repo_fts USING fts5(path, symbols, body);
            CREATE TABLE repo_symbols (
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                line INTEGER NOT NULL
            );
            CREATE INDEX repo_symbols_name ON repo_symbols (name);
            CREATE INDEX repo_symbols_path ON repo_symbols (path);
            CREATE TABLE repo_refs (
                path TEXT NOT NULL,
                name TEXT NOT NULL
            );
            CREATE INDEX repo_refs_path ON repo_refs (path);
            CREATE INDEX repo_refs_name ON repo_refs (name);
            CREATE TABLE token_cache (
                content_id TEXT NOT NULL,
                encoding TEXT NOT NULL,
                tokens INTEGER NOT NULL,
                PRIMARY KEY (content_id, encoding)
            ) WITHOUT ROWID;
            """,
        ),
        # Each definition's signature line (redacted), so a repo map reads no file at load time.
        # Emptying the index makes the next refresh re-read every file and fill it in.
        Migration(
            "repo-002",
            """
            ALTER TABLE repo_symbols ADD COLUMN sig TEXT NOT NULL DEFAULT '';
            DELETE FROM repo_fts;
            DELETE FROM repo_files;
            DELETE FROM repo_symbols;
            DELETE FROM repo_refs;
            """,
        ),
    ),
)


@dataclass(frozen=True)
class Entry:
    """One file of the listing: its identity says whether it changed since the last refresh."""

    path: str  # relative, posix
    content_id: str  # git blob sha, or sha256 of the content for untracked files
    size: int
    mtime: float = 0.0


@dataclass(frozen=True)
class Symbols:
    """What a file defines (name, kind, line) and the identifiers it references."""

    defs: Sequence[tuple[str, str, int]] = ()
    refs: Sequence[str] = ()
    sigs: Sequence[str] = ()  # the signature line of each definition, parallel to `defs`


@dataclass
class RefreshStats:
    files: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    tokenized: int = 0
    token_cache_hits: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


Progress = Callable[[int, int, str], None]
Reader = Callable[[str], str | None]  # path -> text, or None when unreadable/binary
SymbolFn = Callable[[str, str], Symbols]  # (path, text) -> Symbols

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def split_identifier(name: str) -> list[str]:
    """`HttpClient` -> [http, client]; `retry_request` -> [retry, request]."""
    parts: list[str] = []
    for chunk in re.split(r"[_\W]+", name):
        parts.extend(p.lower() for p in _CAMEL.split(chunk) if p)
    return parts


def _symbol_text(path: str, symbols: Symbols) -> str:
    words: list[str] = []
    for name, _kind, _line in symbols.defs:
        words.append(name)
        words.extend(split_identifier(name))
    words.extend(split_identifier(Path(path).stem))
    return " ".join(dict.fromkeys(words))


def refresh(
    db: Database,
    entries: Iterable[Entry],
    read: Reader,
    symbols_of: SymbolFn,
    encoding: str = DEFAULT_ENCODING,
    progress: Progress | None = None,
    batch: int = 200,
) -> RefreshStats:
    """Bring the index in line with `entries`; only new or changed files are read and tokenized."""
    stats = RefreshStats()
    listing = {e.path: e for e in entries}
    stats.files = len(listing)
    known = dict(db.execute("SELECT path, content_id FROM repo_files").fetchall())
    todo = [e for p, e in listing.items() if known.get(p) != e.content_id]
    gone = [p for p in known if p not in listing]
    stats.unchanged = len(listing) - len(todo)
    total = len(todo)
    conn = db.conn
    if gone:
        with _immediate(conn):
            for p in gone:
                _delete(conn, p)
        stats.removed = len(gone)
    for start in range(0, total, batch):
        chunk = todo[start : start + batch]
        texts: dict[str, str] = {}
        for e in chunk:
            text = read(e.path)
            if text is None:
                stats.skipped[e.path] = "unreadable or binary"
                continue
            texts[e.path] = text
        ids = {e.path: e.content_id for e in chunk if e.path in texts}
        cached = _cached_tokens(db, set(ids.values()), encoding)
        need = [p for p in texts if ids[p] not in cached]
        counts = dict(zip(need, count_many([texts[p] for p in need], encoding), strict=True))
        stats.tokenized += len(need)
        stats.token_cache_hits += len(texts) - len(need)
        with _immediate(conn):
            for e in chunk:
                if e.path not in texts:
                    continue
                text = texts[e.path]
                tokens = cached.get(e.content_id, counts.get(e.path, 0))
                if e.path in counts:
                    conn.execute(
                        "INSERT OR REPLACE INTO token_cache (content_id, encoding, tokens) VALUES (?, ?, ?)",
                        [e.content_id, encoding, tokens],
                    )
                if e.path in known:
                    stats.changed += 1
                else:
                    stats.added += 1
                # Unconditionally: another call may have indexed this file since `known` was read.
                _delete(conn, e.path)
                syms = symbols_of(e.path, text)
                conn.execute(
                    "INSERT INTO repo_files (path, content_id, size, tokens, lines, mtime) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        e.path,
                        e.content_id,
                        e.size if e.size >= 0 else len(text),
                        tokens,
                        text.count("\n") + 1,
                        e.mtime,
                    ],
                )
                conn.execute(
                    "INSERT INTO repo_fts (rowid, path, symbols, body) VALUES "
                    "((SELECT rowid FROM repo_files WHERE path = ?), ?, ?, ?)",
                    [
                        e.path,
                        " ".join(split_identifier(e.path)) + " " + e.path,
                        _symbol_text(e.path, syms),
                        text,
                    ],
                )
                sigs = list(syms.sigs) + [""] * (len(syms.defs) - len(syms.sigs))
                conn.executemany(
                    "INSERT INTO repo_symbols (path, name, kind, line, sig) VALUES (?, ?, ?, ?, ?)",
                    [(e.path, n, k, ln, sig) for (n, k, ln), sig in zip(syms.defs, sigs, strict=False)],
                )
                conn.executemany(
                    "INSERT INTO repo_refs (path, name) VALUES (?, ?)", [(e.path, r) for r in set(syms.refs)]
                )
        if progress:
            progress(min(start + batch, total), total, f"indexed {min(start + batch, total)}/{total} files")
    return stats


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction per batch. The connection is in autocommit mode, where `with conn:`
    begins nothing; BEGIN IMMEDIATE makes a batch atomic and serialises concurrent refreshes
    (two context_load calls at once), which otherwise collide on repo_files' unique path."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _delete(conn: object, path: str) -> None:
    c = conn  # sqlite3.Connection
    row = c.execute("SELECT rowid FROM repo_files WHERE path = ?", [path]).fetchone()  # type: ignore[attr-defined]
    if row is not None:
        c.execute("DELETE FROM repo_fts WHERE rowid = ?", [row[0]])  # type: ignore[attr-defined]
    c.execute("DELETE FROM repo_files WHERE path = ?", [path])  # type: ignore[attr-defined]
    c.execute("DELETE FROM repo_symbols WHERE path = ?", [path])  # type: ignore[attr-defined]
    c.execute("DELETE FROM repo_refs WHERE path = ?", [path])  # type: ignore[attr-defined]


def _cached_tokens(db: Database, ids: set[str], encoding: str) -> dict[str, int]:
    if not ids:
        return {}
    out: dict[str, int] = {}
    id_list = list(ids)
    for i in range(0, len(id_list), 500):
        part = id_list[i : i + 500]
        marks = ",".join("?" * len(part))
        rows = db.execute(
            f"SELECT content_id, tokens FROM token_cache WHERE encoding = ? AND content_id IN ({marks})",
            [encoding, *part],
        ).fetchall()
        out.update({r[0]: int(r[1]) for r in rows})
    return out


def cached_count(db: Database, content_id: str, text: str, encoding: str) -> tuple[int, bool]:
    """Token count of one text by identity, from the cache when possible; returns (count, was_cached)."""
    row = db.execute(
        "SELECT tokens FROM token_cache WHERE content_id = ? AND encoding = ?", [content_id, encoding]
    ).fetchone()
    if row is not None:
        return int(row[0]), True
    n = count_many([text], encoding)[0]
    db.execute(
        "INSERT OR REPLACE INTO token_cache (content_id, encoding, tokens) VALUES (?, ?, ?)",
        [content_id, encoding, n],
    )
    return n, False
