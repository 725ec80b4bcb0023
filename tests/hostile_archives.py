"""Build hostile `.tar.gz` files for the tests and the memory benchmark, small on disk and fast.

Why by hand: `tarfile` will not write a header whose size lies, and compressing a real gigabyte
of zeros takes seconds. Headers are written byte by byte here; a gigabyte of zeros becomes one
gzip member whose deflate data is a single compressed 1 MiB block repeated (after a full flush
every block compresses the same), with the CRC-32 of the whole computed by `crc32_combine`, so a
1 GiB bomb is ~1 MiB on disk and takes milliseconds to make.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

GIB = 1 << 30
MIB = 1 << 20
BLOCK = 512


def header(
    name: bytes,
    size: int,
    typeflag: bytes = b"0",
    *,
    gnu: bool = False,
    linkname: bytes = b"",
    prefix: bytes = b"",
) -> bytes:
    """One 512-byte tar header, POSIX ustar (or GNU with `gnu`), with a correct checksum."""
    block = bytearray(BLOCK)
    block[0 : len(name[:100])] = name[:100]
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    if size < 8**11:
        block[124:136] = b"%011o\0" % size
    else:
        block[124:136] = b"\x80" + size.to_bytes(11, "big")
    block[136:148] = b"%011o\0" % 0
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[157 : 157 + len(linkname[:100])] = linkname[:100]
    block[257:265] = b"ustar  \0" if gnu else b"ustar\x0000"
    if prefix and not gnu:
        block[345 : 345 + len(prefix)] = prefix
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def member(name: bytes, data: bytes, typeflag: bytes = b"0") -> bytes:
    return header(name, len(data), typeflag) + padded(data)


def pax(records: dict[str, str]) -> bytes:
    """The data of a PAX header: `<length> <key>=<value>\\n` records."""
    out = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        n = len(body) + 1
        while len(str(n)) + len(body) != n:
            n += 1
        out += str(n).encode() + body
    return out


END = bytes(2 * BLOCK)


# CRC-32 of a long run of zeros without reading it: zlib's crc32_combine, in Python.
def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B) (zlib's algorithm)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _crc_of_zeros(n_mib: int) -> int:
    crc, run, run_len = 0, zlib.crc32(bytes(MIB)), MIB
    while n_mib:
        if n_mib & 1:
            crc = crc32_combine(crc, run, run_len)
        run = crc32_combine(run, run, run_len)
        run_len *= 2
        n_mib >>= 1
    return crc


def gzip_with_zeros(head: bytes, zero_mib: int, tail: bytes = b"") -> bytes:
    """One gzip member of `head` + `zero_mib` MiB of zeros + `tail`, with a valid trailer."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = [c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)]
    if zero_mib:
        block = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
        body.append(block * zero_mib)
    body.append(c.compress(tail) + c.flush())
    crc = zlib.crc32(head)
    crc = crc32_combine(crc, _crc_of_zeros(zero_mib), zero_mib * MIB)
    crc = zlib.crc32(tail, crc)
    size = len(head) + zero_mib * MIB + len(tail)
    return b"\x1f\x8b\x08\x00\0\0\0\0\x02\xff" + b"".join(body) + struct.pack("<II", crc, size & 0xFFFFFFFF)


def good_archive(members: dict[str, bytes]) -> bytes:
    """A normal .tar.gz as `tarfile` writes it (what bundles.export produces)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


# name -> (builder, what the refusal message must contain)
def _long_name_lie() -> bytes:
    return gzip.compress(header(b"././@LongLink", GIB, b"L", gnu=True) + b"x" * 100)


def _long_name_zeros() -> bytes:
    return gzip_with_zeros(header(b"././@LongLink", GIB, b"L", gnu=True), 1024, member(b"a.md", b"x") + END)


def _pax_lie() -> bytes:
    return gzip.compress(header(b"./PaxHeaders/a.md", GIB, b"x") + b"1" * 100)


def _pax_zeros() -> bytes:
    return gzip_with_zeros(header(b"./PaxHeaders/a.md", GIB, b"x"), 1024, member(b"a.md", b"x") + END)


def _global_pax_zeros() -> bytes:
    return gzip_with_zeros(header(b"pax_global_header", GIB, b"g"), 1024, member(b"a.md", b"x") + END)


def _long_link_lie() -> bytes:
    return gzip.compress(header(b"././@LongLink", GIB, b"K", gnu=True))


def _gzip_bomb() -> bytes:
    return gzip_with_zeros(b"", 1024)


def _bomb_after_member() -> bytes:
    return gzip_with_zeros(member(b"manifest.json", b"{}") + END, 1024)


def _member_size_lie() -> bytes:
    return gzip.compress(header(b"patterns/a.md", GIB) + b"x" * 1000)


def _member_zeros() -> bytes:
    return gzip_with_zeros(header(b"patterns/a.md", GIB), 1024, END)


def _multi_member_bomb() -> bytes:
    one = gzip.compress(bytes(MIB))
    return gzip.compress(member(b"a.md", b"x")) + one * 1024


def _many_members() -> bytes:
    return gzip.compress(b"".join(member(b"m%05d" % i, b"") for i in range(10_001)) + END)


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "long-name 'L' claims 1 GiB (lie)": (_long_name_lie, "GNU long-name header of member #1"),
    "long-name 'L' claims 1 GiB (zeros)": (_long_name_zeros, "GNU long-name header of member #1"),
    "PAX 'x' claims 1 GiB (lie)": (_pax_lie, "PAX extended header of member #1"),
    "PAX 'x' claims 1 GiB (zeros)": (_pax_zeros, "PAX extended header of member #1"),
    "global PAX 'g' claims 1 GiB (zeros)": (_global_pax_zeros, "PAX global header of member #1"),
    "long-link 'K' claims 1 GiB (lie)": (_long_link_lie, "GNU long-link header of member #1"),
    "gzip bomb: 1 GiB of zeros": (_gzip_bomb, "larger than the limit of"),
    "1 GiB of zeros after the end marker": (_bomb_after_member, "larger than the limit of"),
    "1 GiB of zeros in 1024 gzip members": (_multi_member_bomb, "larger than the limit of"),
    "member claims 1 GiB (lie)": (_member_size_lie, "'patterns/a.md' is 1073741824 bytes (limit"),
    "member of 1 GiB zeros": (_member_zeros, "'patterns/a.md' is 1073741824 bytes (limit"),
    "10,001 members": (_many_members, "more than 10000 members"),
}


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
