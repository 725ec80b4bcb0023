"""The first index of a big repository (issue #19), through the MCP client: its by-name indexes are
built once after the rows, and whatever stops the build half-way, the next load has them again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.context import build
from factorops.tools.context import index as repo_index

from .conftest import Clock, commit_files, git

FILES = 250  # three chunks of build.CHUNK files


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {
        f"pkg/mod_{i:04d}.py": f"def helper_{i}(x):\n    return shared_total(x) + {i}\n" for i in range(FILES)
    }
    files["pkg/aaa_totals.py"] = "def shared_total(x):\n    return x * 2\n"
    commit_files(root, files, "initial import")
    return root


def _indexes(root: Path) -> set[str]:
    with sqlite3.connect(root / ".agentops" / "agentops.db") as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


async def _load(c: Client, task: str) -> Any:
    return await c.call_tool("context_load", {"task": task, "budget_tokens": 2000})


async def test_a_first_index_stopped_half_way_gets_its_name_indexes_back(
    repo: Path, clock: Clock, bulk_from_ten: None
) -> None:
    seen: list[set[str]] = []

    def stop(done: int, total: int) -> None:
        seen.append(_indexes(repo))
        raise RuntimeError("the build stops here")

    old = build.after_chunk
    build.after_chunk = stop
    runtime = Runtime(project=repo, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            stopped = await _load(c, "shared total")
            assert stopped.is_error  # the build failed after its first chunk: nothing is half-written
            assert seen and not {n for n, _on in repo_index.NAME_INDEXES} & seen[0]  # built after the rows
            assert {n for n, _on in repo_index.NAME_INDEXES} <= _indexes(repo)  # put back on the way out
            build.after_chunk = None
            r = await _load(c, "who calls shared_total")
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
            got = r.structured_content or {}
            assert "pkg/aaa_totals.py" in {i["path"] for i in got["items"]} | set(got.get("map", []))
    finally:
        build.after_chunk = old
        runtime.close()
    assert {n for n, _on in repo_index.NAME_INDEXES} <= _indexes(repo)
    with sqlite3.connect(repo / ".agentops" / "agentops.db") as db:
        assert db.execute("SELECT COUNT(*) FROM repo_files").fetchone()[0] == FILES + 1
        plan = db.execute("EXPLAIN QUERY PLAN SELECT path FROM repo_refs WHERE name = 'x'").fetchall()
        assert "repo_refs_name" in str(plan)


async def test_a_first_index_killed_after_its_last_chunk_gets_its_name_indexes_back(
    repo: Path, clock: Clock, bulk_from_ten: None
) -> None:
    """A process killed between the last chunk and the index build runs no `finally`, and every file
    is indexed, so the next load takes the warm path: it still puts the indexes back."""
    runtime = Runtime(project=repo, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            assert not (await _load(c, "shared total")).is_error
    finally:
        runtime.close()
    with sqlite3.connect(repo / ".agentops" / "agentops.db") as db:  # what the kill leaves
        for name, _on in repo_index.NAME_INDEXES:
            db.execute(f"DROP INDEX {name}")
    runtime = Runtime(project=repo, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            r = await _load(c, "who calls shared_total")
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    finally:
        runtime.close()
    assert {n for n, _on in repo_index.NAME_INDEXES} <= _indexes(repo)


async def test_a_load_during_a_bulk_first_index_answers_from_what_is_indexed(
    repo: Path, clock: Clock, bulk_from_ten: None
) -> None:
    """While the name indexes are not built yet, a load still answers (from the files indexed so far)."""
    paused, release = threading.Event(), threading.Event()

    def hold(done: int, total: int) -> None:
        if done < total and not paused.is_set():
            paused.set()
            assert release.wait(60), "the test never released the build"

    old = build.after_chunk
    build.after_chunk = hold
    runtime = Runtime(project=repo, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_load, c, "shared total")
                assert await anyio.to_thread.run_sync(paused.wait, 60)
                assert not {n for n, _on in repo_index.NAME_INDEXES} & _indexes(repo)
                r = await _load(c, "who calls shared_total")
                release.set()
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
            got = r.structured_content or {}
            warning = next(w for w in got["warnings"] if "being built" in w)
            assert f"100 of {FILES + 1} files" in warning, warning
            assert "pkg/aaa_totals.py" in {i["path"] for i in got["items"]} | set(got.get("map", []))
    finally:
        release.set()
        build.after_chunk = old
        runtime.close()
    assert {n for n, _on in repo_index.NAME_INDEXES} <= _indexes(repo)
