"""Read the members of a `.tar.gz` in bounded memory and time, refusing anything hostile first.

Why not `tarfile`: bundles come from teammates and the internet, and `tarfile` believes the sizes
an archive declares. A 1 MiB `.tar.gz` whose GNU long-name header (`././@LongLink`, type `L`)
claims 1 GiB made `tarfile.open` read the whole gigabyte into memory (5.3 GB peak, 19 s); a PAX
extended header (`x`) claiming 1 GiB did the same. Checking member sizes after `open` is too
late, because those headers are read while opening.

So this module walks the 512-byte tar headers itself, over a gzip stream it decompresses a
little at a time, and decides from each header, before reading what follows it:

* an extended header (GNU long name `L` / long link `K`, PAX `x` / global PAX `g`) may declare
  at most `max_header_bytes`;
* only regular files are accepted: links, directories, devices, FIFOs, sparse and other special
  members are refused (nothing is ever written to disk here, but a caller that did would be
  exposed);
* names must be relative POSIX paths without `..`, backslashes or control characters; `.`
  components and repeated slashes are normalised away; a name may appear only once;
* a member may hold at most `max_member_bytes`, all members together `max_total_bytes`, and
  there may be at most `max_members` of them;
* the decompressed stream, counted as it is produced, may not exceed `max_stream_bytes` (a gzip
  bomb is refused after reading at most that much, never allocated whole); after the tar's end
  the rest of the stream is still decompressed and counted, so the gzip checksum is verified and
  nothing can hide behind the end marker.

Memory stays near the size of the accepted members plus a few hundred KiB of buffers.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import BinaryIO, Literal

BLOCK = 512
_GZIP_MAGIC = b"\x1f\x8b"
_READ_CHUNK = 16 * 1024  # compressed bytes per read: keeps zlib's unconsumed tail (copied per call) small
_OUT_CHUNK = 256 * 1024  # decompressed bytes per zlib call at most: one call cannot balloon
_MAX_PADDING = 1 << 20  # zero bytes tolerated after a gzip member (as gzip(1) does)
_MAX_EXTENDED_IN_A_ROW = 8

_REGULAR = {b"0", b"\0", b"7"}  # regular file, old-style regular file, contiguous file
_NOT_REGULAR = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"5": "a directory",
    b"6": "a FIFO",
    b"S": "a GNU sparse file",
    b"D": "a GNU dump directory",
    b"M": "a multi-volume continuation",
    b"V": "a volume label",
    b"N": "an old GNU long-name member",
}
_EXTENDED = {
    b"L": "GNU long-name header",
    b"K": "GNU long-link header",
    b"x": "PAX extended header",
    b"g": "PAX global header",
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

ArchiveProblem = Literal["io", "corrupt", "limit", "type", "name", "duplicate"]


class ArchiveError(ValueError):
    """The archive is refused. `member` names the member when there is one; `kind` says what failed.

    `kind` lets a caller word its own message (e.g. bundles say "outside patterns/" for names):
    io, corrupt (not gzip, bad checksum, truncated), limit (a size or count limit), type (not a
    regular file), name (unsafe name) or duplicate.
    """

    def __init__(self, message: str, *, kind: ArchiveProblem, member: str | None = None) -> None:
        self.kind: ArchiveProblem = kind
        self.member = member
        super().__init__(message)


def default_stream_limit(max_members: int, max_total_bytes: int, max_header_bytes: int) -> int:
    """Room for the accepted data plus what a normal archive adds around it.

    Per member: its header, its data padding and a small PAX header (GNU tar's posix format
    writes one per file): 4 blocks. Plus a few full-size extended headers and 1 MiB of end
    padding (tar pads to its record size; `tar -b 2048` records are 1 MiB).
    """
    return max_total_bytes + 4 * BLOCK * (max_members + 2) + 8 * max_header_bytes + (1 << 20)


def read_members(
    path: Path,
    *,
    max_members: int = 10_000,
    max_member_bytes: int = 5 * 2**20,
    max_total_bytes: int = 50 * 2**20,
    max_header_bytes: int = 64 * 2**10,
    max_stream_bytes: int | None = None,
) -> dict[str, bytes]:
    """The regular files of the gzip-compressed tar at `path`, name -> content, in archive order.

    Names are normalised relative POSIX paths (`./a//b` -> `a/b`). Raises `ArchiveError`, naming
    the member and the limit, for anything this module refuses (see the module docstring); never
    reads more than `max_stream_bytes` of decompressed data (default: `default_stream_limit`).
    """
    if max_stream_bytes is None:
        max_stream_bytes = default_stream_limit(max_members, max_total_bytes, max_header_bytes)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise ArchiveError(f"{path} cannot be opened ({exc.strerror or exc})", kind="io") from None
    try:
        if fh.read(2) != _GZIP_MAGIC:
            raise ArchiveError(
                f"{path.name} is not a gzip-compressed tar (.tar.gz): it does not start with the gzip magic",
                kind="corrupt",
            )
        fh.seek(0)
        stream = _GzipStream(fh, max_stream_bytes)
        return _walk(stream, max_members, max_member_bytes, max_total_bytes, max_header_bytes)
    except OSError as exc:
        raise ArchiveError(f"{path.name} cannot be read ({exc.strerror or exc})", kind="io") from None
    finally:
        fh.close()


class _GzipStream:
    """Decompressed bytes of a gzip file, produced on demand and counted against a cap.

    Handles multi-member gzip (`cat a.gz b.gz`) and zero padding after a member, as gzip(1) and
    Python's gzip module do. zlib verifies each member's CRC-32 and length at its end.
    """

    def __init__(self, fh: BinaryIO, cap: int) -> None:
        self._fh = fh
        self._cap = cap
        self.produced = 0
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""  # compressed input zlib has not consumed yet
        self._buf = bytearray()
        self._done = False

    def _more(self) -> bytes:
        """The next decompressed piece (at most _OUT_CHUNK bytes); b"" once the stream has ended."""
        while not self._done:
            if self._z.eof:
                rest = self._z.unused_data
                rest = self._skip_padding(rest)
                if not rest:
                    self._done = True
                    break
                if not rest.startswith(_GZIP_MAGIC[: len(rest)]):
                    raise ArchiveError(
                        "the file has data after its gzip stream that is not gzip", kind="corrupt"
                    )
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._tail = rest
            data = self._tail or self._fh.read(_READ_CHUNK)
            if not data:
                raise ArchiveError("the gzip stream is truncated (the file ends inside it)", kind="corrupt")
            try:
                out = self._z.decompress(data, _OUT_CHUNK)
            except zlib.error as exc:
                raise ArchiveError(f"the gzip data is corrupt ({exc})", kind="corrupt") from None
            self._tail = self._z.unconsumed_tail
            if out:
                self.produced += len(out)
                if self.produced > self._cap:
                    raise ArchiveError(
                        f"the decompressed archive is larger than the limit of {self._cap} bytes; "
                        "refused as a possible gzip bomb",
                        kind="limit",
                    )
                return out
        return b""

    def _skip_padding(self, rest: bytes) -> bytes:
        """Drop zero bytes after a gzip member; return what follows them (b"" at end of file)."""
        skipped = 0
        while True:
            stripped = rest.lstrip(b"\0")
            skipped += len(rest) - len(stripped)
            if skipped > _MAX_PADDING:
                raise ArchiveError(
                    f"more than {_MAX_PADDING} zero bytes after the gzip stream", kind="corrupt"
                )
            if stripped:
                if len(stripped) < len(_GZIP_MAGIC):
                    stripped += self._fh.read(len(_GZIP_MAGIC))
                return stripped
            rest = self._fh.read(_READ_CHUNK)
            if not rest:
                return b""

    def read(self, n: int) -> bytes:
        """Exactly `n` bytes, or fewer only when the stream ends first."""
        while len(self._buf) < n:
            more = self._more()
            if not more:
                break
            self._buf += more
        with memoryview(self._buf) as view:
            out = bytes(view[:n])  # one copy, not two
        del self._buf[:n]  # cheap: CPython bytearrays drop a prefix by moving a start offset
        return out

    def drain(self) -> None:
        """Decompress (and count, and so cap) the rest of the stream, checking its checksums."""
        self._buf.clear()
        while self._more():
            pass


def _walk(
    stream: _GzipStream, max_members: int, max_member_bytes: int, max_total_bytes: int, max_header_bytes: int
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    index = 0  # position of the header in the archive, for messages
    pending: dict[str, str] = {}  # from extended headers: "path", "size"
    in_a_row = 0
    while True:
        block = stream.read(BLOCK)
        index += 1
        if not block:
            if pending:
                raise ArchiveError(
                    "the archive ends after an extended header, before its member", kind="corrupt"
                )
            break  # no end marker: tarfile accepts this too
        if len(block) < BLOCK:
            raise ArchiveError(f"the archive is truncated inside header #{index}", kind="corrupt")
        if block == bytes(BLOCK):
            if pending:
                raise ArchiveError(
                    "the archive ends after an extended header, before its member", kind="corrupt"
                )
            break  # end-of-archive marker
        typeflag, raw_name, size = _parse_header(block, index)
        shown = raw_name.decode("utf-8", "replace")
        label = f"#{index} ({shown!r})"
        if typeflag in _EXTENDED:
            in_a_row += 1
            if in_a_row > _MAX_EXTENDED_IN_A_ROW:
                raise ArchiveError(
                    f"more than {_MAX_EXTENDED_IN_A_ROW} extended headers in a row at member {label}",
                    kind="corrupt",
                    member=shown,
                )
            what = _EXTENDED[typeflag]
            if size > max_header_bytes:
                raise ArchiveError(
                    f"{what} of member {label} declares {size} bytes (limit {max_header_bytes})",
                    kind="limit",
                    member=shown,
                )
            data = _read_data(stream, size, label)
            _apply_extended(typeflag, data, pending, label)
            continue
        in_a_row = 0
        # the name in the header block may be a truncated stand-in when an extended header has the real one
        name = pending["path"] if "path" in pending else _decode(raw_name, f"header #{index}")
        if "size" in pending:
            size = int(pending["size"])
        pending = {}
        if typeflag not in _REGULAR or (typeflag == b"\0" and name.endswith("/")):
            kind = _NOT_REGULAR.get(typeflag, "a directory" if typeflag == b"\0" else f"of type {typeflag!r}")
            raise ArchiveError(
                f"member {name!r} is {kind}, not a regular file (links, directories and devices are refused)",
                kind="type",
                member=name,
            )
        clean = _safe_name(name)
        if len(files) >= max_members:
            raise ArchiveError(
                f"the archive has more than {max_members} members (limit {max_members})",
                kind="limit",
                member=clean,
            )
        if size > max_member_bytes:
            raise ArchiveError(
                f"member {clean!r} is {size} bytes (limit {max_member_bytes})", kind="limit", member=clean
            )
        if total + size > max_total_bytes:
            raise ArchiveError(
                f"the members up to {clean!r} hold more than {max_total_bytes} bytes (limit {max_total_bytes})",
                kind="limit",
                member=clean,
            )
        if clean in files:
            raise ArchiveError(f"member {clean!r} appears twice", kind="duplicate", member=clean)
        total += size
        files[clean] = _read_data(stream, size, repr(clean))
    stream.drain()
    return files


def _read_data(stream: _GzipStream, size: int, label: str) -> bytes:
    data = stream.read(size)
    padding = -size % BLOCK
    if len(data) < size or len(stream.read(padding)) < padding:
        raise ArchiveError(f"the archive is truncated inside member {label}", kind="corrupt")
    return data


def _parse_header(block: bytes, index: int) -> tuple[bytes, bytes, int]:
    """(typeflag, name, declared size) of a tar header block, after checking its checksum."""
    stored = _number(block[148:156], index, "checksum")
    unsigned = sum(block[:148]) + sum(block[156:]) + 8 * 0x20
    # some old tars summed signed bytes; tarfile accepts both, so do we
    if stored != unsigned and stored != unsigned - 256 * sum(b >= 0x80 for b in block[:148] + block[156:]):
        raise ArchiveError(f"header #{index} is corrupt (bad checksum); not a tar archive?", kind="corrupt")
    typeflag = block[156:157]
    name = _cstr(block[0:100])
    if block[257:263] == b"ustar\x00":  # POSIX ustar: a name may be split into prefix/name
        prefix = _cstr(block[345:500])
        if prefix:
            name = prefix + b"/" + name
    size = _number(block[124:136], index, "size")
    return typeflag, name, size


def _cstr(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _number(field: bytes, index: int, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 (high bit set) for large values."""
    if field[0] & 0x80:
        if field[0] & 0x40:
            raise ArchiveError(f"header #{index} has a negative {what}", kind="corrupt")
        return int.from_bytes(bytes([field[0] & 0x3F]) + field[1:], "big")
    text = _cstr(field).strip(b" ")
    if not text:
        return 0
    if text.translate(None, b"01234567"):  # anything left is not an octal digit
        raise ArchiveError(
            f"header #{index} is corrupt (unreadable {what} field); not a tar archive?", kind="corrupt"
        )
    return int(text, 8)


def _decode(name: bytes, where: str) -> str:
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError(f"the member name in {where} is not UTF-8: {name!r}", kind="name") from None


def _apply_extended(typeflag: bytes, data: bytes, pending: dict[str, str], label: str) -> None:
    """Fold an extended header into what applies to the next member."""
    if typeflag == b"L":
        pending["path"] = _decode(_cstr(data), f"GNU long-name header {label}")
        return
    if typeflag == b"K":
        return  # a link target; the link itself will be refused
    records = _pax_records(data, label)
    if typeflag == b"g":
        for key in ("path", "size", "linkpath"):
            if key in records:
                raise ArchiveError(
                    f"PAX global header {label} sets {key!r} for every member; not supported", kind="corrupt"
                )
        return
    for key in records:
        if key.startswith("GNU.sparse."):
            raise ArchiveError(f"member after {label} is a sparse file, not a regular file", kind="type")
    if "path" in records:
        pending["path"] = records["path"]
    if "size" in records:
        value = records["size"]
        if not value.isascii() or not value.isdigit():
            raise ArchiveError(f"PAX header {label} has an unreadable size {value!r}", kind="corrupt")
        pending["size"] = value


def _pax_records(data: bytes, label: str) -> dict[str, str]:
    """PAX records: `<length> <key>=<value>\\n`, where length counts the whole record."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if not data[pos:].strip(b"\0"):
            break  # NUL padding
        space = data.find(b" ", pos, pos + 12)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise ArchiveError(f"PAX header {label} is corrupt (bad record length)", kind="corrupt")
        length = int(digits)
        record = data[space + 1 : pos + length]
        if (
            length <= space - pos
            or pos + length > len(data)
            or not record.endswith(b"\n")
            or b"=" not in record
        ):
            raise ArchiveError(f"PAX header {label} is corrupt (bad record)", kind="corrupt")
        key, _, value = record[:-1].partition(b"=")
        try:
            out[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError(f"PAX header {label} has a record that is not UTF-8", kind="name") from None
        pos += length
    return out


def _safe_name(name: str) -> str:
    """The member name as a normalised relative POSIX path, or ArchiveError saying why it is unsafe."""

    def refuse(why: str) -> ArchiveError:
        return ArchiveError(f"member {name!r} has an unsafe name: {why}", kind="name", member=name)

    if not name:
        raise refuse("it is empty")
    if _CONTROL.search(name):
        raise refuse("it contains a control character")
    if "\\" in name:
        raise refuse("it contains a backslash")
    if name.startswith("/"):
        raise refuse("it is an absolute path")
    if name.endswith("/"):
        raise refuse("a regular file's name cannot end with '/'")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise refuse("it has a '..' component (a path outside the archive)")
    if not parts:
        raise refuse("it names no file")
    return "/".join(parts)
