"""The files of a project, as the user's git sees them, with an identity for each.

One `git ls-files` call lists tracked files with their blob SHAs, another the untracked files git
does not ignore, a third the tracked files modified in the working tree (their blob SHA no longer
describes them, so they are hashed the way git would hash them). Non-git folders are walked, skipping the usual
dependency and cache folders. Files no context should carry (secrets, lock files, minified or
huge files) are reported as skipped with the reason.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, cast

from factorops.tools.kernel.paths import PathRefused, project_file
from factorops.tools.kernel.redact import is_secret_content, is_secret_path

MAX_FILE_BYTES = 1_000_000
SKIP_DIRS = {
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".agentops",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    "dist",
    "build",
    ".next",
    "target",
}
GENERATED_NAMES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Cargo.lock",
    "uv.lock",
    "Pipfile.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
}
GENERATED_SUFFIXES = (
    ".min.js",
    ".min.css",
    ".map",
    ".lock",
    ".pyc",
    ".so",
    ".dll",
    ".exe",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".pdf",
    ".zip",
    ".gz",
    ".tar",
    ".whl",
    ".woff",
    ".woff2",
    ".ttf",
)


@dataclass(frozen=True)
class ProjectFile:
    path: str  # relative, posix
    content_id: str  # "blob:<git blob sha>" (tracked or not), or "stat:<size>:<mtime_ns>" outside git
    size: int
    mtime: float


@dataclass
class Listing:
    files: list[ProjectFile] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    is_git: bool = False


def blob_id(data: bytes) -> str:
    """The id git would give this content, so an untracked copy of a tracked file shares its cache."""
    return "blob:" + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@lru_cache(maxsize=1 << 17)
def skip_reason(rel: str) -> str | None:
    """Why a file never enters the index, judged by its path alone (runs for every file on every
    load: remembered per path, the secret-name patterns are not cheap on 10,000 paths)."""
    name = rel.rsplit("/", 1)[-1]
    if name in GENERATED_NAMES or name.endswith(GENERATED_SUFFIXES):
        return "generated or binary by name"
    if is_secret_path(rel):
        return "secret file"
    return None


def _git(root: Path, *args: str) -> bytes | None:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


_LISTINGS = (
    ("staged", ("ls-files", "-z", "-s", "--cached", "--", ".")),
    ("modified", ("ls-files", "-z", "-m", "--", ".")),
    ("untracked", ("ls-files", "-z", "--others", "--exclude-standard", "--", ".")),
)


class PendingListing:
    """git's three listings of a tree, started and not waited for: `result()` makes the `Listing`.

    Each git writes to an unlinked temporary file, not a pipe, so none blocks on a full pipe while
    the caller does other work, and no thread of ours has to drain them (a thread that reads pipes
    takes the GIL back after every read: on a busy machine each take waits up to the interpreter's
    5 ms switch interval while a ranking runs)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._procs: dict[str, tuple[subprocess.Popen[bytes], IO[bytes]]] | None = {}
        try:
            for name, args in _LISTINGS:
                out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by result(), after git is done)
                proc = subprocess.Popen(["git", *args], cwd=self.root, stdout=out, stderr=subprocess.DEVNULL)
                self._procs[name] = (proc, out)
        except OSError:  # git is missing: the walk
            self._close()
            self._procs = None

    def _close(self) -> None:
        for proc, out in (self._procs or {}).values():
            proc.wait()
            out.close()

    def result(self) -> Listing:
        """Tracked files cost no stat and no read: git's index already knows their blob ids.

        Only modified and untracked files are read (to hash them). Size limits are applied when a
        file's content is read for indexing. What the tracked files' listing decides is kept per
        root with git's output it came from: a warm load whose `git ls-files -s` and `-m` bytes are
        the same as last time builds no entry again (modified and untracked files are still hashed
        every time: their content may change under one name)."""
        if self._procs is None:
            return _walk(self.root)
        outputs: dict[str, bytes] = {}
        failed = False
        for name, (proc, out) in self._procs.items():
            failed |= proc.wait() != 0
            out.seek(0)
            outputs[name] = out.read()
            out.close()
        if failed:
            return _walk(self.root)  # not a git repository
        return _listing(self.root, outputs)


def list_files(root: Path) -> Listing:
    """The project's files as git lists them (see `PendingListing.result`); outside git, walked."""
    return PendingListing(root).result()


def _listing(root: Path, outputs: dict[str, bytes]) -> Listing:
    key = (outputs["staged"], outputs["modified"])
    plan = _plans.get(root)
    if plan is None or plan.key != key:
        plan = _plans[root] = _plan(key)
    listing = Listing(skipped=dict(plan.skipped), is_git=True)
    if plan.by_content:
        for item in plan.items:
            if isinstance(item, str):
                _add_by_content(root, listing, item)
            else:
                listing.files.append(item)
    else:
        listing.files = cast("list[ProjectFile]", list(plan.items))  # no path to read among them
    for rel in outputs["untracked"].decode(errors="surrogateescape").split("\0"):
        if rel and rel not in plan.seen:
            reason = skip_reason(rel)
            if reason:
                listing.skipped[rel] = reason
            else:
                _add_by_content(root, listing, rel)
    return listing


@dataclass
class _Plan:
    """What the tracked files' listing decides, from git's output alone: per record, in order, the
    entry (its blob id from git's index) or the path to hash (modified files, symlinks)."""

    key: tuple[bytes, bytes]  # the `ls-files -s` and `ls-files -m` output it was made from
    items: list[ProjectFile | str]
    skipped: dict[str, str]
    seen: set[str]
    by_content: bool  # some item is a path to read


_plans: dict[Path, _Plan] = {}  # by project root: the last plan (a dict write is atomic)


def _plan(key: tuple[bytes, bytes]) -> _Plan:
    staged, modified_out = key
    modified = set(modified_out.decode(errors="surrogateescape").split("\0"))
    plan = _Plan(key, [], {}, set(), False)
    seen = plan.seen
    for rec in staged.decode(errors="surrogateescape").split("\0"):
        if not rec:
            continue
        meta, rel = rec.split("\t", 1)
        mode, sha, _stage = meta.split(" ")
        if rel in seen or mode == "160000":  # merge stages, submodules
            continue
        seen.add(rel)
        reason = skip_reason(rel)
        if reason:
            plan.skipped[rel] = reason
        elif rel in modified or mode == "120000":
            plan.items.append(rel)
            plan.by_content = True
        else:
            plan.items.append(ProjectFile(rel, f"blob:{sha}", -1, 0.0))
    return plan


def _add_by_content(root: Path, listing: Listing, rel: str) -> None:
    try:
        full = project_file(root, rel)  # the whole path resolved: inside the root, not a secret
    except PathRefused as exc:
        listing.skipped[rel] = exc.reason
        return
    try:
        st = full.stat()
        if st.st_size > MAX_FILE_BYTES:
            listing.skipped[rel] = f"larger than {MAX_FILE_BYTES} bytes"
            return
        data = full.read_bytes()
    except (OSError, ValueError):
        return  # deleted in the working tree, or not a regular file
    if is_secret_content(data[:MAX_FILE_BYTES].decode("utf-8", errors="replace")):
        listing.skipped[rel] = "secret file (by content)"
        return
    listing.files.append(ProjectFile(rel, blob_id(data), st.st_size, st.st_mtime))


def _walk(root: Path) -> Listing:
    listing = Listing()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".git"))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            try:
                full = project_file(root, rel)  # the whole path resolved: inside, not a secret
                st = full.stat()
            except PathRefused as exc:
                listing.skipped[rel] = exc.reason
                continue
            except OSError:
                continue
            reason = skip_reason(rel) or (
                f"larger than {MAX_FILE_BYTES} bytes" if st.st_size > MAX_FILE_BYTES else None
            )
            if reason:
                listing.skipped[rel] = reason
                continue
            listing.files.append(
                ProjectFile(rel, f"stat:{st.st_size}:{st.st_mtime_ns}", st.st_size, st.st_mtime)
            )
    return listing


MAX_COMMIT_FILES = 50  # a commit changing more files says little about which go together
LOG_FORMAT = "--format=%x00%P"  # with --name-only: per commit a NUL, its parents, then its files

Commit = tuple[bool, list[str]]  # (is a root commit, the files it changed)


def log_commits(out: bytes) -> list[Commit]:
    """`git log LOG_FORMAT --name-only` output, newest first."""
    commits: list[Commit] = []
    for block in out.decode(errors="replace").split("\0")[1:]:
        parents, _, rest = block.partition("\n")
        commits.append((not parents.strip(), [n for n in rest.split("\n") if n]))
    return commits


def cochange_scores(commits: list[Commit], paths: list[str]) -> dict[str, float]:
    """Each other file of `commits`, weighted so huge commits count little. A root commit (the
    initial import of everything) says nothing about which files go together."""
    scores: dict[str, float] = defaultdict(float)
    wanted = set(paths)
    for root, names in commits:
        if root or not names or len(names) > MAX_COMMIT_FILES:
            continue
        for n in names:
            if n not in wanted:
                scores[n] += 1.0 / len(names)
    return dict(scores)


def cochange(root: Path, paths: list[str], max_commits: int = 100) -> dict[str, float]:
    """Files that changed in the same commits as `paths` (`cochange_scores`).

    One git call: `--full-diff` lists every file of each commit that touched `paths`."""
    out = _git(root, "log", f"-n{max_commits}", "--full-diff", LOG_FORMAT, "--name-only", "--", *paths) or b""
    return cochange_scores(log_commits(out), paths)
