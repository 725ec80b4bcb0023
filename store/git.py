"""The one way factorops runs git commands: the ledger, sync, the project's files and mining.

Every call gets the same environment rules: git never prompts (a remote asking for a password
fails instead of hanging on a terminal nobody sees), ssh runs in batch mode, and the caller's
extra variables (the ledger's commit identity) come last. Errors stay the caller's to word: this
returns the finished process and raises only for a missing git or a timeout.

The ledger also keeps a GitPython `Repo` for one thing a one-shot runner does badly: reading many
objects through one long-lived `git cat-file --batch` process. And it writes its commits' objects
itself (`write_loose`, `format_tree`) and the git index's split part too (`git_index`): a commit
then costs one `git update-ref`, not `git add` and `write-tree`, which read an index that grows
with the records.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path

NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}
LEDGER_IDENTITY = {
    "GIT_AUTHOR_NAME": "factorops",
    "GIT_AUTHOR_EMAIL": "factorops@localhost",
    "GIT_COMMITTER_NAME": "factorops",
    "GIT_COMMITTER_EMAIL": "factorops@localhost",
}
# For repositories whose content we do not control (a fetched ledger): no hooks, no signing.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **NO_PROMPT, **(extra or {})}


def run(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS` in `cwd` and return the finished process (stdout and stderr as bytes)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, env=environment(env), capture_output=True, timeout=timeout, input=input
    )


def run_text(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`run` with text output (undecodable bytes replaced: commit messages are not always UTF-8)."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=environment(env),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        input=input,
    )


def popen(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `git ARGS` with stdout piped as text, for output too large to hold (a long history)."""
    return subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        env=environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        errors="replace",
    )


# -- objects -------------------------------------------------------------------------------------
# The ledger writes its commits' objects itself (loose objects, git's own format: zlib of
# "<type> <size>\0<data>", named by the SHA-1 of that), so a write needs no git index and no
# process per object; see `Ledger.commit`. `git fsck` checks what this writes.

TREE_MODE = b"40000"
BLOB_MODE = b"100644"


def object_sha(kind: str, data: bytes) -> str:
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


def write_loose(objects: Path, kind: str, data: bytes) -> tuple[str, int]:
    """Store one object loose under `objects/`; returns its sha and the bytes written (0 when a
    loose copy is there already: objects are immutable, so it is the same).

    Written to a temp file in `objects/` and linked into `objects/xx/`: a reader never sees half
    an object, and a `git prune-packed` or `git gc` of a person, which removes emptied `xx/`
    folders, cannot pull a folder away for good (it is made again and the link retried). The
    ledger's own packer keeps the folders (`drop_packed_loose`).
    """
    raw = b"%s %d\0" % (kind.encode(), len(data)) + data
    sha = hashlib.sha1(raw).hexdigest()
    final = objects / sha[:2] / sha[2:]
    if final.exists():
        return sha, 0
    packed = zlib.compress(raw, 1)
    fd, tmp = tempfile.mkstemp(prefix="tmp_obj_factorops_", dir=objects)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(packed)
        os.chmod(tmp, 0o444)
        for attempt in range(10):
            try:
                os.makedirs(final.parent, exist_ok=True)
                try:
                    os.link(tmp, final)
                except (FileExistsError, FileNotFoundError):
                    raise
                except OSError:  # a file system without hard links (git: core.createObject=rename)
                    os.replace(tmp, final)  # same name, same content: replacing is harmless
                break
            except FileExistsError:
                break  # another writer stored the same object
            except FileNotFoundError:
                if attempt == 9:
                    raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return sha, len(packed)


def read_loose(objects: Path, sha: str) -> tuple[str, bytes] | None:
    """An object stored loose under `objects/`, as (kind, content); None when it is not loose (packed,
    or missing: the caller asks git). Objects are written whole (`write_loose`, git itself), so a file
    that is there is complete; one that does not check out is left to git as well."""
    try:
        raw = zlib.decompress((objects / sha[:2] / sha[2:]).read_bytes())
    except (OSError, zlib.error):
        return None
    header, sep, data = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not sep or not size.isdigit() or int(size) != len(data) or hashlib.sha1(raw).hexdigest() != sha:
        return None
    return kind.decode(), data


def parse_tree(data: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """A tree object's entries: name -> (mode, 20-byte sha)."""
    entries: dict[bytes, tuple[bytes, bytes]] = {}
    i = 0
    while i < len(data):
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[i:space], data[nul + 1 : nul + 21])
        i = nul + 21
    return entries


def format_tree(entries: dict[bytes, tuple[bytes, bytes]]) -> bytes:
    """A tree object from name -> (mode, 20-byte sha), in git's order (a folder sorts as `name/`)."""

    def key(name: bytes) -> bytes:
        return name + b"/" if entries[name][0] == TREE_MODE else name

    return b"".join(b"%s %s\0%s" % (entries[n][0], n, entries[n][1]) for n in sorted(entries, key=key))


def pack_objects(idx: Path) -> set[bytes] | None:
    """The object names (20-byte shas) a version-2 pack index lists; None when it is not one."""
    pack = PackIndex.read(idx)
    return None if pack is None else pack.names()


class PackIndex:
    """The object names a version-2 pack index (`.idx`) lists, searched in place: the fan-out
    table narrows a name to its first byte's range, then a binary search over the sorted names.
    No set of every name is built (a 100,000-pattern ledger's pack lists ~600,000)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @classmethod
    def read(cls, idx: Path) -> PackIndex | None:
        """The index in `idx`; None when it cannot be read or is not a version-2 index."""
        try:
            data = idx.read_bytes()
        except OSError:
            return None
        if data[:4] != b"\xfftOc" or int.from_bytes(data[4:8], "big") != 2:
            return None
        count = int.from_bytes(data[8 + 255 * 4 : 8 + 256 * 4], "big")
        if len(data) < 8 + 256 * 4 + 20 * count:
            return None
        return cls(data)

    def names(self) -> set[bytes]:
        """Every object name the index lists."""
        start = 8 + 256 * 4
        count = int.from_bytes(self.data[start - 4 : start], "big")
        return {self.data[i : i + 20] for i in range(start, start + 20 * count, 20)}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, bytes) or len(name) != 20:
            return False
        data, first = self.data, name[0]
        lo = int.from_bytes(data[8 + 4 * (first - 1) : 8 + 4 * first], "big") if first else 0
        hi = int.from_bytes(data[8 + 4 * first : 12 + 4 * first], "big")
        base = 8 + 256 * 4
        while lo < hi:
            mid = (lo + hi) // 2
            at = data[base + 20 * mid : base + 20 * mid + 20]
            if at == name:
                return True
            if at < name:
                lo = mid + 1
            else:
                hi = mid
        return False


def packed_loose(objects: Path) -> tuple[list[Path], list[Path]]:
    """The loose objects under `objects/` that a local pack also holds (what `git prune-packed`
    deletes), found by reading the packs' `.idx` files; and those `.idx` files."""
    read = {idx: PackIndex.read(idx) for idx in sorted((objects / "pack").glob("pack-*.idx"))}
    packs = [i for i in read.values() if i is not None]
    used = [idx for idx, i in read.items() if i is not None]
    found: list[Path] = []
    if not packs:
        return found, used
    try:
        folders = [e for e in os.scandir(objects) if len(e.name) == 2 and e.is_dir()]
    except OSError:
        return found, used
    for folder in folders:
        try:
            entries = list(os.scandir(folder.path))
        except OSError:
            continue
        for entry in entries:
            if len(entry.name) != 38:
                continue
            try:
                name = bytes.fromhex(folder.name + entry.name)
            except ValueError:
                continue
            if any(name in pack for pack in packs):
                found.append(Path(entry.path))
    return found, used
