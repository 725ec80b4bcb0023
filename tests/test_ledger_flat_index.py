"""A ledger write gives git's index its new entries without git reading the whole index (issue #19).

`git update-index` reads every entry of the index (the split index's shared part holds one per
record) before it adds one: at 10,000 records that was the part of `pattern_record` and
`checkpoint_save` that grew with the record count. The store now writes the split part itself
(`store/git_index.py`). These tests measure what git reads from git itself (trace2's
`read/cache_nr`, the entries each git process loaded from an index) during writes through the MCP
client, and hold the index to what HEAD has: `git status` clean, `git diff --cached` empty, every
record in `git ls-files`, whether the split part is folded by git, or the index is one the store
leaves to git (not split, another version).

Real git repositories, real git processes, the MCP client in-process; counts, never times.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from factorops.store import git_index
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records
from factorops.tools.patterns.model import Pattern
from factorops.tools.registry import components

from .conftest import Clock, git, ledger_of, ok, served

RECORDS = 1500  # patterns in the ledger before the measured writes


def fill(project: Path, clock: Clock, n: int) -> None:
    """`n` patterns in the ledger, 500 a commit (as mining writes them)."""
    with Store.open(DataDir.for_project(project), components()) as store:
        for start in range(0, n, 500):
            batch = [
                Pattern(
                    id=f"pat-20261125-{i:06d}",
                    title=f"Retry the flaky call {i}",
                    kind="pattern",
                    status="candidate",
                    solution="Retry with backoff.",
                    tags=["net"],
                    source="assistant",
                    created=clock.now + timedelta(microseconds=i),
                    updated=clock.now + timedelta(microseconds=i),
                )
                for i in range(start, min(n, start + 500))
            ]
            records.save_many(store, batch, f"fill: {len(batch)} patterns", {"Factor": "IX"})


def index_reads(trace: Path) -> list[tuple[str, int]]:
    """Every index a git process loaded while `trace` was set: (its command, how many entries)."""
    argv: dict[str, str] = {}
    reads: list[tuple[str, int]] = []
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        sid = event.get("sid", "")
        if event.get("event") == "start":
            argv[sid] = " ".join(event.get("argv", [])[1:3])
        elif event.get("event") == "data" and event.get("key") == "read/cache_nr":
            reads.append((argv.get(sid, "?"), int(event["value"])))
    return reads


def assert_index_is_head(ledger: Path) -> None:
    """What a person sees: the index exactly what HEAD has, nothing staged or untracked."""
    assert git(ledger, "diff", "--cached", "--name-status", "HEAD") == ""
    assert git(ledger, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(ledger, "ls-files", "-s") == git(
        ledger, "ls-tree", "-r", "--format=%(objectmode) %(objectname) 0\t%(path)", "HEAD"
    )


@pytest.fixture
def no_packer(monkeypatch: pytest.MonkeyPatch) -> None:
    # The background packer's `git repack` reads the index by design (objects it references are
    # kept); it is not part of a write.
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "0")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "0")


async def test_a_write_reads_no_index_entry_per_record(
    project: Path, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_packer: None
) -> None:
    fill(project, clock, RECORDS)
    ledger = ledger_of(project)
    trace = tmp_path / "trace2.json"
    async with served(project, clock) as (c, _):
        sid = (await ok(c, "session_start", {"goal": "index reads"}))["session_id"]  # opens the store
        # A known start: every entry in the shared index, the split part empty (what git's fold of
        # the split part leaves; a `git status` that refreshed entries may have left up to all).
        git(ledger, "update-index", "--split-index")
        monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
        for i in range(5):
            clock.advance(seconds=1)
            await ok(c, "pattern_record", {"title": f"Measured {i}", "solution": "Run the migrations first."})
            await ok(
                c, "checkpoint_save", {"session_id": sid, "summary": f"step {i}", "files_touched": ["a.py"]}
            )
        monkeypatch.delenv("GIT_TRACE2_EVENT")
    reads = index_reads(trace)
    # The ledger's index holds an entry per record (1,500+); the project's own index (the checkpoint's
    # `git status` of the user's repository) one. Before: `git update-index` loaded all 1,500.
    big = [(cmd, n) for cmd, n in reads if n > 100]
    assert big == [], f"git processes that read an index entry per record during writes: {big}"
    assert_index_is_head(ledger)
    assert len(git(ledger, "ls-files").splitlines()) > RECORDS + 10


async def test_the_split_part_stays_small_and_git_folds_it(
    project: Path, clock: Clock, no_packer: None
) -> None:
    """More new files than the split part may hold: git folds them into a new shared index, and the
    part the store rewrites on every write stays bounded (the bytes a write rewrites)."""
    ledger = ledger_of(project)
    sizes = []
    async with served(project, clock) as (c, _):
        for i in range(git_index.MAX_ADDED + 20):
            clock.advance(seconds=1)
            await ok(c, "pattern_record", {"title": f"Pattern {i}", "solution": "Keep it small."})
            sizes.append((ledger / ".git" / "index").stat().st_size)
    shared = list((ledger / ".git").glob("sharedindex.*"))
    assert len(shared) == 1  # expired ones removed at once (splitIndex.sharedIndexExpire=now)
    assert max(sizes) < 150 * git_index.MAX_ADDED  # about 100 bytes an entry, never every record
    assert_index_is_head(ledger)


@pytest.mark.parametrize(
    "setup",
    [
        ("-c", "core.splitIndex=false", "update-index", "--no-split-index"),
        (
            "-c",
            "core.splitIndex=false",
            "-c",
            "index.version=2",
            "update-index",
            "--no-split-index",
            "--index-version",
            "2",
        ),
    ],
    ids=["not split", "version 2, not split"],
)
async def test_an_index_the_store_does_not_write_is_left_to_git(
    project: Path, clock: Clock, setup: tuple[str, ...], no_packer: None
) -> None:
    """A person turned the split index off (or git wrote another version): writes still land in the
    index, through git."""
    ledger = ledger_of(project)
    async with served(project, clock) as (c, _):
        await ok(c, "pattern_record", {"title": "First", "solution": "One."})
        subprocess.run(["git", *setup], cwd=ledger, check=True)
        assert b"link" not in (ledger / ".git" / "index").read_bytes()  # no split index extension
        for i in range(3):
            clock.advance(seconds=1)
            await ok(c, "pattern_record", {"title": f"Then {i}", "solution": "Two."})
            sid = (await ok(c, "session_start", {"goal": f"goal {i}"}))["session_id"]
            await ok(c, "checkpoint_save", {"session_id": sid, "summary": "half"})
        assert_index_is_head(ledger)


async def test_a_changed_record_and_a_busy_index_go_through_git(
    project: Path, clock: Clock, no_packer: None
) -> None:
    """A write that changes a file (not only adds) is given to git; so is one while a git command of
    a person holds the index lock, which fails clearly and leaves nothing half-written."""
    ledger = ledger_of(project)
    async with served(project, clock) as (c, _):
        pid = (await ok(c, "pattern_record", {"title": "Draft", "solution": "One."}))["id"]
        clock.advance(seconds=1)
        await ok(c, "pattern_record", {"id": pid, "title": "Draft, better", "solution": "Two."})
        assert_index_is_head(ledger)
        head = git(ledger, "rev-parse", "HEAD")
        lock = ledger / ".git" / "index.lock"
        lock.write_text("")
        try:
            r = await c.call_tool("pattern_record", {"title": "Blocked", "solution": "Three."})
            assert r.is_error
            assert "index.lock" in r.content[0].text  # type: ignore[union-attr]
        finally:
            lock.unlink()
        assert git(ledger, "rev-parse", "HEAD") == head
        assert_index_is_head(ledger)
        await ok(c, "pattern_record", {"title": "Unblocked", "solution": "Four."})
        assert_index_is_head(ledger)
