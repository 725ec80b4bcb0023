"""The git ledger: every durable record is a human-readable file committed with trailers.

Git is the source of truth; SQLite is an index that can be rebuilt from it. Several server
processes (one per connected client) may write at once, so every change to the ledger happens under
an exclusive file lock (`fcntl.flock`) plus a thread lock.

People may edit ledger files by hand (the messages tell them to, when a file no longer parses), so
nothing here ever discards a change it did not make. A writer first notes the paths it is about to
write in `.git/factorops-pending` and removes the note once its commit is in; a writer killed
mid-commit therefore leaves a note saying exactly which files are its debris. `recover` (under our
lock, so no live writer of ours is at work) puts only those paths back as HEAD has them and removes
git's stale lock files and our temp files; any other change in the working tree is a person's and is
reported (`status().dirty`), never reset.

A commit is built without the git index: the store writes the blobs, the trees on their paths
(the parent's trees with only those entries changed) and the commit as loose objects in git's own
format; the git index gets the same entries (so a person's `git status` and `git commit` see what
we committed: `git_index` rewrites the split index's own part, or `git update-index --index-info`
when it cannot), then `git update-ref HEAD new old` moves the ref atomically (refusing if another
writer moved it). Objects first, ref last: a kill -9 leaves `git fsck` clean, and a write is
acknowledged only once the ref moved.

A write costs about the same at 10,000 records as at 100: record folders that grow are sharded
(see `ledger_layout`), so a commit rewrites only small trees, and the git index is split
(`core.splitIndex`) and only given entries, never scanned (no `git add`, no `write-tree`); its
shared part is read once per process, not by a `git update-index` on every write.
Automatic gc stays off (it would stall a random write for seconds); instead, once a process has
written `PACK_CHECK_OBJECTS` loose objects, a background thread counts the loose objects and, past a
threshold, packs them with `git repack` without the ledger lock (only the deletion of the loose
copies takes it), and merges the packs once there are a few (`_merge_packs`), so the ledger's
disk stays near its packed size even during a bulk fill.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import git as gitrun
from . import ledger_layout as layout
from .env import env_int
from .errors import StorageError
from .git_index import SplitIndexWriter

if TYPE_CHECKING:
    import git

log = logging.getLogger("factorops.store")

# Loose objects are counted (`git count-objects`, in the background) once a process has written
# PACK_CHECK_OBJECTS of them (env FACTOROPS_LEDGER_PACK_OBJECTS) or made PACK_CHECK_EVERY commits
# (FACTOROPS_LEDGER_PACK_EVERY), and packed when there are more than PACK_MIN_OBJECTS
# (FACTOROPS_LEDGER_PACK_MIN_OBJECTS) and either more than an eighth of the packed ones
# (PACK_FRACTION) or taking more disk than half the packs (LOOSE_SHARE). The disk is what decides:
# a loose object takes at least one 4 KiB block, and a write's trees (a 256-entry `patterns/`
# tree is 7.7 KB loose) are a few bytes once packed as deltas, so counting objects alone let a
# 10,000-pattern ledger reach several times its packed size between two packings.
PACK_CHECK_OBJECTS = 64
PACK_CHECK_EVERY = 16
PACK_MIN_OBJECTS = 256
PACK_FRACTION = 8
LOOSE_SHARE = 2
# Packs are merged into one once there are PACK_MERGE_AT of them (FACTOROPS_LEDGER_PACK_MERGE):
# packs do not delta against each other, so 13 packs of a 10,000-pattern ledger took 1.9x the
# bytes of one (`Ledger._merge_packs`).
PACK_MERGE_AT = 4
BULK_WAIT = 120.0  # seconds a bulk writer waits at most for the packer (`_after_write`)
PACK_LOCK = "factorops-pack.lock"  # in .git/: one packer per ledger across processes
# What every ledger's git config gets (new ledgers at creation, older ones at open).
TUNING = (
    # Automatic gc would pause a random commit for seconds; we pack in the background instead.
    ("gc.auto", "0"),
    ("core.autocrlf", "false"),
    ("commit.gpgsign", "false"),
    # Path-compressed index: about half the bytes to rewrite on every commit.
    ("index.version", "4"),
    # Split index: a commit rewrites a small index of the entries changed since the shared one,
    # not 10,000 entries; shared index files no longer in use are removed at once.
    ("core.splitIndex", "true"),
    ("splitIndex.sharedIndexExpire", "now"),
)
# The split index's own part (`.git/index`) is folded into a new shared index past this size
# (about 150 entries of a checkpoint's path; env FACTOROPS_LEDGER_INDEX_FOLD_BYTES; `Ledger._fold`).
# Every write parses and rewrites the own part in Python (`git_index`): 1.3 + 2.7 ms at 900 entries
# (74 KB), so it is kept small; a fold costs git ~9 ms at 10,000 entries plus one parse of the new
# shared part by the next write, every ~200 writes.
SPLIT_PART_MAX = 16 * 1024
TREE_CACHE = 4096  # trees kept by sha (a write reads the few on its paths; they never change)
PENDING = "factorops-pending"  # in .git/: the paths a writer is committing (see the module docstring)
_TEMP = re.compile(r"(?:^|/)\.[^/]+\.tmp$")  # what `commit` writes before renaming into place


# The running background workers ("pack") of each ledger, and those that must run once
# more when done (a write asked while they were at work).
_workers: dict[tuple[str, str], threading.Thread] = {}
_again: set[tuple[str, str]] = set()
_workers_guard = threading.Lock()

_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    key = str(path)
    with _thread_locks_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.RLock()
        return lock


@dataclass(frozen=True)
class Change:
    """A ledger file touched by a commit range, with the last commit that wrote it."""

    path: str
    sha: str


class LedgerError(StorageError):
    """The ledger could not be written or read; the message says what git said."""


@dataclass(frozen=True)
class LedgerStatus:
    """What `git status` shows in the ledger, sorted into our debris and a person's changes."""

    debris: tuple[str, ...] = ()  # stale git lock files, our temp files, paths of a killed writer
    dirty: tuple[str, ...] = ()  # "XY path" entries (git status codes) that we did not make

    def dirty_paths(self) -> list[str]:
        return [entry[3:] for entry in self.dirty]


def commit_fix(ledger: Path, paths: list[str]) -> str:
    """The commands that make a person's hand edit part of the ledger (then reindex it)."""
    quoted = " ".join(f"'{p}'" if " " in p else p for p in paths)
    return (
        f"git -C {ledger} add -A -- {quoted} && git -C {ledger} commit -m 'Hand edit' "
        "&& factorops rebuild (or, to drop the edit: "
        f"git -C {ledger} checkout HEAD -- <file>, or delete the untracked file)"
    )


class Ledger:
    def __init__(self, path: Path, lock_path: Path) -> None:
        self.path = path
        self.lock_path = lock_path
        self._tlock = _thread_lock(lock_path)
        self._held = threading.local()
        self._repo: git.Repo | None = None
        self._trees: dict[str, dict[bytes, tuple[bytes, bytes]]] = {}  # tree sha -> entries
        self._commit_trees: dict[str, str] = {}  # commit sha -> its tree sha
        self._index = SplitIndexWriter(path / ".git")
        self.pack_check_every = env_int("FACTOROPS_LEDGER_PACK_EVERY", PACK_CHECK_EVERY)
        self.pack_check_objects = env_int("FACTOROPS_LEDGER_PACK_OBJECTS", PACK_CHECK_OBJECTS)
        self.pack_min_objects = env_int("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", PACK_MIN_OBJECTS)
        self.pack_merge_at = env_int("FACTOROPS_LEDGER_PACK_MERGE", PACK_MERGE_AT)
        self.split_part_max = env_int("FACTOROPS_LEDGER_INDEX_FOLD_BYTES", SPLIT_PART_MAX)
        self._merged: set[str] = set()  # the packs there after this process's last merge
        # Commits and loose objects since the loose objects were last looked at; the first commit
        # of a process looks too, so short-lived writers (CLI commands) also get their ledger packed.
        self._writes = max(0, self.pack_check_every - 1)
        self._objects = 0

    # -- setup -----------------------------------------------------------------------------------

    @classmethod
    def init(cls, path: Path, lock_path: Path) -> Ledger:
        """Create the ledger repository if missing (idempotent) and return it."""
        ledger = cls(path, lock_path)
        ledger.create()
        return ledger

    def create(self) -> bool:
        """Create the ledger repository if missing; True when this call created it.

        It is built beside its final place and renamed into it, so a process killed half-way never
        leaves a ledger without its first commit (the half-built folder is removed next time).
        """
        path = self.path
        with self.locked():
            if (path / ".git").exists():
                return False
            import shutil

            import git

            for stale in path.parent.glob(f".{path.name}.creating-*"):  # a creator killed half-way
                shutil.rmtree(stale, ignore_errors=True)
            tmp = path.parent / f".{path.name}.creating-{os.getpid()}"
            tmp.mkdir(parents=True)
            try:
                repo = git.Repo.init(tmp, initial_branch="main")
                with repo.config_writer() as cw:
                    for key, value in TUNING:
                        section, option = key.split(".", 1)
                        cw.set_value(section, option, value)
                (tmp / "README.md").write_text(
                    "# factorops ledger\n\nHuman-readable records of this project's agent sessions, "
                    "patterns and decisions. Written by factorops; one commit per durable operation.\n"
                )
                builder = Ledger(tmp, self.lock_path)
                builder._git("add", "--", "README.md")
                builder._git("commit", "-q", "--no-verify", "-m", "ledger: initialise\n\nFactor: I")
                builder.repo.close()
                os.rename(tmp, path)  # replaces a missing or empty folder atomically
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return True

    def tune(self) -> bool:
        """Give a ledger created by an older factorops the current git settings (`TUNING`); True
        when something changed. Cheap when there is nothing to do: one read of .git/config."""
        config = self.path / ".git" / "config"
        try:
            text = config.read_text(encoding="utf-8", errors="replace").lower()
        except OSError:
            return False
        if "splitindex" in text:
            return False
        with self.locked():
            for key, value in TUNING:
                self._git("config", key, value)
        return True

    def shard_flat(self) -> int:
        """Move patterns of the flat layout (`patterns/<id>.md`) into their shard folders, in one
        commit; returns how many moved (0: nothing to do, no commit).

        Only committed files move (a person's untracked file stays where it is); a person's
        uncommitted edit of a moved file moves with it and stays uncommitted. A flat file whose
        sharded twin already exists (a teammate's older factorops wrote it, sync merged it) is
        dropped in favour of the twin, which this factorops wrote.
        """
        folder = self.path / layout.PATTERNS
        if not folder.is_dir() or not any(e.name.endswith(".md") and e.is_file() for e in os.scandir(folder)):
            return 0
        with self.locked():
            listing = self._git("-c", "core.quotepath=off", "ls-tree", "-z", "HEAD", f"{layout.PATTERNS}/")
            entries: list[tuple[str, str, str]] = []  # (mode, blob sha, flat path)
            for line in listing.split("\0"):
                if not line:
                    continue
                meta, path = line.split("\t", 1)
                mode, kind, sha = meta.split(" ")
                if kind == "blob" and layout.sharded_from_flat(path) is not None:
                    entries.append((mode, sha, path))
            if not entries:
                return 0
            present = set(
                self._git("ls-tree", "-r", "-z", "--name-only", "HEAD", f"{layout.PATTERNS}/").split("\0")
            )
            moves = [(mode, sha, flat, layout.sharded_from_flat(flat) or flat) for mode, sha, flat in entries]
            self._note_pending([p for _, _, flat, new in moves for p in (flat, new)])
            parent = self.head()
            done: list[tuple[str, str]] = []
            try:
                lines = []
                for mode, sha, flat, new in moves:
                    lines.append(f"0 {'0' * 40}\t{flat}")
                    if new in present:
                        continue  # the sharded twin wins
                    lines.append(f"{mode} {sha}\t{new}")
                self._git("update-index", "-z", "--index-info", input="\0".join(lines) + "\0")
                for _, _, flat, new in moves:
                    source, target = self.path / flat, self.path / new
                    if not source.exists():
                        continue
                    if new in present:
                        source.unlink()
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(source, target)
                        done.append((flat, new))
                self._git("update-index", "-q", "--refresh")  # stat data of the moved files
                tree = self._git("write-tree")
                message = (
                    f"ledger: move {len(moves)} patterns into shard folders patterns/<xx>/\n\n"
                    "One flat patterns/ folder made every commit rewrite a tree with an entry per "
                    "pattern.\n\nFactor: I"
                )
                sha = self._git("commit-tree", tree, "-p", parent, "-m", message)
                self._git("update-ref", "-m", "factorops: shard", "HEAD", sha, parent)
            except BaseException:
                for flat, new in done:  # files back where they were; index and HEAD as before
                    if (self.path / new).exists():
                        os.replace(self.path / new, self.path / flat)
                with suppress(LedgerError):
                    self._git("read-tree", parent)
                self._clear_pending()
                raise
            self._clear_pending()
            log.info("moved %d ledger patterns into shard folders (commit %s)", len(moves), sha[:10])
            return len(moves)

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            import git  # imported on first use, not at server start

            self._repo = git.Repo(self.path)
        return self._repo

    def _git(self, *args: str, input: str | None = None) -> str:
        try:
            proc = gitrun.run_text(self.path, *args, env=gitrun.LEDGER_IDENTITY, input=input)
        except OSError as exc:
            raise LedgerError(f"cannot run git in the ledger ({self.path}): {exc}") from exc
        if proc.returncode != 0:
            raise LedgerError(
                f"git {args[0]} failed in the ledger ({self.path}): {(proc.stderr or proc.stdout).strip()}"
            )
        return proc.stdout.removesuffix("\n")

    # -- locking ---------------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the ledger lock (re-entrant within a thread) across processes and threads."""
        depth = getattr(self._held, "depth", 0)
        if depth:
            self._held.depth = depth + 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        with self._tlock:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                if not self.lock_path.is_file():
                    raise
                # A read-only data dir: a lock held through a read-only descriptor still orders
                # readers (doctor) against writers; any write fails later with a clear error.
                fd = os.open(self.lock_path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._held.depth = 1
                try:
                    yield
                finally:
                    self._held.depth = 0
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        if getattr(self._held, "bulk", False):
            # A bulk commit was made under this lock: its writer waits, unlocked, for the packer it
            # started (see `_after_write`).
            self._held.bulk = False
            self.wait_packer(BULK_WAIT)

    # -- reading ---------------------------------------------------------------------------------

    def head(self) -> str:
        """The current commit, read from the ref files (no subprocess: this is on every write)."""
        gitdir = self.path / ".git"
        ref = (gitdir / "HEAD").read_text().strip()
        if not ref.startswith("ref: "):
            return ref
        name = ref[5:]
        loose = gitdir / name
        if loose.exists():
            return loose.read_text().strip()
        packed = gitdir / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + name):
                    return line.split(" ", 1)[0]
        return self._git("rev-parse", "HEAD")

    def read(self, rel: str) -> bytes:
        """The file as it is in the working tree (what a person may have edited)."""
        return (self.path / rel).read_bytes()

    def read_committed(self, rev: str, rel: str) -> bytes:
        """The file as commit `rev` has it: what the index reflects, whatever the working tree says."""
        try:
            data: bytes = self.repo.git.get_object_data(f"{rev}:{rel}")[3]
            return data
        except (ValueError, _git_command_error()) as exc:
            raise LedgerError(
                f"cannot read {rel} at {rev[:10]} from the ledger ({self.path}): {exc}"
            ) from exc

    def changes(self, since: str | None) -> list[Change]:
        """Files added or modified after `since` (None: the whole history), oldest first.

        Each file appears once, at its first appearance (so parents are indexed before children),
        carrying the sha of the last commit that wrote it. Files no longer in HEAD are skipped.
        """
        args = ["-c", "core.quotepath=off", "log", "--reverse", "--format=%x00%H", "--name-only"]
        args += ["--diff-filter=AM", "--no-renames"]
        if since:
            args.append(f"{since}..HEAD")
        out = self._git(*args)
        present = set(
            self._git("-c", "core.quotepath=off", "ls-tree", "-r", "--name-only", "HEAD").splitlines()
        )
        order: list[str] = []
        last: dict[str, str] = {}
        sha = ""
        for line in out.splitlines():
            if line.startswith("\x00"):
                sha = line[1:]
                continue
            if not line:
                continue
            if line not in last:
                order.append(line)
            last[line] = sha
        return [Change(p, last[p]) for p in order if p in present]

    def is_ancestor(self, sha: str) -> bool:
        try:
            self._git("merge-base", "--is-ancestor", sha, "HEAD")
            return True
        except LedgerError:
            return False

    # -- writing ---------------------------------------------------------------------------------

    def _lock_files(self) -> list[Path]:
        gitdir = self.path / ".git"
        return [
            p
            for p in [gitdir / "index.lock", gitdir / "HEAD.lock", *gitdir.glob("refs/heads/*.lock")]
            if p.exists()
        ]

    def _pending(self) -> list[str]:
        """The paths a killed writer was committing (see the module docstring), safe ones only."""
        note = self.path / ".git" / PENDING
        try:
            paths = json.loads(note.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("ignoring an unreadable %s in the ledger", note)
            return []
        out = []
        for rel in paths if isinstance(paths, list) else []:
            try:
                self._safe_path(str(rel))
            except LedgerError:
                continue
            out.append(str(rel))
        return out

    def _note_pending(self, paths: list[str]) -> None:
        note = self.path / ".git" / PENDING
        note.write_text(json.dumps(paths), encoding="utf-8")

    def _clear_pending(self) -> None:
        (self.path / ".git" / PENDING).unlink(missing_ok=True)

    def status(self) -> LedgerStatus:
        """Sort the working tree's changes into our debris and a person's edits; changes nothing."""
        pending = set(self._pending())
        debris = [str(p.relative_to(self.path)) for p in self._lock_files()]
        if (self.path / ".git" / PENDING).exists():
            debris.append(f".git/{PENDING}")
        dirty: list[str] = []
        out = self._git("status", "--porcelain", "-z", "--untracked-files=all", "--no-renames")
        for entry in out.split("\0"):
            if len(entry) < 4:
                continue
            rel = entry[3:]
            if rel in pending or (entry.startswith("??") and _TEMP.search(rel)):
                debris.append(rel)
            else:
                dirty.append(entry)
        return LedgerStatus(tuple(debris), tuple(dirty))

    def recover(self) -> LedgerStatus:
        """Remove what a killed writer of ours left behind; call with the lock held.

        Only our own debris goes: git's lock files (every writer holds our lock, so one found while
        we hold it is stale), our temp files, and the paths named in a killed writer's pending note
        (put back as HEAD has them); the note itself, also when it names nothing (left empty or
        unreadable by a writer killed while writing it). A person's edits stay and are returned in
        `dirty`, with a warning in the log saying how to commit them.
        """
        pending = self._pending()
        removed = [str(lock.relative_to(self.path)) for lock in self._lock_files()]
        for lock in self._lock_files():
            lock.unlink(missing_ok=True)
        if pending:
            self._put_back("HEAD", pending)
            removed += pending
        elif (self.path / ".git" / PENDING).exists():
            # Empty or unreadable: a writer killed while writing it, before any file (the note comes
            # first). It names nothing to put back, but `status` reports it until it goes.
            removed.append(f".git/{PENDING}")
        self._clear_pending()
        status = self.status()
        for rel in status.debris:  # what is left of ours: untracked temp files
            if _TEMP.search(rel):
                (self.path / rel).unlink(missing_ok=True)
                removed.append(rel)
        if status.dirty:
            log.warning(
                "the ledger %s has changes that were not committed: %s. They are kept and not indexed; "
                "to keep them: %s",
                self.path,
                ", ".join(status.dirty_paths()),
                commit_fix(self.path, status.dirty_paths()),
            )
        if removed:
            log.info("removed the debris of a killed writer from the ledger: %s", ", ".join(removed))
        return LedgerStatus(tuple(removed), status.dirty)

    def _put_back(self, rev: str, paths: list[str]) -> None:
        """Make `paths` (index and working tree) what they are at `rev`, or absent if not there."""
        present = set(self._git("ls-tree", "-r", "-z", "--name-only", rev, "--", *paths).split("\0")) - {""}
        there = [p for p in paths if p in present]
        gone = [p for p in paths if p not in present]
        if there:
            self._git("checkout", rev, "--", *there)
        if gone:
            self._git("rm", "-q", "--cached", "-f", "--ignore-unmatch", "--", *gone)
            for rel in gone:
                (self.path / rel).unlink(missing_ok=True)
        for rel in paths:
            target = self.path / rel
            target.with_name(f".{target.name}.tmp").unlink(missing_ok=True)

    def commit(self, files: Mapping[str, bytes], message: str, trailers: Mapping[str, str]) -> str:
        """Write `files` and commit them as one commit; returns its sha. Lock must be held.

        The commit is built without the git index: the blobs, the trees on the paths to them (the
        parent commit's trees with only those entries changed) and the commit are written as loose
        objects, then `git update-ref HEAD new old` moves the ref, refusing if anyone else moved it
        meanwhile. The write is acknowledged only once the ref moved; a writer killed before leaves
        unreferenced objects (harmless, `git gc` drops them) and files (and git index entries) its
        pending note names. The index only gets the new entries: nothing scans it.

        On any failure the working tree is put back as it was, so nothing is left half-written.
        """
        if not getattr(self._held, "depth", 0):
            raise LedgerError("internal: ledger commit without holding the ledger lock")
        previous: dict[str, bytes | None] = {}
        for rel in files:
            self._safe_path(rel)
        self._note_pending(list(files))
        try:
            for rel, data in files.items():
                target = self._safe_path(rel)
                previous[rel] = target.read_bytes() if target.exists() else None
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            parent = self.head()
            full = message.rstrip() + "\n\n" + "\n".join(f"{k}: {v}" for k, v in trailers.items())
            # A NUL cannot live in a git commit message; the record file keeps the exact text, the
            # message gets a visible stand-in.
            full = full.replace("\0", "\\0")
            sha, written, blobs = self._write_commit(parent, files, full)
            # The git index gets the same entries (what a person's `git status` and `git commit`
            # compare with), then the ref moves: a writer killed in between leaves index entries
            # of paths its pending note names, which `recover` puts back as HEAD has them.
            # The split index's own part is rewritten here when it can be (`git_index`: no process,
            # no read of the shared part's 10,000 entries); git does it otherwise, and for a fold.
            fold = self._fold()
            if fold or not self._index.add(self.path, blobs):
                info = "".join(f"{gitrun.BLOB_MODE.decode()} {blob}\t{rel}\0" for rel, blob in blobs.items())
                self._git("update-index", *fold, "-z", "--index-info", input=info)
            self._git("update-ref", "-m", "factorops: record", "HEAD", sha, parent)
        except BaseException:
            self._restore(previous)
            self._clear_pending()
            raise
        self._clear_pending()
        self._after_write(written)
        return sha

    def _fold(self) -> tuple[str, ...]:
        """`--split-index` when the split index's own part has grown past `split_part_max` bytes
        (SPLIT_PART_MAX, env FACTOROPS_LEDGER_INDEX_FOLD_BYTES):
        that update-index then writes a fresh shared index and leaves the own part nearly empty.

        Every write reads and rewrites the own part. git folds it on its own only when it holds
        more *new* entries than `splitIndex.maxPercentChange` (20%) of the shared ones; entries
        whose stat data a `git status`, `reset` or `checkout` refreshed are *replaced* entries,
        which git never counts, so after one refresh of a 10,000-record ledger the own part held
        all 10,000 entries (645 KB) and every write paid 6 ms more to read and rewrite it. One
        stat of the file decides; the fold costs one write of the shared index, every few
        hundred writes at most.
        """
        try:
            size = (self.path / ".git" / "index").stat().st_size
        except OSError:
            return ()
        return ("--split-index",) if size > self.split_part_max else ()

    def _write_commit(
        self, parent: str, files: Mapping[str, bytes], message: str
    ) -> tuple[str, int, dict[str, str]]:
        """Write the objects of a commit of `files` on top of `parent`; its sha, how many loose
        objects that took, and the blob of each file."""
        objects = self.path / ".git" / "objects"
        written = 0
        nested: dict[str, object] = {}
        blobs: dict[str, str] = {}
        for rel, data in files.items():
            sha, size = gitrun.write_loose(objects, "blob", data)
            blobs[rel] = sha
            written += size > 0
            parts = rel.split("/")
            node = nested
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[parts[-1]] = sha

        def build(tree_sha: str | None, node: dict[str, object]) -> str:
            nonlocal written
            entries = dict(self._tree(tree_sha)) if tree_sha else {}
            for name, value in node.items():
                key = name.encode("utf-8")
                if isinstance(value, dict):
                    old = entries.get(key)
                    below = old[1].hex() if old is not None and old[0] == gitrun.TREE_MODE else None
                    entries[key] = (gitrun.TREE_MODE, bytes.fromhex(build(below, value)))
                else:
                    entries[key] = (gitrun.BLOB_MODE, bytes.fromhex(str(value)))
            sha, size = gitrun.write_loose(objects, "tree", gitrun.format_tree(entries))
            written += size > 0
            self._remember_tree(sha, entries)
            return sha

        tree = build(self._commit_tree(parent), nested)
        stamp = f"{int(time.time())} {_utc_offset()}"
        who = f"{gitrun.LEDGER_IDENTITY['GIT_COMMITTER_NAME']} <{gitrun.LEDGER_IDENTITY['GIT_COMMITTER_EMAIL']}>"
        body = f"tree {tree}\nparent {parent}\nauthor {who} {stamp}\ncommitter {who} {stamp}\n\n{message}\n"
        sha, size = gitrun.write_loose(objects, "commit", body.encode("utf-8", errors="surrogateescape"))
        written += size > 0
        self._commit_trees[sha] = tree
        return sha, written, blobs

    def _object(self, sha: str, kind: str) -> bytes:
        # A loose object (what recent writes left: the trees a write reads usually are) is read from
        # its file; GitPython (~0.1-0.5 s to import, inside a server's first write) only for packed ones.
        loose = gitrun.read_loose(self.path / ".git" / "objects", sha)
        if loose is not None:
            found, data = loose
        else:
            try:
                _, found, _, data = self.repo.git.get_object_data(sha)
            except (ValueError, _git_command_error()) as exc:
                raise LedgerError(
                    f"cannot read {kind} {sha[:10]} from the ledger ({self.path}): {exc}"
                ) from exc
        found = found.decode() if isinstance(found, bytes) else str(found)
        if found != kind:
            raise LedgerError(f"{sha[:10]} in the ledger ({self.path}) is a {found}, not a {kind}")
        return bytes(data)

    def _commit_tree(self, commit: str) -> str:
        tree = self._commit_trees.get(commit)
        if tree is None:
            header = self._object(commit, "commit").split(b"\n", 1)[0]
            if not header.startswith(b"tree "):
                raise LedgerError(f"commit {commit[:10]} in the ledger ({self.path}) has no tree")
            tree = self._commit_trees[commit] = header[5:].decode()
        return tree

    def _tree(self, sha: str) -> dict[bytes, tuple[bytes, bytes]]:
        """A tree's entries; trees never change, so they are kept by sha (the paths a write
        touches are read once per process)."""
        entries = self._trees.get(sha)
        if entries is None:
            entries = gitrun.parse_tree(self._object(sha, "tree"))
            self._remember_tree(sha, entries)
        return entries

    def _remember_tree(self, sha: str, entries: dict[bytes, tuple[bytes, bytes]]) -> None:
        if len(self._trees) >= TREE_CACHE:
            self._trees.clear()
            self._commit_trees.clear()
        self._trees[sha] = entries

    def undo_last(self, previous_head: str, paths: list[str]) -> None:
        """Drop the last commit (the SQLite side of a write failed), putting back only the `paths`
        it wrote; a person's other changes in the working tree stay. Lock must be held."""
        self._note_pending(paths)
        current = self.head()
        self._git("update-ref", "-m", "factorops: undo", "HEAD", previous_head, current)
        self._put_back(previous_head, paths)
        self._clear_pending()

    def _restore(self, previous: Mapping[str, bytes | None]) -> None:
        try:
            if previous:
                self._git("reset", "-q", "--", *previous)
        except LedgerError:
            pass
        for rel, old in previous.items():
            target = self.path / rel
            if old is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(old)

    def _safe_path(self, rel: str) -> Path:
        if rel.startswith("/") or ".." in Path(rel).parts or rel.startswith(".git"):
            raise LedgerError(f"internal: refusing ledger path {rel!r}")
        return self.path / rel

    def pack(self) -> None:
        """`git gc`: the ledger turns automatic gc off (it would stall a random write)."""
        with self.locked():
            self._git("gc", "--quiet")

    # -- background packing ----------------------------------------------------------------------

    def _after_write(self, objects: int) -> None:
        """After a commit: start the background packer once enough loose objects were written
        (a bulk write of 500 records counts 500+) or enough commits made."""
        self._writes += 1
        self._objects += objects
        every, many = self.pack_check_every, self.pack_check_objects
        if (every > 0 and self._writes >= every) or (many > 0 and self._objects >= many):
            self._writes = self._objects = 0
            self._start("pack", self._pack_in_background)
        if many > 0 and objects >= many:
            # A bulk commit (mining, an import, a rebuild's catch-up: hundreds of records) waits for
            # the packer once the ledger lock is released, so bulk writes cannot outrun it and pile
            # up loose objects past the packing threshold (a 10,000-pattern fill in batches of 500
            # left 2.0x the packed size on disk before). One-record writes never wait.
            self._held.bulk = True

    def _start(self, kind: str, work: Callable[[], None]) -> None:
        """Run `work` in this ledger's background worker `kind`; if it is at work already, it runs
        `work` once more when done, so no request is lost and there is never more than one."""
        key = (str(self.path), kind)
        with _workers_guard:
            if key in _workers:
                _again.add(key)
                return
            thread = threading.Thread(
                target=self._rounds, args=(key, work), name=f"ledger-{kind}", daemon=True
            )
            _workers[key] = thread
            thread.start()

    def _rounds(self, key: tuple[str, str], work: Callable[[], None]) -> None:
        while True:
            try:
                work()
            except BaseException:
                with _workers_guard:
                    _workers.pop(key, None)
                    _again.discard(key)
                raise
            with _workers_guard:
                if key not in _again:
                    _workers.pop(key, None)
                    return
                _again.discard(key)

    def _wait(self, kind: str, timeout: float | None = None) -> None:
        with _workers_guard:
            thread = _workers.get((str(self.path), kind))
        if thread is not None:
            thread.join(timeout)

    def wait_packer(self, timeout: float | None = None) -> None:
        """Wait for this ledger's background packer, if one is running (tests, benchmarks)."""
        self._wait("pack", timeout)

    def close(self) -> None:
        """Wait for the background packer (a closed store leaves no git process of ours working
        on the ledger: a `git fsck` right after sees a settled object store) and close the object
        reader."""
        self.wait_packer()
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def objects(self) -> dict[str, int]:
        """`git count-objects -v` as numbers: count, size (loose KiB), packs, size-pack (KiB), ..."""
        out = self._git("count-objects", "-v")
        stats: dict[str, int] = {}
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if value.strip().isdigit():
                stats[key.strip()] = int(value)
        return stats

    def needs_packing(self, stats: Mapping[str, int]) -> bool:
        """More loose objects than `pack_min_objects`, and either more than an eighth of the packed
        ones or more disk (KiB, as `du` counts it) than half the packs'."""
        loose = stats.get("count", 0)
        if loose <= self.pack_min_objects:
            return False
        return loose > stats.get("in-pack", 0) // PACK_FRACTION or stats.get("size", 0) > (
            stats.get("size-pack", 0) // LOOSE_SHARE
        )

    def _pack_in_background(self) -> None:
        """Pack loose objects without the ledger lock: writes go on while git packs.

        `git repack` (no -d) packs the reachable loose objects into a new pack and deletes nothing
        (an object a writer has just written for a ref not yet moved stays loose); then the loose
        copies are removed under the ledger lock, a few milliseconds (`_drop_packed_loose`).
        Once there are `pack_merge_at` packs they are merged into one (`_merge_packs`). One
        process packs at a time (an flock on .git/factorops-pack.lock; others skip: the one at
        work looks again when asked).
        """
        lock = self.path / ".git" / PACK_LOCK
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another process is packing this ledger
            stats = self.objects()
            if self.needs_packing(stats):
                # Packing writes a new pack of the reachable loose objects and deletes nothing:
                # safe beside writers, so unlocked. (`repack -d --geometric` lost a tree under the
                # 8-client load test: deletion stays under the lock.)
                self._git("-c", "pack.threads=1", "repack", "-q")
                self._drop_packed_loose()
                log.debug("packed the ledger's loose objects")
            if self._should_merge():
                self._merge_packs()
        except (LedgerError, OSError) as exc:
            log.warning("background packing of the ledger %s failed: %s", self.path, exc)
        finally:
            os.close(fd)

    def _drop_packed_loose(self) -> None:
        """Delete the loose copies of packed objects, as `git prune-packed` does, but keep the
        `objects/xx/` folders it would remove once empty.

        A write's objects land in random folders: with the folders gone after every packing, a
        write created two or three of them again, and creating a folder cost 0.3-0.5 ms in a
        10,000-record ledger that a packer had just emptied (0.15 ms in a young one): a third of
        `pattern_record`'s growth from 100 to 10,000 records. The folders are 256 at most.

        The loose objects and the packs holding them are found without the lock (reading the
        `.idx` files); the unlinks run under it, and only if every one of those packs is still
        there (`Ledger.pack`'s `git gc`, under the lock too, may replace packs).
        """
        doomed, packs = gitrun.packed_loose(self.path / ".git" / "objects")
        if not doomed:
            return
        with self.locked():
            if not all(idx.exists() for idx in packs):
                return  # a pack went away meanwhile: the next packing looks again
            for path in doomed:
                path.unlink(missing_ok=True)

    def _packs(self) -> set[str]:
        return {p.stem for p in (self.path / ".git" / "objects" / "pack").glob("pack-*.idx")}

    def _should_merge(self) -> bool:
        """`pack_merge_at` packs or more, one of them new since this process's last merge: a pack
        that merge kept (it holds objects the merged one lacks) stays unmergeable, so without the
        second condition every look of the packer would run `git repack -a` again for nothing."""
        if self.pack_merge_at <= 1:
            return False
        packs = self._packs()
        return len(packs) >= self.pack_merge_at and bool(packs - self._merged)

    def _merge_packs(self) -> None:
        """Merge the packs into one, deleting only what is provably kept (runs in the packer).

        `git repack -a` (no -d) writes one new pack of every object reachable from the refs, the
        reflogs and the git index, and deletes nothing, so writers go on. Then each older pack
        whose every object is in the new one (read from the two `.idx` files) is deleted under
        the ledger lock, `.idx` first as git does, and the loose copies are dropped. A pack
        holding anything the new one lacks (objects that became unreachable, say by an undo) is
        kept as it is: nothing that was stored can go missing, whoever writes meanwhile.
        """
        packs = self.path / ".git" / "objects" / "pack"
        before = self._packs()
        self._git("-c", "pack.threads=1", "repack", "-a", "-q")
        new = self._packs() - before
        if len(new) != 1:
            self._merged = before | new
            return  # nothing new to merge into (one pack already, or another process's pack)
        merged = gitrun.pack_objects(packs / f"{next(iter(new))}.idx")
        if merged is None:
            self._merged = before | new
            return
        subsumed = []
        for stem in sorted(before):
            if (packs / f"{stem}.keep").exists():
                continue
            names = gitrun.pack_objects(packs / f"{stem}.idx")
            if names is not None and names <= merged:
                subsumed.append(stem)
        with self.locked():
            for stem in subsumed:
                for ext in (".idx", ".pack", ".rev", ".bitmap"):
                    (packs / f"{stem}{ext}").unlink(missing_ok=True)
        self._drop_packed_loose()
        self._merged = self._packs()
        log.debug("merged %d packs of the ledger into one", len(subsumed))

    def fsck(self) -> tuple[bool, str]:
        try:
            out = self._git("fsck", "--no-dangling", "--no-progress")
            return True, out
        except LedgerError as exc:
            return False, str(exc)


def _utc_offset() -> str:
    """The local time zone as git writes it in a commit (`+0100`), as `git commit` would."""
    offset = time.localtime().tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    return f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def _git_command_error() -> type[Exception]:
    import git  # GitPython, imported on first use

    return git.GitCommandError
