"""safe_tar reads good bundles like tarfile does and refuses hostile ones before they cost anything.

Peak memory per hostile archive is measured by bench_safe_tar.py (one subprocess per case); one
regression guard here checks the worst case stays far below what tarfile needed.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from factorops.tools.patterns.safe_tar import ArchiveError, read_members

from . import hostile_archives as h

HERE = Path(__file__).resolve().parent


def _gz(path: Path, raw_tar: bytes) -> Path:
    return h.write(path, gzip.compress(raw_tar))


def _refused(path: Path, needle: str, kind: str, **limits: int) -> ArchiveError:
    with pytest.raises(ArchiveError) as err:
        read_members(path, **limits)
    assert needle in str(err.value), str(err.value)
    assert err.value.kind == kind
    return err.value


# ---------------------------------------------------------------------------------------------
# Good archives


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_good_archive_round_trips(tmp_path: Path, fmt: int) -> None:
    long_dir = "d" * 90 + "/" + "e" * 60
    members = {
        "manifest.json": json.dumps({"format": "factorops-bundle", "version": 1}).encode(),
        "patterns/pat-1.md": b"# one\n" * 100,
        "patterns/empty.md": b"",
        "patterns/exact-block.md": b"x" * 512,
        f"{long_dir}/nested.md": b"long names use a prefix, an L header or a PAX header",
    }
    if fmt != tarfile.USTAR_FORMAT:
        members["patterns/" + "n" * 150 + ".md"] = b"longer than ustar can hold"
        members["patterns/café-☕.md"] = b"non-ASCII name"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=fmt) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    got = read_members(h.write(tmp_path / "good.tar.gz", raw.getvalue()))
    assert got == members and list(got) == list(members)


def test_names_are_normalised_posix_relative_paths(tmp_path: Path) -> None:
    raw = h.member(b"./manifest.json", b"{}") + h.member(b"patterns//./a.md", b"a") + h.END
    assert read_members(_gz(tmp_path / "a.tar.gz", raw)) == {"manifest.json": b"{}", "patterns/a.md": b"a"}


def test_gnu_tar_conventions(tmp_path: Path) -> None:
    """Base-256 sizes, GNU long names, a PAX size override, git's global comment header, no end marker."""
    long = b"patterns/" + b"z" * 200 + b".md"
    raw = (
        h.header(b"pax_global_header", 52, b"g")
        + h.padded(h.pax({"comment": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"}))
        + h.header(b"././@LongLink", len(long) + 1, b"L", gnu=True)
        + h.padded(long + b"\0")
        + h.header(long[:100], 3, gnu=True)
        + h.padded(b"abc")
        + h.header(b"./PaxHeaders/b.md", len(h.pax({"size": "4"})), b"x")
        + h.padded(h.pax({"size": "4"}))
        + h.header(b"b.md", 0)
        + h.padded(b"bbbb")
        + h.header(b"c.md", 2)[:124]
        + b"\x80"
        + (2).to_bytes(11, "big")
        + h.header(b"c.md", 2)[136:]
    )
    # fix the checksum of the hand-edited base-256 header
    last = bytearray(raw[-512:])
    last[148:156] = b" " * 8
    last[148:156] = b"%06o\0 " % sum(last)
    raw = raw[:-512] + bytes(last) + h.padded(b"cc")
    got = read_members(_gz(tmp_path / "gnu.tar.gz", raw))
    assert got == {long.decode(): b"abc", "b.md": b"bbbb", "c.md": b"cc"}


def test_multi_member_gzip_and_zero_padding(tmp_path: Path) -> None:
    part1 = gzip.compress(h.member(b"a.md", b"a"))
    part2 = gzip.compress(h.member(b"b.md", b"b") + h.END)
    path = h.write(tmp_path / "cat.tar.gz", part1 + part2 + bytes(4096))
    assert read_members(path) == {"a.md": b"a", "b.md": b"b"}


def test_limits_are_inclusive(tmp_path: Path) -> None:
    raw = h.member(b"a", b"x" * 100) + h.member(b"b", b"y" * 100) + h.END
    path = _gz(tmp_path / "a.tar.gz", raw)
    assert len(read_members(path, max_members=2, max_member_bytes=100, max_total_bytes=200)) == 2
    _refused(path, "more than 1 members", "limit", max_members=1)
    _refused(path, "member 'a' is 100 bytes (limit 99)", "limit", max_member_bytes=99)
    _refused(path, "hold more than 199 bytes (limit 199)", "limit", max_total_bytes=199)
    _refused(path, "larger than the limit of 2000 bytes", "limit", max_stream_bytes=2000)


# ---------------------------------------------------------------------------------------------
# Hostile archives


@pytest.mark.parametrize("case", sorted(h.HOSTILE))
def test_hostile_archive_is_refused(tmp_path: Path, case: str) -> None:
    build, needle = h.HOSTILE[case]
    path = h.write(tmp_path / "hostile.tar.gz", build())
    assert path.stat().st_size < 2 * h.MIB  # small on disk, huge when believed
    err = _refused(path, needle, "limit")
    assert "limit" in str(err)


def test_long_name_header_names_the_member_and_the_limit(tmp_path: Path) -> None:
    path = h.write(tmp_path / "l.tar.gz", h.HOSTILE["long-name 'L' claims 1 GiB (zeros)"][0]())
    err = _refused(path, "declares 1073741824 bytes (limit 65536)", "limit")
    assert err.member == "././@LongLink"


@pytest.mark.parametrize(
    ("typeflag", "what"),
    [
        (b"1", "a hard link"),
        (b"2", "a symbolic link"),
        (b"3", "a character device"),
        (b"4", "a block device"),
        (b"5", "a directory"),
        (b"6", "a FIFO"),
        (b"S", "a GNU sparse file"),
        (b"V", "a volume label"),
        (b"Z", "of type b'Z'"),
    ],
)
def test_non_regular_members_are_refused(tmp_path: Path, typeflag: bytes, what: str) -> None:
    raw = h.member(b"manifest.json", b"{}") + h.header(b"patterns/x.md", 0, typeflag, linkname=b"/etc/passwd")
    err = _refused(_gz(tmp_path / "t.tar.gz", raw + h.END), f"is {what}, not a regular file", "type")
    assert err.member == "patterns/x.md"


def test_old_style_directory_is_refused(tmp_path: Path) -> None:
    _refused(_gz(tmp_path / "d.tar.gz", h.header(b"patterns/", 0, b"\0") + h.END), "is a directory", "type")


def test_pax_sparse_member_is_refused(tmp_path: Path) -> None:
    records = h.pax({"GNU.sparse.major": "1", "GNU.sparse.minor": "0"})
    raw = h.header(b"PaxHeaders/s", len(records), b"x") + h.padded(records) + h.member(b"s", b"") + h.END
    _refused(_gz(tmp_path / "s.tar.gz", raw), "sparse file", "type")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (b"/etc/evil.md", "absolute path"),
        (b"../evil.md", "'..' component"),
        (b"patterns/../../evil.md", "'..' component"),
        (b"patterns\\..\\evil.md", "backslash"),
        (b"patterns/a\nb.md", "control character"),
        (b"patterns/a.md/", "cannot end with '/'"),
        (b"", "it is empty"),
        (b"./.", "names no file"),
        (b"patterns/\xff.md", "not UTF-8"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, name: bytes, why: str) -> None:
    raw = h.header(name, 1, b"0") + h.padded(b"x") + h.END
    _refused(_gz(tmp_path / "n.tar.gz", raw), why, "name")


def test_unsafe_name_from_an_extended_header_is_refused(tmp_path: Path) -> None:
    records = h.pax({"path": "../../.ssh/authorized_keys"})
    raw = h.header(b"PaxHeaders/k", len(records), b"x") + h.padded(records) + h.member(b"k", b"key") + h.END
    _refused(_gz(tmp_path / "p.tar.gz", raw), "'..' component", "name")
    long = b"/etc/cron.d/evil\0"
    raw = (
        h.header(b"././@LongLink", len(long), b"L", gnu=True) + h.padded(long) + h.member(b"x", b"y") + h.END
    )
    _refused(_gz(tmp_path / "l.tar.gz", raw), "absolute path", "name")


def test_duplicates_are_refused_even_when_spelled_differently(tmp_path: Path) -> None:
    raw = h.member(b"patterns/a.md", b"1") + h.member(b"./patterns//a.md", b"2") + h.END
    err = _refused(_gz(tmp_path / "d.tar.gz", raw), "'patterns/a.md' appears twice", "duplicate")
    assert err.member == "patterns/a.md"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "not a gzip-compressed tar"),
        (b"PK\x03\x04 a zip file", "not a gzip-compressed tar"),
        (b"\x1f\x8b this is not gzip", "gzip data is corrupt"),
        (gzip.compress(h.member(b"a", b"x") + h.END)[:-20], "truncated"),
        (gzip.compress(h.member(b"a", b"x" * 600))[:-8] + b"\0\0\0\0\0\0\0\0", "gzip data is corrupt"),
        (gzip.compress(h.member(b"a", b"x") + h.END) + b"trailing junk", "not gzip"),
        (gzip.compress(b"not a tar header" * 40), "is corrupt"),
        (gzip.compress(h.header(b"a", 0)[:148] + b"0000000\0" + h.header(b"a", 0)[156:]), "bad checksum"),
        (gzip.compress(h.header(b"a", 100) + b"x" * 10), "truncated inside member"),
        (gzip.compress(h.header(b"a", 0)[:300]), "truncated inside header"),
        (gzip.compress(h.header(b"PaxHeaders/a", 5, b"x") + h.padded(b"5 x\n\n")), "bad record"),
        (
            gzip.compress(h.header(b"PaxHeaders/a", 11, b"x") + h.padded(h.pax({"size": "1x"})) + h.END),
            "size",
        ),
        (
            gzip.compress(h.header(b"PaxHeaders/a", 11, b"x") + h.padded(h.pax({"size": "10"})) + h.END),
            "ends after",
        ),
        (gzip.compress(b"".join(h.header(b"PaxHeaders/a", 0, b"x") for _ in range(9))), "in a row"),
        (
            gzip.compress(
                h.header(b"g", 13, b"g") + h.padded(h.pax({"path": "a.md"})) + h.member(b"b", b"") + h.END
            ),
            "sets 'path' for every member",
        ),
    ],
)
def test_corrupt_archives_are_refused(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(ArchiveError) as err:
        read_members(h.write(tmp_path / "c.tar.gz", data))
    assert needle in str(err.value), str(err.value)


def test_missing_file_is_an_io_error(tmp_path: Path) -> None:
    _refused(tmp_path / "missing.tar.gz", "cannot be opened", "io")
    _refused(tmp_path, "cannot be", "io")


def test_the_worst_case_stays_small_in_memory(tmp_path: Path) -> None:
    """tarfile needed 5.3 GB for this archive. Measured in a fresh interpreter as VmHWM (the peak of
    the child's own address space): ru_maxrss would also carry the forking pytest process's peak."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs Linux /proc for a clean per-process peak")
    path = h.write(tmp_path / "l.tar.gz", h.HOSTILE["long-name 'L' claims 1 GiB (zeros)"][0]())
    code = (
        "import sys; from factorops.tools.patterns.safe_tar import read_members, ArchiveError\n"
        "try:\n    read_members(__import__('pathlib').Path(sys.argv[2]))\nexcept ArchiveError:\n    pass\n"
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(HERE), str(path)], capture_output=True, text=True, check=True
    )
    assert int(out.stdout) < 100 * 1024, f"peak RSS {int(out.stdout) // 1024} MiB"  # KiB
