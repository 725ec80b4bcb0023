"""Ledger writes that stay cheap as records pile up (issue #19): sharded pattern folders, the move of
an older flat ledger into them, and packing loose objects in the background while writes go on.

Everything goes through the MCP client on real git repositories; the packing thresholds are
lowered through the environment variables the ledger reads at open.
"""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from factorops.store import ledger_layout
from factorops.tools.kernel.ids import new_id
from factorops.tools.patterns import records
from factorops.tools.patterns.model import Pattern

from .conftest import Clock, git, ledger_of, ok, served

SHARDED = re.compile(r"patterns/[0-9a-f]{2}/[^/]+\.md")


def tree(ledger: Path) -> list[str]:
    return git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines()


async def test_patterns_are_written_into_shard_folders(project: Path, clock: Clock) -> None:
    async with served(project, clock) as (c, _):
        ids = [
            (await ok(c, "pattern_record", {"title": f"Pattern {i}", "solution": "s"}))["id"]
            for i in range(5)
        ]
        again = await ok(c, "pattern_record", {"id": ids[0], "title": "Pattern 0", "solution": "changed"})
        assert again["id"] == ids[0]
    ledger = ledger_of(project)
    files = [p for p in tree(ledger) if p.startswith("patterns/")]
    assert sorted(files) == sorted(ledger_layout.pattern_path(i) for i in ids)
    assert all(SHARDED.fullmatch(p) for p in files), files
    # The top patterns/ tree holds shard folders only, never one entry per pattern.
    assert all(line.split()[1] == "tree" for line in git(ledger, "ls-tree", "HEAD:patterns").splitlines())
    assert "changed" in (ledger / ledger_layout.pattern_path(ids[0])).read_text()
    assert git(ledger, "config", "core.splitIndex").strip() == "true"
    assert git(ledger, "status", "--porcelain") == ""


def _make_flat(ledger: Path) -> list[str]:
    """Turn the ledger into what factorops wrote before sharding: patterns/<id>.md, one commit,
    and the git settings of then (no split index)."""
    moved = []
    for rel in [p for p in tree(ledger) if SHARDED.fullmatch(p)]:
        flat = "patterns/" + rel.rsplit("/", 1)[1]
        git(ledger, "mv", rel, flat)
        moved.append(flat)
    git(ledger, "commit", "-q", "-m", "pattern: the flat layout of older factorops")
    git(ledger, "config", "--unset", "core.splitIndex")
    git(ledger, "config", "--unset", "splitIndex.sharedIndexExpire")
    return moved


async def test_a_flat_ledger_is_moved_into_shards_in_one_commit_and_keeps_working(
    project: Path, clock: Clock
) -> None:
    async with served(project, clock) as (c, _):
        ids = [
            (await ok(c, "pattern_record", {"title": f"Quoting rule {i}", "solution": "quote it"}))["id"]
            for i in range(4)
        ]
    ledger = ledger_of(project)
    flat = _make_flat(ledger)
    assert sorted(flat) == sorted(f"patterns/{i}.md" for i in ids)
    # A person's uncommitted edit of a flat file, and an untracked note of theirs in patterns/.
    edited = ledger / f"patterns/{ids[1]}.md"
    edited.write_text(edited.read_text().replace("quote it", "quote it, by hand"))
    (ledger / "patterns" / "notes.md").write_text("my notes\n")
    commits_before = int(git(ledger, "rev-list", "--count", "HEAD"))

    async with served(project, clock) as (c, _):
        found = await ok(c, "patterns_search", {"query": "Quoting rule"})
        assert {r["id"] for r in found["results"]} == set(ids)
        updated = await ok(c, "pattern_record", {"id": ids[0], "title": "Quoting rule 0", "solution": "new"})
        assert updated["id"] == ids[0] and not updated.get("created")

    files = tree(ledger)
    assert not [p for p in files if re.fullmatch(r"patterns/[^/]+\.md", p)], files
    assert sorted(p for p in files if p.startswith("patterns/")) == sorted(
        ledger_layout.pattern_path(i) for i in ids
    )
    subjects = git(ledger, "log", "--format=%s").splitlines()
    assert sum("shard folders" in s for s in subjects) == 1
    assert len(subjects) == commits_before + 2  # the move, then the update
    assert "new" in (ledger / ledger_layout.pattern_path(ids[0])).read_text()
    # The person's edit moved with its file and is still theirs to commit; their note stayed put.
    assert "by hand" in (ledger / ledger_layout.pattern_path(ids[1])).read_text()
    status = git(ledger, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == sorted([f" M {ledger_layout.pattern_path(ids[1])}", "?? patterns/notes.md"])
    assert git(ledger, "config", "core.splitIndex").strip() == "true"


def _objects(ledger: Path) -> dict[str, int]:
    out = git(ledger, "count-objects", "-v")
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines()) if v.isdigit()}


async def test_loose_objects_are_packed_in_the_background_while_writes_go_on(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "4")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "0")
    ledger = ledger_of(project)
    async with served(project, clock) as (c, rt):
        # The first commit and every 4th after it look at the loose objects: 41 writes end on a look,
        # made while earlier rounds may still be packing.
        ids = [
            (await ok(c, "pattern_record", {"title": f"Packed {i}", "solution": "x" * 300}))["id"]
            for i in range(41)
        ]
        store = rt.opened
        assert store is not None
        store.ledger.wait_packer()
        assert store.db.execute("SELECT COUNT(*) FROM patterns").fetchone()[0] == 41
    stats = _objects(ledger)
    # The objects the 41 writes made are packed, but for fewer than an eighth of the packed ones
    # (what the packer leaves loose, PACK_FRACTION).
    assert stats["packs"] >= 1 and stats["count"] <= stats["in-pack"] // 8, stats
    # Every write landed, and nothing the packs replaced is missing.
    assert sorted(p for p in tree(ledger) if p.startswith("patterns/")) == sorted(
        ledger_layout.pattern_path(i) for i in ids
    )
    git(ledger, "fsck", "--no-dangling", "--no-progress")


async def test_a_bulk_write_returns_only_once_the_packer_caught_up(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bulk commits (mining, imports: hundreds of records each) come faster than a packer; each
    waits, after the ledger lock is released, for the packer it started, so however many land in a
    row the loose objects never pile up past the threshold (disk <= 2x packed at any time)."""
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "0")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "40")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "40")
    ledger = ledger_of(project)
    async with served(project, clock) as (c, rt):
        await ok(c, "pattern_record", {"title": "Opens the store", "solution": "x"})
        store = rt.opened
        assert store is not None
        store.ledger.wait_packer()
        ids: list[str] = []
        for batch in range(6):
            ps = []
            for i in range(30):  # 30 blobs, their shard trees, patterns/, the root and the commit
                clock.advance(seconds=1)
                p = Pattern(
                    id=new_id("pat", clock.now),
                    title=f"Bulk rule {batch} {i}",
                    kind="pattern",
                    status="candidate",
                    solution=f"do {batch} {i} " * 20,
                    source="assistant",
                    created=clock.now,
                    updated=clock.now,
                )
                ps.append(p)
                ids.append(p.id)
            await anyio.to_thread.run_sync(records.save_many, store, ps, f"bulk {batch}", {"Factor": "IX"})
            stats = _objects(ledger)  # right after the call returned: no waiting here
            assert stats["count"] <= max(40, stats["in-pack"] // 8), (batch, stats)
    assert {ledger_layout.pattern_path(i) for i in ids} <= set(tree(ledger))
    git(ledger, "fsck", "--no-dangling", "--no-progress")


async def test_packs_are_merged_and_nothing_stored_goes_missing(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packs do not delta against each other, so the packer merges them into one once there are
    FACTOROPS_LEDGER_PACK_MERGE; an older pack is deleted only when the merged one holds all of
    its objects, so an object no ref reaches (here a hand-packed blob) stays readable."""
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "2")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "0")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MERGE", "3")
    ledger = ledger_of(project)
    async with served(project, clock) as (c, rt):
        ids = [(await ok(c, "pattern_record", {"title": "Opens the store", "solution": "x"}))["id"]]
        store = rt.opened
        assert store is not None
        store.ledger.wait_packer()
        orphan = git(ledger, "hash-object", "-w", "--stdin", input="no ref reaches this\n").strip()
        git(ledger, "pack-objects", "-q", ".git/objects/pack/pack", input=orphan + "\n")
        git(ledger, "prune-packed")
        most = 0
        for i in range(40):
            ids.append(
                (await ok(c, "pattern_record", {"title": f"Merged {i}", "solution": f"do {i} " * 40}))["id"]
            )
            if i % 4 == 3:
                store.ledger.wait_packer()
                most = max(most, _objects(ledger)["packs"])
        store.ledger.wait_packer()
        stats = _objects(ledger)
    # Twenty packing rounds ran; merged, the ledger never held more packs than the merge point.
    assert 1 <= most <= 3 and stats["packs"] <= 3, (most, stats)
    assert git(ledger, "cat-file", "-t", orphan).strip() == "blob"
    assert sorted(p for p in tree(ledger) if p.startswith("patterns/")) == sorted(
        ledger_layout.pattern_path(i) for i in ids
    )
    git(ledger, "fsck", "--no-dangling", "--no-progress")


async def test_a_pack_the_merge_keeps_does_not_make_every_look_merge_again(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pack the merge must keep (here a hand-packed blob no ref reaches) still counts as a pack;
    the packer merges again only once a new pack has come, not at every look (git's own trace of
    the server's git commands counts the `repack -a` runs)."""
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "2")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "100000")  # looks, but no new packs
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MERGE", "2")
    ledger = ledger_of(project)
    trace = tmp_path / "git-trace"
    async with served(project, clock) as (c, rt):
        await ok(c, "pattern_record", {"title": "Opens the store", "solution": "x"})
        store = rt.opened
        assert store is not None
        store.ledger.wait_packer()
        git(ledger, "repack", "-q")
        orphan = git(ledger, "hash-object", "-w", "--stdin", input="no ref reaches this\n").strip()
        git(ledger, "pack-objects", "-q", ".git/objects/pack/pack", input=orphan + "\n")
        monkeypatch.setenv("GIT_TRACE", str(trace))
        for i in range(20):  # ten looks of the packer
            await ok(c, "pattern_record", {"title": f"Looked at {i}", "solution": "y"})
            store.ledger.wait_packer()
        monkeypatch.delenv("GIT_TRACE")
    merges = trace.read_text().count(" repack -a ")
    assert merges == 1, merges  # the first look merges (two packs); the kept pack is not merged again
    assert git(ledger, "cat-file", "-t", orphan).strip() == "blob"
    git(ledger, "fsck", "--no-dangling", "--no-progress")
