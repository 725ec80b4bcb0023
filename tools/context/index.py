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
from typing import TYPE_CHECKING, NamedTuple

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
        # How many files define each name: edges of the reference graph use only names defined in
        # few files (a bare `get` or `url` defined everywhere would join most of a repository).
        # Kept up to date by `refresh`, so a warm load reads it instead of grouping all symbols.
        Migration(
            "repo-003",
            """
            CREATE TABLE repo_names (
                name TEXT PRIMARY KEY,
                files INTEGER NOT NULL
            ) WITHOUT ROWID;
            INSERT INTO repo_names (name, files)
                SELECT name, COUNT(DISTINCT path) FROM repo_symbols GROUP BY name;
            """,
        ),
    ),
)

GENERATION_KEY = "repo_index_generation"


def generation(db: Database) -> int:
    """A number every refresh that changes the index bumps (in the same transaction), so caches
    derived from the index (the known paths, per process) know when they are stale, even when
    another process refreshed it."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [GENERATION_KEY]).fetchone()
    return int(row[0]) if row else 0


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = value + 1",
        [GENERATION_KEY],
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
    estimated: int = 0  # token counts estimated from the size (a bulk first index)
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


class Prepared(NamedTuple):
    """One file read, parsed and (when asked) tokenized, with its rows built: the work a refresh
    spreads over processes, so the writing process only inserts (a first index's parent process
    is its bottleneck). A tuple: it crosses from a worker process pickled."""

    path: str
    text: str | None  # None: unreadable or binary
    tokens: int  # -1: not counted (the token cache has it)
    lines: int = 0
    fts_path: str = ""  # the path's words and the path, for the full-text index
    fts_symbols: str = ""  # the defined names and their words
    symbol_rows: list[tuple[str, str, str, int, str]] = []  # repo_symbols: path, name, kind, line, sig
    ref_rows: list[tuple[str, str]] = []  # repo_refs: path, name (each name once)
    name_rows: list[tuple[str]] = []  # the names it defines, each once (repo_names)


def prepared(path: str, text: str | None, tokens: int, symbols: Symbols) -> Prepared:
    if text is None:
        return Prepared(path, None, tokens)
    sigs = list(symbols.sigs) + [""] * (len(symbols.defs) - len(symbols.sigs))
    return Prepared(
        path,
        text,
        tokens,
        text.count("\n") + 1,
        " ".join(split_identifier(path)) + " " + path,
        _symbol_text(path, symbols),
        [(path, n, k, ln, sig) for (n, k, ln), sig in zip(symbols.defs, sigs, strict=False)],
        [(path, r) for r in dict.fromkeys(symbols.refs)],
        [(n,) for n in dict.fromkeys(n for n, _k, _ln in symbols.defs)],
    )


Prepare = Callable[[list[tuple[Entry, bool]]], list[Prepared]]  # (entry, count tokens?) per file
MapFn = Callable[[Prepare, Iterable[list[tuple[Entry, bool]]]], Iterable[list[Prepared]]]


def serial_prepare(read: Reader, symbols_of: SymbolFn, encoding: str = DEFAULT_ENCODING) -> Prepare:
    """A `Prepare` from a reader and a symbol function, run in this process."""

    def prepare(chunk: list[tuple[Entry, bool]]) -> list[Prepared]:
        out: list[Prepared] = []
        for e, _count in chunk:
            text = read(e.path)
            out.append(
                prepared(e.path, text, -1, symbols_of(e.path, text) if text is not None else Symbols())
            )
        need = [i for i, (p, (_e, c)) in enumerate(zip(out, chunk, strict=True)) if c and p.text is not None]
        counts = count_many([out[i].text or "" for i in need], encoding)
        for i, n in zip(need, counts, strict=True):
            out[i] = out[i]._replace(tokens=n)
        return out

    return prepare


def refresh(
    db: Database,
    entries: Iterable[Entry],
    read: Reader | None = None,
    symbols_of: SymbolFn | None = None,
    encoding: str = DEFAULT_ENCODING,
    progress: Progress | None = None,
    batch: int = 200,
    prepare: Prepare | None = None,
    map_fn: MapFn | None = None,
    listing_done: Callable[[int], None] | None = None,
    known: dict[str, str] | None = None,
) -> RefreshStats:
    """Bring the index in line with `entries`; only new or changed files are read and tokenized.

    Files are prepared (read, parsed, tokenized) by `prepare` in chunks of `batch`, through `map_fn`
    (e.g. a process pool's ordered map; default: here, one chunk after another), and each chunk is
    written in one transaction as it arrives, so a reader sees the index grow chunk by chunk.
    `listing_done(n)` is told how many files need work before any is prepared. `known` (path ->
    content id of the index, when the caller has it cached) saves reading it."""
    if prepare is None:
        if read is None or symbols_of is None:
            raise ValueError("refresh needs `prepare`, or `read` and `symbols_of`")
        prepare = serial_prepare(read, symbols_of, encoding)
    stats = RefreshStats()
    listing = {e.path: e for e in entries}
    stats.files = len(listing)
    if known is None:
        known = dict(db.execute("SELECT path, content_id FROM repo_files").fetchall())
    todo = [e for p, e in listing.items() if known.get(p) != e.content_id]
    gone = [p for p in known if p not in listing]
    stats.unchanged = len(listing) - len(todo)
    total = len(todo)
    if listing_done is not None:
        listing_done(total)
    conn = db.conn
    if gone:
        with _immediate(conn):
            _delete_many(conn, gone)
            _bump(conn)
        stats.removed = len(gone)
    if not todo:
        return stats
    cached = _cached_tokens(db, {e.content_id for e in todo}, encoding)
    bulk = not known and total >= BULK_FROM
    # A bulk first index estimates token counts from the size: counting exactly would be a quarter
    # of its work. Files indexed later are counted exactly, and so is any file counted on its own.
    chunks = [
        [(e, not bulk and e.content_id not in cached) for e in todo[start : start + batch]]
        for start in range(0, total, batch)
    ]
    if bulk:  # a first index: the by-name indexes are built once at the end, not row by row
        with _immediate(conn):
            for name, _on in NAME_INDEXES:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
            _fts_automerge(conn, 0)
    else:
        ensure_name_indexes(conn)  # a first index that was killed half-way left them out
    try:
        results = (map_fn or map)(prepare, chunks)
        done = 0
        for chunk, prepared in zip(chunks, results, strict=True):
            _write_chunk(conn, chunk, prepared, known, cached, encoding, stats)
            done += len(chunk)
            if progress:
                progress(done, total, f"indexed {done}/{total} files")
    finally:
        if bulk:
            ensure_name_indexes(conn)
    return stats


# FTS5 merges its segments as rows arrive (automerge, default 4). A bulk first index turns that off
# while it inserts (crisis merges still bound the segments): on 10,000 real files the parent's writes
# took ~10% less CPU, and searches gave the same rows in the same bm25 order. It is turned back on
# after the last chunk, and by the next refresh if a first index was killed half-way.
FTS_AUTOMERGE = 4


def _fts_automerge(conn: sqlite3.Connection, level: int) -> None:
    conn.execute("INSERT INTO repo_fts (repo_fts, rank) VALUES ('automerge', ?)", (level,))


BYTES_PER_TOKEN = 4  # o200k on code: ~4.4 bytes a token (10,000 real Python files: p10 0.85x, p90 1.2x)


def estimate_from_size(size: int) -> int:
    """A file's token count from its size, for a bulk first index: free, close on code and low
    rather than high on text that tokenizes densely (so a load still tries a file whole, and
    measures it). Not cached: the exact count replaces it when the file is indexed again."""
    return -(-size // BYTES_PER_TOKEN)


# Maintained row by row, these two cost most of a first index's inserts (names arrive in no order);
# built once over the finished tables they cost a fraction. Lookups by path keep their indexes, so
# the per-chunk deletes and a load arriving during the build stay fast.
NAME_INDEXES = (
    ("repo_symbols_name", "repo_symbols (name)"),
    ("repo_refs_name", "repo_refs (name)"),
)
BULK_FROM = 400  # files of a first index from which the name indexes are built after the rows


def ensure_name_indexes(conn: sqlite3.Connection) -> None:
    """The by-name indexes, and FTS merging back on, after a bulk first index (or one killed)."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()}
    missing = [(name, on) for name, on in NAME_INDEXES if name not in have]
    merge_off = conn.execute("SELECT 1 FROM repo_fts_config WHERE k = 'automerge' AND v = 0").fetchone()
    if missing or merge_off:
        with _immediate(conn):
            for name, on in missing:
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
            if merge_off:
                _fts_automerge(conn, FTS_AUTOMERGE)


def _write_chunk(
    conn: sqlite3.Connection,
    chunk: list[tuple[Entry, bool]],
    prepared: list[Prepared],
    known: dict[str, str],
    cached: dict[str, int],
    encoding: str,
    stats: RefreshStats,
) -> None:
    """One chunk in one transaction, with batched statements."""
    token_rows: list[tuple[str, str, int]] = []
    fts_rows: list[tuple[int, str, str, str]] = []
    sym_rows: list[tuple[str, str, str, int, str]] = []
    ref_rows: list[tuple[str, str]] = []
    name_rows: list[tuple[str]] = []
    file_rows: list[tuple[int, str, str, int, int, int, float]] = []
    with _immediate(conn):
        # Unconditionally: another process may have indexed these files since `known` was read.
        _delete_many(conn, [e.path for e, _c in chunk])
        # Row ids given here (the write lock is held), so the files go in with one executemany too.
        rowid = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM repo_files").fetchone()[0])
        for (e, _count), got in zip(chunk, prepared, strict=True):
            text = got.text
            if text is None:
                stats.skipped[e.path] = "unreadable or binary"
                continue
            if got.tokens >= 0:
                tokens = got.tokens
                token_rows.append((e.content_id, encoding, tokens))
                stats.tokenized += 1
            elif e.content_id in cached:
                tokens = cached[e.content_id]
                stats.token_cache_hits += 1
            else:
                tokens = estimate_from_size(e.size if e.size >= 0 else len(text.encode()))
                stats.estimated += 1
            if e.path in known:
                stats.changed += 1
            else:
                stats.added += 1
            rowid += 1
            file_rows.append(
                (
                    rowid,
                    e.path,
                    e.content_id,
                    e.size if e.size >= 0 else len(text),
                    tokens,
                    got.lines,
                    e.mtime,
                )
            )
            fts_rows.append((rowid, got.fts_path, got.fts_symbols, text))
            sym_rows.extend(got.symbol_rows)
            name_rows.extend(got.name_rows)
            ref_rows.extend(got.ref_rows)
        conn.executemany(
            "INSERT INTO repo_files (rowid, path, content_id, size, tokens, lines, mtime) VALUES (?, ?, ?, ?, ?, ?, ?)",
            file_rows,
        )
        conn.executemany(
            "INSERT OR REPLACE INTO token_cache (content_id, encoding, tokens) VALUES (?, ?, ?)", token_rows
        )
        conn.executemany("INSERT INTO repo_fts (rowid, path, symbols, body) VALUES (?, ?, ?, ?)", fts_rows)
        conn.executemany(
            "INSERT INTO repo_symbols (path, name, kind, line, sig) VALUES (?, ?, ?, ?, ?)", sym_rows
        )
        conn.executemany("INSERT INTO repo_refs (path, name) VALUES (?, ?)", ref_rows)
        conn.executemany(
            "INSERT INTO repo_names (name, files) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET files = files + 1",
            name_rows,
        )
        _bump(conn)


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


def _delete_many(conn: sqlite3.Connection, paths: list[str]) -> None:
    """Remove files from every index table, and their definitions from the per-name file counts."""
    for i in range(0, len(paths), 500):
        part = paths[i : i + 500]
        marks = ",".join("?" * len(part))
        names = conn.execute(
            f"SELECT DISTINCT path, name FROM repo_symbols WHERE path IN ({marks})", part
        ).fetchall()
        conn.executemany("UPDATE repo_names SET files = files - 1 WHERE name = ?", [(n,) for _p, n in names])
        if names:
            conn.execute("DELETE FROM repo_names WHERE files <= 0")
        conn.execute(
            f"DELETE FROM repo_fts WHERE rowid IN (SELECT rowid FROM repo_files WHERE path IN ({marks}))",
            part,
        )
        conn.execute(f"DELETE FROM repo_files WHERE path IN ({marks})", part)
        conn.execute(f"DELETE FROM repo_symbols WHERE path IN ({marks})", part)
        conn.execute(f"DELETE FROM repo_refs WHERE path IN ({marks})", part)


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
