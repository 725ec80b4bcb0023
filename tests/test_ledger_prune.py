"""The ledger's packer drops the loose copies of packed objects but keeps the `objects/xx/` folders
(issue #19): a write lands its objects in random folders, and creating a folder again after every
packing was a third of `pattern_record`'s growth from 100 to 10,000 records.

Real git repositories; the pack indexes are read by `store.git.PackIndex` and checked against
git's own listing (`git show-index`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factorops.store import git as gitrun
from factorops.store.datadir import DataDir
from factorops.store.ledger import Ledger

from .conftest import Clock, git, ledger_of, ok, served


def _loose(objects: Path) -> set[str]:
    return {
        f.parent.name + f.name
        for f in objects.glob("[0-9a-f][0-9a-f]/*")
        if len(f.name) == 38 and len(f.parent.name) == 2
    }


def _hash(ledger: Path, text: str) -> str:
    return git(ledger, "hash-object", "-w", "--stdin", input=text).strip()


def _pack(repo: Path, shas: list[str]) -> None:
    git(repo, "pack-objects", "-q", ".git/objects/pack/pack", input="\n".join(shas) + "\n")


def _listed(repo: Path, idx: Path) -> list[str]:
    """The object names of a pack index, as git lists them."""
    with idx.open("rb") as f:
        out = subprocess.run(
            ["git", "show-index"], stdin=f, cwd=repo, check=True, capture_output=True, text=True
        )
    return [line.split()[1] for line in out.stdout.splitlines()]


def test_a_pack_index_lists_exactly_the_objects_git_lists(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = [_hash(repo, f"object {i}\n") for i in range(300)]
    _pack(repo, shas)
    (idx,) = (repo / ".git/objects/pack").glob("pack-*.idx")
    listed = set(_listed(repo, idx))
    assert listed == set(shas)
    pack = gitrun.PackIndex.read(idx)
    assert pack is not None
    assert all(bytes.fromhex(s) in pack for s in shas)
    assert gitrun.pack_objects(idx) == pack.names() == {bytes.fromhex(s) for s in shas}
    # Names that are not there, at both ends of the fan-out and beside every listed one.
    others = [b"\x00" * 20, b"\xff" * 20] + [(int(s, 16) ^ 1).to_bytes(20, "big") for s in shas]
    assert not any(o in pack for o in others if o.hex() not in listed)
    assert "not bytes" not in pack and b"short" not in pack
    (tmp_path / "bad.idx").write_bytes(b"not an index")
    assert gitrun.PackIndex.read(tmp_path / "bad.idx") is None
    assert gitrun.PackIndex.read(tmp_path / "missing.idx") is None


async def test_packing_drops_the_packed_loose_copies_and_keeps_their_folders(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "100000")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "100000")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "0")
    ledger = ledger_of(project)
    objects = ledger / ".git" / "objects"
    async with served(project, clock) as (c, rt):
        for i in range(12):
            await ok(c, "pattern_record", {"title": f"Folder kept {i}", "solution": f"s {i}"})
        store = rt.opened
        assert store is not None
        store.ledger.wait_packer()
        # An object no ref reaches stays loose: packing does not pack it, so nothing drops it.
        orphan = _hash(ledger, "no ref reaches this\n")
        before = _loose(objects)
        folders = {s[:2] for s in before}
        assert len(before) > 40 and orphan in before
        store.ledger._pack_in_background()
    after = _loose(objects)
    assert after == {orphan}, len(after)
    # Every folder that held an object is still there, emptied.
    assert all((objects / f).is_dir() for f in folders)
    git(ledger, "fsck", "--no-dangling", "--no-progress")
    assert git(ledger, "cat-file", "-t", orphan).strip() == "blob"


async def test_loose_copies_stay_when_a_pack_goes_away_before_the_lock(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packs holding the loose objects are read without the lock; if one of them is gone once
    the lock is taken (a `git gc` replaced it), nothing is deleted on its word."""
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "100000")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "100000")
    ledger = ledger_of(project)
    objects = ledger / ".git" / "objects"
    async with served(project, clock) as (c, rt):
        for i in range(6):
            await ok(c, "pattern_record", {"title": f"Kept loose {i}", "solution": "s"})
        store = rt.opened
        assert store is not None
        store.ledger.wait_packer()
    git(ledger, "repack", "-q")  # packed, the loose copies still there
    loose = _loose(objects)
    assert len(loose) > 20
    listed = gitrun.packed_loose(objects)
    assert {p.parent.name + p.name for p in listed[0]} == loose
    real = gitrun.packed_loose

    def then_gc(path: Path) -> tuple[list[Path], list[Path]]:
        """The listing, then the pack replaced by another holding the same objects (as a gc
        would), the loose copies left alone."""
        got = real(path)
        for idx in got[1]:
            _pack(ledger, _listed(ledger, idx))
            idx.unlink()
            idx.with_suffix(".pack").unlink()
        return got

    monkeypatch.setattr(gitrun, "packed_loose", then_gc)
    led = Ledger(ledger, DataDir.for_project(project).lock_path)
    led._drop_packed_loose()
    assert _loose(objects) == loose
    monkeypatch.setattr(gitrun, "packed_loose", real)
    led._drop_packed_loose()
    assert _loose(objects) == set()
    git(ledger, "fsck", "--no-dangling", "--no-progress")
