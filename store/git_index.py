"""The ledger's own writer of the git index's split part (`.git/index` when `core.splitIndex` is on).

Why: a ledger commit must give the git index the entries it committed, so that a person's
`git status` and `git commit` see what the ledger committed. `git update-index` does that right, but
every run parses the whole shared index (10,000 entries at 10,000 records: ~1.7 ms of a 4 ms run,
plus the process), so a write cost more as the ledger grew (#19). With a split index, the entries a
commit changes live only in the small own part, which names the shared part by its sha and marks
which shared entries it replaces or deletes. This module rewrites that own part directly: it reads
the shared part once per process (it never changes: a new one gets a new name), then each write
reads and rewrites only the own part, whose size the ledger keeps bounded (`Ledger._fold`).

The format is git's (Documentation/gitformat-index.txt): a "DIRC" header, entries sorted by name
(version 4 compresses each name against the previous one), extensions, and a SHA-1 of all that.
The split part's "link" extension holds the shared part's sha and two EWAH bitmaps over the
shared entries' positions: deleted ones and replaced ones (the replacing entries come first in
the own part, in position order, with empty names). Optional extensions (upper-case signatures:
the cache tree, the untracked cache) are dropped, as git allows; git rebuilds them when it needs
them. Anything this writer does not handle (no split index, a required extension other than
"link", any merge conflict in the own part or one on a written path in the shared part, a checksum
that does not match) makes `add` return False, and the ledger asks `git update-index` as before.
The index lock is git's own (`.git/index.lock`, created exclusively), so a person's git command and
this writer never interleave.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SIGNATURE = b"DIRC"
HASH_SIZE = 20
LINK = b"link"
_FIXED = 62  # stat data (40) + object id (20) + flags (2)
_EXTENDED = 0x4000
_NAME_MASK = 0xFFF
_REGULAR_644 = 0o100644


class IndexFormatError(ValueError):
    """The bytes are not an index this module can read."""


@dataclass
class Entry:
    """One index entry: its name (empty for a split part's replacing entry) and its fixed fields
    (stat data, object id, flags and, when extended, the second flags word) exactly as on disk."""

    name: bytes
    meta: bytes

    @property
    def flags(self) -> int:
        return int.from_bytes(self.meta[60:62], "big")

    @property
    def stage(self) -> int:
        return (self.flags >> 12) & 3


@dataclass
class IndexFile:
    version: int
    entries: list[Entry]
    extensions: list[tuple[bytes, bytes]]


# -- varints and EWAH bitmaps, as git writes them ---------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    c = data[pos]
    pos += 1
    value = c & 127
    while c & 128:
        value += 1
        c = data[pos]
        pos += 1
        value = (value << 7) + (c & 127)
    return value, pos


def _varint(value: int) -> bytes:
    out = [value & 127]
    value >>= 7
    while value:
        value -= 1
        out.append(128 | (value & 127))
        value >>= 7
    return bytes(reversed(out))


def read_ewah(data: bytes, pos: int) -> tuple[set[int], int]:
    """The set bits of the EWAH bitmap at `pos`, and the position after it."""
    try:
        _bits, count = struct.unpack_from(">II", data, pos)
        words = struct.unpack_from(f">{count}Q", data, pos + 8)
    except struct.error as exc:
        raise IndexFormatError(f"truncated EWAH bitmap: {exc}") from exc
    pos += 8 + 8 * count + 4
    if pos > len(data):
        raise IndexFormatError("truncated EWAH bitmap")
    found: set[int] = set()
    base = i = 0  # base: the bitmap's word the next word describes
    while i < count:
        marker = words[i]
        i += 1
        run = (marker >> 1) & 0xFFFFFFFF
        literals = marker >> 33
        if marker & 1:
            found.update(range(base * 64, (base + run) * 64))
        base += run
        for word in words[i : i + literals]:
            while word:
                low = word & -word
                found.add(base * 64 + low.bit_length() - 1)
                word ^= low
            base += 1
        i += literals
    return found, pos


def ewah(bits: Iterable[int]) -> bytes:
    """An EWAH bitmap with `bits` set: runs of empty words, then the literal words that follow."""
    literal: dict[int, int] = {}
    for bit in bits:
        literal[bit // 64] = literal.get(bit // 64, 0) | (1 << (bit % 64))
    if not literal:
        return struct.pack(">IIQI", 0, 1, 0, 0)
    words: list[int] = []
    following = -1  # the bitmap word after the last one written
    for index in sorted(literal):
        if index != following:
            marker = len(words)
            words.append((index - max(following, 0)) << 1)  # the empty words before it
        words[marker] += 1 << 33  # one more literal word after this marker
        words.append(literal[index])
        following = index + 1
    size = max(literal) * 64 + literal[max(literal)].bit_length()
    return struct.pack(f">II{len(words)}QI", size, len(words), *words, marker)


# -- index files -------------------------------------------------------------------------------------


def parse(data: bytes) -> IndexFile:
    """An index file's entries and extensions; its trailing SHA-1 must match."""
    if len(data) < 12 + HASH_SIZE or data[:4] != SIGNATURE:
        raise IndexFormatError("not a git index")
    if hashlib.sha1(data[:-HASH_SIZE]).digest() != data[-HASH_SIZE:]:
        raise IndexFormatError("index checksum mismatch")
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        raise IndexFormatError(f"index version {version}")
    end = len(data) - HASH_SIZE
    pos = 12
    previous = b""
    entries: list[Entry] = []
    try:
        for _ in range(count):
            start = pos
            flags = int.from_bytes(data[pos + 60 : pos + 62], "big")
            size = _FIXED + 2 if flags & _EXTENDED else _FIXED
            if flags & _EXTENDED and version < 3:
                raise IndexFormatError("extended entry in a version 2 index")
            meta = data[pos : pos + size]
            pos += size
            if version == 4:
                strip, pos = _read_varint(data, pos)
                stop = data.index(b"\0", pos, end)
                if strip > len(previous):
                    raise IndexFormatError("malformed name")
                name = previous[: len(previous) - strip] + data[pos:stop]
                pos = stop + 1
                previous = name
            else:
                length = flags & _NAME_MASK
                stop = data.index(b"\0", pos, end) if length == _NAME_MASK else pos + length
                name = data[pos:stop]
                pos = start + ((size + len(name) + 8) & ~7)
            if len(meta) != size or pos > end:
                raise IndexFormatError("truncated entry")
            entries.append(Entry(name, meta))
        extensions: list[tuple[bytes, bytes]] = []
        while pos < end:
            signature = data[pos : pos + 4]
            (length,) = struct.unpack_from(">I", data, pos + 4)
            body = data[pos + 8 : pos + 8 + length]
            if len(body) != length:
                raise IndexFormatError("truncated extension")
            extensions.append((signature, body))
            pos += 8 + length
    except (ValueError, IndexError, struct.error) as exc:
        if isinstance(exc, IndexFormatError):
            raise
        raise IndexFormatError(f"malformed index: {exc}") from exc
    return IndexFile(version, entries, extensions)


def _common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes `a` and `b` share, by halving (slices compare in C; a byte-by-byte
    loop made serializing a 900-entry own part take 4.5 ms)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def serialize(index: IndexFile) -> bytes:
    """The bytes of an index file, checksum included (the inverse of `parse`)."""
    out = [SIGNATURE, struct.pack(">II", index.version, len(index.entries))]
    previous = b""
    for entry in index.entries:
        flags = (entry.flags & ~_NAME_MASK) | min(len(entry.name), _NAME_MASK)
        meta = entry.meta[:60] + flags.to_bytes(2, "big") + entry.meta[62:]
        if index.version == 4:
            common = _common_prefix(previous, entry.name)
            out += [meta, _varint(len(previous) - common), entry.name[common:], b"\0"]
            previous = entry.name
        else:
            padded = (len(meta) + len(entry.name) + 8) & ~7
            out += [meta, entry.name, b"\0" * (padded - len(meta) - len(entry.name))]
    for signature, body in index.extensions:
        out += [signature, struct.pack(">I", len(body)), body]
    data = b"".join(out)
    return data + hashlib.sha1(data).digest()


def stat_entry(name: bytes, blob: str, st: os.stat_result) -> Entry:
    """An entry for a regular file git would store as `100644 blob`, with the file's stat data
    (what lets `git status` trust the file without hashing it again)."""
    fields = (
        int(st.st_ctime),
        st.st_ctime_ns % 1_000_000_000,
        int(st.st_mtime),
        st.st_mtime_ns % 1_000_000_000,
        st.st_dev,
        st.st_ino,
        _REGULAR_644,
        st.st_uid,
        st.st_gid,
        st.st_size,
    )
    stat = struct.pack(">10I", *(value & 0xFFFFFFFF for value in fields))
    return Entry(name, stat + bytes.fromhex(blob) + min(len(name), _NAME_MASK).to_bytes(2, "big"))


# -- the split part writer ----------------------------------------------------------------------------


@dataclass
class _Shared:
    positions: dict[bytes, int]  # stage-0 entry name -> its position in the shared part
    conflicted: set[bytes]  # names with entries at a merge stage


class SplitIndexWriter:
    """Adds entries to a repository's split index by rewriting only its own part."""

    def __init__(self, gitdir: Path) -> None:
        self.gitdir = gitdir
        self._shared: dict[bytes, _Shared] = {}  # shared part sha -> what a write needs of it

    def add(self, workdir: Path, blobs: Mapping[str, str]) -> bool:
        """Give the index `blobs` (path in `workdir` -> blob sha, files already written there);
        False, touching nothing, when this index is not one this writer handles or git's index
        lock is taken (the caller then runs `git update-index`, which words the problem)."""
        lock = self.gitdir / "index.lock"
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        try:
            data = self._updated(workdir, blobs)
            if data is None:
                return False
            with os.fdopen(fd, "wb") as f:
                fd = -1
                f.write(data)
            os.replace(lock, self.gitdir / "index")
            return True
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)

    def _updated(self, workdir: Path, blobs: Mapping[str, str]) -> bytes | None:
        try:
            own = parse((self.gitdir / "index").read_bytes())
        except (OSError, IndexFormatError):
            return None
        links = [body for signature, body in own.extensions if signature == LINK]
        required = [s for s, _ in own.extensions if not s[:1].isupper() and s != LINK]
        # A link of the shared part's sha alone (no bitmaps) is one git 2.39 cannot read itself (it
        # crashes): left to git too.
        if len(links) != 1 or required or len(links[0]) <= HASH_SIZE:
            return None
        link = links[0]
        shared_sha = link[:HASH_SIZE]
        if shared_sha == bytes(HASH_SIZE):
            return None
        shared = self._shared_part(shared_sha)
        if shared is None:
            return None
        try:
            deleted, pos = read_ewah(link, HASH_SIZE)
            replaced_bits, _ = read_ewah(link, pos)
        except IndexFormatError:
            return None
        if len(replaced_bits) > len(own.entries):
            return None
        replaced = dict(zip(sorted(replaced_bits), own.entries, strict=False))
        added = {entry.name: entry for entry in own.entries[len(replaced_bits) :]}
        if any(entry.stage for entry in own.entries):
            return None
        for rel, blob in blobs.items():
            name = rel.encode("utf-8", errors="surrogateescape")
            if name in shared.conflicted:
                return None
            try:
                entry = stat_entry(name, blob, os.lstat(workdir / rel))
            except OSError:
                return None
            position = shared.positions.get(name)
            if position is not None and position not in deleted:
                entry.name = b""  # the shared part has the name
                replaced[position] = entry
            else:
                added[name] = entry
        entries = [replaced[p] for p in sorted(replaced)] + [added[n] for n in sorted(added)]
        body = shared_sha + ewah(deleted) + ewah(replaced)
        return serialize(IndexFile(own.version, entries, [(LINK, body)]))

    def _shared_part(self, sha: bytes) -> _Shared | None:
        found = self._shared.get(sha)
        if found is None:
            try:
                index = parse((self.gitdir / f"sharedindex.{sha.hex()}").read_bytes())
            except (OSError, IndexFormatError):
                return None
            positions: dict[bytes, int] = {}
            conflicted: set[bytes] = set()
            for position, entry in enumerate(index.entries):
                if entry.stage:
                    conflicted.add(entry.name)
                else:
                    positions[entry.name] = position
            found = self._shared[sha] = _Shared(positions, conflicted)
        return found
