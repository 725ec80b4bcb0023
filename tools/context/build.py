"""Building the repository index for `context_load`: listing, reading, parsing and tokenizing the
project's files (spread over worker processes for a big refresh), while loads that arrive meanwhile
answer from what is indexed so far.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from factorops.store.store import Store
from factorops.tools.kernel import paths as path_guard
from factorops.tools.kernel import redact as secrets

from . import files as project_files
from . import outline as outline_mod
from . import repo_map
from .index import Entry, Prepared, Symbols, ensure_name_indexes, generation, refresh, serial_prepare

# -- the index -------------------------------------------------------------------------------------


ProgressFn = Callable[[int, int, str], None]
_UNINDEXABLE: set[str] = set()
PARALLEL_FROM = 400  # files to (re)index before a refresh spreads the work over processes
WORKERS = max(1, min(2, os.cpu_count() or 1))
CHUNK = 100  # files per chunk: one task for a worker, one write transaction


@dataclass
class _Build:
    """A refresh under way in this process: how far it got, for loads that arrive meanwhile."""

    total: int = -1  # files to index; -1 while the working tree is still being listed
    done: int = 0
    indexed_before: int = 0


_builds: dict[str, _Build] = {}  # by index path
_builds_lock = threading.Condition()
_build_locks: dict[str, threading.Lock] = {}

# Called after each chunk a refresh writes, with (done, total), in the refreshing thread. For tests:
# pausing here holds a build half-way, deterministically.
after_chunk: Callable[[int, int], None] | None = None


def _read_file(root: Path, rel: str) -> str | None:
    try:
        path = path_guard.project_file(root, rel)  # whole path: inside the root, not a secret
        if path.stat().st_size > project_files.MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except (OSError, path_guard.PathRefused):
        return None
    return _decoded(data)


def _decoded(data: bytes) -> str | None:
    if b"\0" in data[:8192]:
        return None  # binary
    text = data.decode("utf-8", errors="replace")
    return None if secrets.is_secret_content(text) else text  # a key file, kubeconfig, tfstate


def _symbols_of(rel: str, text: str) -> Symbols:
    defs, refs = outline_mod.symbols(rel, text)
    lines = text.splitlines()
    sigs = [repo_map.signature(lines, line) for _n, _k, line in defs]
    if sigs:  # redacted once, here: the repo map shows them as stored
        joined, _found = secrets.redact("\n".join(sigs))
        redacted = joined.split("\n")
        sigs = redacted if len(redacted) == len(sigs) else [""] * len(sigs)
    return Symbols(defs=defs, refs=refs, sigs=sigs)


def _reader(root: Path) -> Callable[[str], str | None]:
    """`_read_file` for the files of one chunk, with each directory resolved once: resolving every
    file's whole path (a stat per component) was a tenth of a first index. A file whose directory
    is itself (no link on the way) and that is no link itself (opened with O_NOFOLLOW) has the
    real path it is listed by, so `_read_file`'s checks reduce to the secret-name one; anything
    else (a link, an error) goes through `_read_file` in full."""
    real_root = root.resolve()
    plain: dict[str, bool] = {}  # directory -> it resolves to itself inside the root

    def read(rel: str) -> str | None:
        folder = rel.rpartition("/")[0]
        ok = plain.get(folder)
        if ok is None:
            where = os.path.join(real_root, folder) if folder else str(real_root)
            ok = plain[folder] = os.path.realpath(where) == where
        if not ok or secrets.is_secret_path(rel):
            return _read_file(root, rel)
        try:
            fd = os.open(os.path.join(real_root, rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:  # a link (ELOOP), gone, unreadable: the full checks say which
            return _read_file(root, rel)
        try:
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_size > project_files.MAX_FILE_BYTES:
                    return None  # a FIFO or device is no file to index
                data = f.read()
        except OSError:
            return None
        return _decoded(data)

    return read


def _prepare_chunk(root: str, chunk: list[tuple[Entry, bool]]) -> list[Prepared]:
    """Read, parse and tokenize one chunk (in a worker process for a big refresh)."""
    return serial_prepare(_reader(Path(root)), _symbols_of)(chunk)


def _pool_map(pool: ProcessPoolExecutor) -> Callable[..., Iterator[list[Prepared]]]:
    def map_fn(
        fn: Callable[..., list[Prepared]], chunks: Iterable[list[tuple[Entry, bool]]]
    ) -> Iterator[list[Prepared]]:
        return pool.map(fn, chunks)

    return map_fn


def build_status(store: Store) -> str | None:
    """A warning when this process is indexing the project and a load answers from part of it."""
    with _builds_lock:
        b = _builds.get(str(store.datadir.db_path))
        if b is None:
            return None
        total, done, before = b.total, b.done, b.indexed_before
    if total < 0:
        return "the project index is being built (listing files); this answer uses the files indexed so far"
    return (
        f"the project index is being built: {done} of {total} files to index are done "
        f"({before + done} files indexed in all); this answer uses only those, ask again when it is done"
    )


def ensure_index(
    store: Store,
    progress: ProgressFn | None = None,
    wait: bool = True,
    listing: tuple[int, project_files.Listing] | None = None,
) -> str | None:
    """Refresh the repository index against the working tree (incremental; cheap when warm).

    One refresh at a time per index in this process. With `wait=False`, a call arriving while
    another thread is building the index does not wait for it: it returns a warning saying how much
    is indexed (the caller answers from that); otherwise it returns None. `listing`: (the index
    generation when it began, the working tree's listing) taken by the caller meanwhile; used only
    if the index has not changed since (else an older listing could undo a newer refresh)."""
    key = str(store.datadir.db_path)
    with _builds_lock:
        lock = _build_locks.setdefault(key, threading.Lock())
    while not lock.acquire(timeout=0.05):
        if not wait and key in _builds:
            warning = build_status(store)
            if warning is not None:
                return warning
    try:
        _refresh(store, key, progress, listing)
    finally:
        with _builds_lock:
            _builds.pop(key, None)
        lock.release()
    return None


def _refresh(
    store: Store, key: str, progress: ProgressFn | None, given: tuple[int, project_files.Listing] | None
) -> None:
    root = store.datadir.root
    with _builds_lock:
        _builds[key] = state = _Build()
    if given is not None and given[0] == generation(store.db):
        listing = given[1]
    else:
        listing = project_files.list_files(root)
    ensure_name_indexes(store.db.conn)  # a first index killed before it built them left them out
    if _unchanged(listing, _known(store)):
        return  # the warm path: nothing to build, not even the entries
    entries = [
        Entry(f.path, f.content_id, f.size, f.mtime)
        for f in listing.files
        if f.content_id not in _UNINDEXABLE
    ]

    def listing_done(total: int) -> None:
        state.indexed_before = store.db.execute("SELECT COUNT(*) FROM repo_files").fetchone()[0]
        state.total = total

    def on_chunk(done: int, total: int, message: str) -> None:
        state.done = done
        if progress is not None:
            progress(done, total, message)
        if after_chunk is not None:
            after_chunk(done, total)

    known = _known(store)
    todo = sum(1 for e in entries if known.get(e.path) != e.content_id)
    prepare = partial(_prepare_chunk, str(root))
    if todo >= PARALLEL_FROM and WORKERS > 1:
        with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
            stats = refresh(
                store.db,
                entries,
                prepare=prepare,
                map_fn=_pool_map(pool),
                progress=on_chunk,
                batch=CHUNK,
                listing_done=listing_done,
                known=known,
            )
    else:
        stats = refresh(
            store.db,
            entries,
            prepare=prepare,
            progress=on_chunk,
            batch=CHUNK,
            listing_done=listing_done,
            known=known,
        )
    # Binary or huge files are remembered by content id so they are not re-read on every load.
    ids = {e.path: e.content_id for e in entries}
    _UNINDEXABLE.update(ids[p] for p in stats.skipped if p in ids)


def _unchanged(listing: project_files.Listing, known: dict[str, str]) -> bool:
    """Every indexable listed file is indexed with the same content id, and no indexed file is gone."""
    n = 0
    for f in listing.files:
        if f.content_id in _UNINDEXABLE:
            continue
        if known.get(f.path) != f.content_id:
            return False
        n += 1
    return n == len(known)


def _known(store: Store) -> dict[str, str]:
    """path -> content id of the index, cached per index generation."""
    gen = generation(store.db)
    return store.derived(
        "context.known",
        gen,
        lambda: dict(store.db.execute("SELECT path, content_id FROM repo_files").fetchall()),
    )


def known_paths(store: Store) -> set[str]:
    """The indexed paths, cached per index generation (a warm load does not read 10,000 rows)."""
    gen = generation(store.db)
    return store.derived("context.paths", gen, lambda: set(_known(store)))
