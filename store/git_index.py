"""Giving git's index a commit's new files without `git update-index` reading the whole index.

`git update-index` reads every entry of the index before it changes one: with the index split
(`core.splitIndex`), that is the shared index of every record (10,000 entries: 675 KB, 5-15 ms of a
write at 10,000 records against 0 at 100), then it rewrites the split part. A ledger commit only
adds new files (unique ids), so the store writes the split part itself: it reads that small part
(the entries changed since the shared index was written), adds the new entries in order, and
writes it back under git's own lock (`index.lock`, created exclusively and renamed into place, as
git does). The shared index is never read, so the cost does not grow with the records.

The format is git's index version 4 (gitformat-index): a header, entries (stat data, mode, object
name, flags, then the path prefix-compressed against the previous entry's), extensions, and a
SHA-1 of all that. A split index's own part has a `link` extension naming the shared index and two
EWAH bitmaps; its entries are first those replacing shared ones (one per bit of the replace bitmap,
in order), then the added ones, sorted by path and stage. New entries get no stat data, exactly as
`git update-index --index-info` gives them, so `git status` compares their content once.

Whenever the index is not one this module can safely change (not split, another version, a
required extension it does not know, a path the commit changes rather than adds, a split part
that would hold more than `MAX_ADDED` entries), it answers why and writes nothing: the caller lets git do it
(`git -c splitIndex.maxPercentChange=0 update-index` for a split part grown too big, which folds
them into a new shared index: one full write every `MAX_ADDED` new files at most).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_ADDED = 64  # entries the split part may hold; past that, git folds them into a new shared index
LOCK = "index.lock"
_FIXED = 62  # stat data (40) + object name (20) + flags (2)
_EXTENDED = 0x4000
_NAMEMASK = 0x0FFF
_BLOB_MODE = 0o100644


class Unsupported(Exception):
    """This index is not one `add_new` may change; the message says why (the caller runs git)."""


class TooManyAdded(Unsupported):
    """The split part holds `MAX_ADDED` entries or more: time for git to write a new shared index."""


@dataclass
class _Entry:
    fixed: bytes  # the on-disk fields before the path: stat data, object name, flags (+ extended flags)
    name: bytes

    @property
    def stage(self) -> int:
        return (struct.unpack_from(">H", self.fixed, 60)[0] >> 12) & 3


def _decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset varint (varint.c): the value and the position after it."""
    c = data[pos]
    pos += 1
    value = c & 127
    while c & 128:
        value += 1
        c = data[pos]
        pos += 1
        value = (value << 7) + (c & 127)
    return value, pos


def _encode_varint(value: int) -> bytes:
    out = [value & 127]
    value >>= 7
    while value:
        value -= 1
        out.append(128 | (value & 127))
        value >>= 7
    return bytes(reversed(out))


def _ewah_end_and_ones(data: bytes, pos: int) -> tuple[int, int]:
    """Skip one serialised EWAH bitmap (ewah_io.c) at `pos`; the position after it and how many bits
    it sets."""
    _bits, words = struct.unpack_from(">II", data, pos)
    pos += 8
    end = pos + 8 * words + 4
    if end > len(data):
        raise Unsupported("a truncated bitmap in the link extension")
    ones = 0
    i = 0
    while i < words:
        (rlw,) = struct.unpack_from(">Q", data, pos + 8 * i)
        running_len = (rlw >> 1) & 0xFFFFFFFF
        literals = rlw >> 33
        if rlw & 1:
            ones += 64 * running_len
        for k in range(1, literals + 1):
            if i + k >= words:
                raise Unsupported("a malformed bitmap in the link extension")
            ones += struct.unpack_from(">Q", data, pos + 8 * (i + k))[0].bit_count()
        i += 1 + literals
    return end, ones


def _parse(data: bytes) -> tuple[list[_Entry], bytes]:
    """The entries of a version-4 split index file and its `link` extension (the other, optional,
    extensions are left out: they are caches git rebuilds)."""
    if len(data) < 32 or data[:4] != b"DIRC":
        raise Unsupported("not an index file")
    if hashlib.sha1(data[:-20]).digest() != data[-20:] and data[-20:] != bytes(20):
        raise Unsupported("the index file's checksum does not match")
    version, count = struct.unpack_from(">II", data, 4)
    if version != 4:
        raise Unsupported(f"index version {version}, not 4")
    body = data[:-20]
    pos = 12
    entries: list[_Entry] = []
    previous = b""
    for _ in range(count):
        (flags,) = struct.unpack_from(">H", body, pos + 60)
        size = _FIXED + (2 if flags & _EXTENDED else 0)
        fixed = body[pos : pos + size]
        strip, pos = _decode_varint(body, pos + size)
        if strip > len(previous):
            raise Unsupported("a malformed path in the index")
        end = body.index(b"\0", pos)
        name = previous[: len(previous) - strip] + body[pos:end]
        pos = end + 1
        entries.append(_Entry(fixed, name))
        previous = name
    link = None
    while pos < len(body):
        if pos + 8 > len(body):
            raise Unsupported("a truncated extension in the index")
        sig = body[pos : pos + 4]
        (size,) = struct.unpack_from(">I", body, pos + 4)
        ext = body[pos + 8 : pos + 8 + size]
        pos += 8 + size
        if sig == b"link":
            link = ext
        elif not b"A" <= sig[:1] <= b"Z":
            raise Unsupported(f"the index has the extension {sig!r}, which this writer does not know")
    if link is None or len(link) < 20 or link[:20] == bytes(20):
        raise Unsupported("the index is not split")
    return entries, link


def _replaced(link: bytes) -> int:
    """How many of the split part's entries replace shared ones (the replace bitmap's set bits)."""
    if len(link) == 20:
        return 0
    end, _ = _ewah_end_and_ones(link, 20)  # the delete bitmap
    end, ones = _ewah_end_and_ones(link, end)
    if end != len(link):
        raise Unsupported("unexpected data in the link extension")
    return ones


def _key(e: _Entry) -> tuple[bytes, int]:
    return (e.name, e.stage)


def _serialise(entries: list[_Entry], link: bytes) -> bytes:
    out = [b"DIRC", struct.pack(">II", 4, len(entries))]
    previous = b""
    for e in entries:
        common = 0
        limit = min(len(previous), len(e.name))
        while common < limit and previous[common] == e.name[common]:
            common += 1
        out += [e.fixed, _encode_varint(len(previous) - common), e.name[common:], b"\0"]
        previous = e.name
    out += [b"link", struct.pack(">I", len(link)), link]
    body = b"".join(out)
    return body + hashlib.sha1(body).digest()


def _new_entry(path: str, blob: str) -> _Entry:
    name = path.encode("utf-8", errors="surrogateescape")
    flags = min(len(name), _NAMEMASK)
    fixed = struct.pack(">10I", 0, 0, 0, 0, 0, 0, _BLOB_MODE, 0, 0, 0) + bytes.fromhex(blob)
    return _Entry(fixed + struct.pack(">H", flags), name)


def drop_unlinked_shared(gitdir: Path) -> list[str]:
    """Remove shared index files the index does not link to; returns their names.

    git removes them itself when it writes a new shared index (`splitIndex.sharedIndexExpire=now`),
    but only those modified in an earlier second, so two folds within a second (a bulk write, then a
    write) leave the previous one, as big as the index of every record, until the next fold. This
    removes them under git's index lock (skipped when a git command holds it), like git does: a
    git reader that loaded the old split part before the fold would miss its shared part, the same
    as with git's own expiry.
    """
    lock = gitdir / LOCK
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        return []
    removed: list[str] = []
    try:
        try:
            _, link = _parse((gitdir / "index").read_bytes())
        except (OSError, Unsupported, ValueError, struct.error, IndexError):
            return []
        keep = f"sharedindex.{link[:20].hex()}"
        for path in gitdir.glob("sharedindex.*"):
            if path.name != keep:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return removed
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def add_new(gitdir: Path, blobs: Mapping[str, str]) -> int:
    """Add `blobs` (path -> blob sha of files the commit adds) to the split part of the index at
    `gitdir`; returns how many entries that part holds now. Raises `Unsupported` (nothing written)
    when git must do it instead, `OSError` when the index cannot be locked or written (git's own
    `index.lock` exists: a git command at work, or a stale lock `recover` removes)."""
    index = gitdir / "index"
    lock = gitdir / LOCK
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    done = False
    try:
        try:
            data = index.read_bytes()
        except FileNotFoundError as exc:
            raise Unsupported("no index file") from exc
        try:
            entries, link = _parse(data)
            replaced = _replaced(link)
        except (ValueError, IndexError, struct.error) as exc:  # a truncated or malformed file
            raise Unsupported(f"an index this writer cannot read: {exc}") from exc
        if replaced > len(entries):
            raise Unsupported("the link extension replaces more entries than the index holds")
        head, added = entries[:replaced], entries[replaced:]
        # The split part's entries: added, or replacing shared ones (a refresh by `git status`).
        if len(entries) + len(blobs) > MAX_ADDED:
            raise TooManyAdded(f"{len(entries)} entries in the split part, {len(blobs)} to add")
        new = {_key(e): e for e in added}
        for path, blob in blobs.items():
            entry = _new_entry(path, blob)
            new[_key(entry)] = entry  # a path already added (a later write of it) gets the new blob
        merged = head + sorted(new.values(), key=_key)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(_serialise(merged, link))
        os.replace(lock, index)
        done = True
        return len(merged) - replaced
    finally:
        if fd >= 0:
            os.close(fd)
        if not done:
            lock.unlink(missing_ok=True)
