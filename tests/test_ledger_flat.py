"""Ledger writes without the git index, and loose objects packed by count (issue #19).

A commit is built from its parent's trees (only the changed paths rewritten), the git index is
given the new entries (never scanned), and `git update-ref HEAD new old` lands it. These tests hold
the ledger to what that must keep: a person's `git commit -a` right after writes keeps every
record, a write of another process is built upon, a kill -9 mid-write leaves a consistent ledger,
and the background packer keeps the loose objects under its threshold however many writes land
(counts, never times).

Real git repositories, the MCP client in-process or the real `factorops serve` over stdio, and the
CLI as a subprocess; thresholds come through the environment variables the ledger reads at open.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from factorops.store import ledger_layout
from factorops.store.datadir import DataDir

from .conftest import Clock, git, ledger_of, ok, served
from .stdio_server import kill_after_first_ack, server_params


def tracked(ledger: Path) -> set[str]:
    return set(git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines())


def objects(ledger: Path) -> dict[str, int]:
    out = git(ledger, "count-objects", "-v")
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines()) if v.isdigit()}


def assert_consistent(ledger: Path) -> None:
    """fsck clean, the git index what HEAD has, nothing uncommitted: what a person sees is right."""
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=ledger, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-status", "HEAD"], cwd=ledger, capture_output=True, text=True
    )
    assert staged.returncode == 0 and staged.stdout == "", staged.stdout
    assert git(ledger, "status", "--porcelain", "--untracked-files=all") == ""


async def test_a_persons_commit_right_after_writes_keeps_every_record(project: Path, clock: Clock) -> None:
    """Commits are built without reading the git index, but the index gets their entries before
    the write is acknowledged: a person's `git commit -a` at any moment commits only their edit
    (an index lagging behind HEAD would make it delete the newest records)."""
    ledger = ledger_of(project)
    async with served(project, clock) as (c, _):
        first = await ok(c, "pattern_record", {"title": "Quote shell variables", "solution": 'use "$x"'})
        ids = [first["id"]]
        for i in range(5):
            ids.append((await ok(c, "pattern_record", {"title": f"Rule {i}", "solution": "s" * 50}))["id"])
        await ok(c, "pattern_record", {"id": ids[0], "title": "Quote shell variables", "solution": "always"})
        sid = (await ok(c, "session_start", {"goal": "flat writes"}))["session_id"]
        await ok(c, "checkpoint_save", {"session_id": sid, "summary": "halfway"})
        assert_consistent(ledger)
        # A person edits one record and commits everything, while the server still runs.
        edited = ledger / ledger_layout.pattern_path(ids[2])
        edited.write_text(edited.read_text().replace("s" * 50, "by hand"))
        git(ledger, "commit", "-qam", "hand edit")
        changed = git(ledger, "show", "--name-status", "--format=", "HEAD").split()
        assert changed == ["M", ledger_layout.pattern_path(ids[2])]
        assert {ledger_layout.pattern_path(i) for i in ids} <= tracked(ledger)
        assert "always" in git(ledger, "show", f"HEAD:{ledger_layout.pattern_path(ids[0])}")
        # The server writes on top of the person's commit.
        await ok(c, "pattern_record", {"title": "After the hand edit", "solution": "fine"})
    assert_consistent(ledger)
    out = subprocess.run(
        [sys.executable, "-m", "factorops", "doctor", "--project", str(project)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


async def test_a_write_of_another_process_is_built_upon_and_indexed(project: Path, clock: Clock) -> None:
    ledger = ledger_of(project)
    async with served(project, clock) as (c, _):
        mine = [
            (await ok(c, "pattern_record", {"title": f"Mine {i}", "solution": "x"}))["id"] for i in range(2)
        ]
        # Another server process writes on top of ours while this one still runs (and its index lags).
        async with Client(server_params(project)) as other:
            theirs = (await ok(other, "pattern_record", {"title": "Theirs", "solution": "y"}))["id"]
        # A teammate's record arrives by hand (as a sync merge would): committed, never indexed.
        hand = "pat-20261125-120000-abcdef01"
        path = ledger_layout.pattern_path(hand)
        (ledger / path).parent.mkdir(parents=True, exist_ok=True)
        source = (ledger / ledger_layout.pattern_path(theirs)).read_text()
        (ledger / path).write_text(source.replace(theirs, hand).replace("Theirs", "By hand"))
        git(ledger, "add", "--", path)
        git(ledger, "commit", "-q", "-m", "teammate's record")
        # This process's next write has its parent written by the others.
        after = (await ok(c, "pattern_record", {"title": "After them", "solution": "z"}))["id"]
        head = git(ledger, "rev-parse", "HEAD").strip()
        assert git(ledger, "rev-parse", "HEAD~1").strip() != head
    paths = {ledger_layout.pattern_path(i) for i in [*mine, theirs, hand, after]}
    assert paths <= tracked(ledger)
    assert_consistent(ledger)
    db = sqlite3.connect(DataDir.for_project(project).db_path)
    try:
        rows = {r[0] for r in db.execute("SELECT id FROM patterns")}
    finally:
        db.close()
    # Every factorops process indexed its own write; the hand commit waits for a rebuild.
    assert {*mine, theirs, after} <= rows
    out = subprocess.run(
        [sys.executable, "-m", "factorops", "rebuild", "--project", str(project)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    async with served(project, clock) as (c, _):
        found = await ok(c, "patterns_search", {"query": "By hand"})
        assert hand in {r["id"] for r in found["results"]}


async def test_loose_objects_stay_under_the_threshold_however_many_writes_land(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looks are triggered by objects written (every 40), not by commits (never, here).
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "0")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "40")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "40")
    ledger = ledger_of(project)
    async with served(project, clock) as (c, rt):
        store = rt.opened
        for i in range(60):
            await ok(c, "pattern_record", {"title": f"Packed rule {i}", "solution": f"do {i} " * 30})
            store = rt.opened
            assert store is not None
            if i % 20 == 19:
                store.ledger.wait_packer()
                stats = objects(ledger)
                # At most the threshold, plus what was written since the last look (< 40 objects,
                # and one write's five: blob, shard tree, patterns/ tree, root tree, commit).
                limit = max(40, stats["in-pack"] // 8) + 40 + 5
                assert stats["count"] <= limit, stats
        assert store is not None
        store.ledger.wait_packer()
        stats = objects(ledger)
        assert stats["packs"] >= 1 and stats["in-pack"] + stats["count"] >= 60 * 5, stats
        assert stats["count"] <= max(40, stats["in-pack"] // 8) + 45, stats
        # Each round packs at least an eighth of the packed objects: a few packs, not one per look.
        assert stats["packs"] <= 8, stats
    assert_consistent(ledger)


def split_part(ledger: Path) -> tuple[int, str]:
    """The size of the split index's own part and the name of the shared index it points to."""
    shared = [f.name for f in (ledger / ".git").iterdir() if f.name.startswith("sharedindex.")]
    return (ledger / ".git" / "index").stat().st_size, ",".join(sorted(shared))


async def test_a_refreshed_split_index_is_folded_by_the_next_write(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's `git status` refreshes the stat data of every entry; git keeps those entries in
    the split index's own part, which every write then reads and rewrites whole (git's own fold
    counts only new entries). Past FACTOROPS_LEDGER_INDEX_FOLD_BYTES the next write folds it."""
    monkeypatch.setenv("FACTOROPS_LEDGER_INDEX_FOLD_BYTES", "2048")
    ledger = ledger_of(project)
    async with served(project, clock) as (c, _):
        for i in range(60):
            await ok(c, "pattern_record", {"title": f"Folded rule {i}", "solution": "s"})
        small, _ = split_part(ledger)
        assert small <= 2048 + 200, small
        # Records written a while ago (entries younger than the index are racy: git keeps those in
        # the own part whatever happens), then what a person's prompt or editor runs.
        for path in tracked(ledger):
            os.utime(ledger / path, (1_700_000_000, 1_700_000_000))
        git(ledger, "status", "--porcelain")
        refreshed, shared = split_part(ledger)
        assert refreshed > 2048, refreshed  # every entry refreshed now sits in the own part
        last = (await ok(c, "pattern_record", {"title": "After the refresh", "solution": "s"}))["id"]
        after, shared_after = split_part(ledger)
        assert after < 1024 and shared_after != shared, (after, shared_after)
        assert ledger_layout.pattern_path(last) in tracked(ledger)
    assert_consistent(ledger)


async def _crash_trial(project: Path, acked: list[str], rng: random.Random) -> None:
    first_ack = anyio.Event()

    async def writer(c: Client) -> None:
        n = 0
        while True:
            r = await c.call_tool(
                "pattern_record", {"title": f"Crash rule {len(acked)} {n}", "solution": "s"}
            )
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
            acked.append(r.structured_content["id"])  # type: ignore[index]
            first_ack.set()
            n += 1

    env = {"FACTOROPS_LEDGER_PACK_OBJECTS": "20", "FACTOROPS_LEDGER_PACK_MIN_OBJECTS": "0"}
    try:
        async with (
            Client(server_params(project, env=env), read_timeout_seconds=30) as c,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(writer, c)
            await kill_after_first_ack(project, first_ack, rng, 0.4)
            tg.cancel_scope.cancel()
    except Exception:  # noqa: S110 - the connection dies with the server; that is the point
        pass


async def test_kill_9_mid_write_leaves_a_consistent_ledger(project: Path, clock: Clock) -> None:
    rng = random.Random(19)
    acked: list[str] = []
    for _ in range(6):
        await _crash_trial(project, acked, rng)
    assert len(acked) >= 6
    ledger = ledger_of(project)
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=ledger, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    # Every acknowledged write is committed, whatever the index of the killed writers was doing.
    assert {ledger_layout.pattern_path(i) for i in acked} <= tracked(ledger)
    # The next open repairs (the lagging index brought up, a killed writer's files put back) and
    # catches up; the server keeps writing, and the CLI's doctor then finds nothing wrong.
    async with served(project, clock) as (c, rt):
        again = await ok(c, "pattern_record", {"title": "After the crashes", "solution": "fine"})
        store = rt.opened
        assert store is not None
        rows = {r[0] for r in store.db.execute("SELECT id FROM patterns")}
    out = subprocess.run(
        [sys.executable, "-m", "factorops", "doctor", "--project", str(project)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert {*acked, again["id"]} <= rows
    assert_consistent(ledger)
