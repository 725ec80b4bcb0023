"""A bulk first index (issue #19) inserts its full-text rows with FTS5's automatic merging off, then
turns it back on; a first index killed half-way has it turned back on by the next refresh. Searches
give the same rows in the same bm25 order as an index built file by file. Through the index API, a
real child process killed mid-build, and the MCP client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.context import build
from factorops.tools.context import index as repo_index
from factorops.tools.registry import components

from .conftest import Clock, new_repo

FILES = 250  # more than one chunk (build.CHUNK)
QUERIES = ['"parse"', '"render" OR "table"', '"helper_7"', '"lorem" AND "value"', 'path : "mod"']


def _module(i: int) -> str:
    words = ["parse", "render", "table", "lorem", "ipsum", "value"]
    body = "".join(f"    {words[(i + j) % 6]}_{j} = helper_{(i * j) % 11}({j})\n" for j in range(i % 9 + 1))
    return f'"""Module {i}: {" ".join(words[: i % 6 + 1])}"""\n\n\ndef helper_{i}(x):\n{body}    return x\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    new_repo(root, {f"pkg/mod_{i:04d}.py": _module(i) for i in range(FILES)}, "initial import")
    return root


def _automerge(store: Store) -> int | None:
    row = store.db.execute("SELECT v FROM repo_fts_config WHERE k = 'automerge'").fetchone()
    return None if row is None else int(row[0])


def _answers(store: Store) -> list[list[tuple[str, float]]]:
    return [
        store.db.execute(
            """SELECT f.path, round(bm25(repo_fts, 8.0, 4.0, 1.0), 9) AS s FROM repo_fts
               JOIN repo_files f ON f.rowid = repo_fts.rowid WHERE repo_fts MATCH ? ORDER BY s, f.path""",
            [q],
        ).fetchall()
        for q in QUERIES
    ]


def test_a_bulk_first_index_inserts_with_merging_off_and_turns_it_back_on(
    repo: Path, tmp_path: Path, bulk_from_ten: None
) -> None:
    store = Store.open(DataDir.for_project(repo), components())
    seen: list[int | None] = []
    try:
        build.ensure_index(store, progress=lambda _d, _t, _m: seen.append(_automerge(store)))
        assert seen and all(level == 0 for level in seen), seen
        assert _automerge(store) == repo_index.FTS_AUTOMERGE
        bulk = _answers(store)
    finally:
        store.close()
    assert all(bulk), bulk
    # The same files indexed file by file (no bulk): the same rows, in the same bm25 order.
    repo_index.BULK_FROM = 10**9
    other = tmp_path / "data-serial"
    serial_store = Store.open(DataDir.for_project(repo, other), components())
    try:
        build.ensure_index(serial_store)
        assert _answers(serial_store) == bulk
    finally:
        serial_store.close()


KILLED_BUILD = """
import os, sys
from pathlib import Path
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.context import build
from factorops.tools.context import index as repo_index
from factorops.tools.registry import components
repo_index.BULK_FROM = 10
store = Store.open(DataDir.for_project(Path(sys.argv[1])), components())
build.ensure_index(store, progress=lambda done, _t, _m: os._exit(3))  # killed after its first chunk
"""


async def test_a_killed_first_index_gets_merging_back_on(repo: Path, clock: Clock) -> None:
    got = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(repo)], capture_output=True, text=True, timeout=300
    )
    assert got.returncode == 3, got.stderr
    store = Store.open(DataDir.for_project(repo), components())
    try:
        assert _automerge(store) == 0  # what the killed build left
        n = store.db.execute("SELECT COUNT(*) FROM repo_files").fetchone()[0]
        assert 0 < n < FILES
    finally:
        store.close()
    runtime = Runtime(project=repo, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            r = await c.call_tool("context_load", {"task": "helper_7 parse", "budget_tokens": 2000})
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
        store = await runtime.store()
        assert store.db.execute("SELECT COUNT(*) FROM repo_files").fetchone()[0] == FILES
        assert _automerge(store) == repo_index.FTS_AUTOMERGE
    finally:
        runtime.close()
