"""Shared fixtures: a real git project in a temp dir, a runtime on it, an in-process MCP client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import FactoropsServer, build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import search as pattern_search
from factorops.tools.registry import components


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Run every `async def` test under anyio (the SDK's own event-loop layer), no marker needed.

    anyio's plugin keeps an async fixture's set-up and tear-down in one task, which the MCP client's
    cancel scopes require.
    """
    import inspect

    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        marks = list(getattr(obj, "pytestmark", []))
        if not any(m.name == "anyio" for m in marks):
            obj.pytestmark = [*marks, pytest.mark.anyio]  # type: ignore[attr-defined]


def new_repo(root: Path, files: dict[str, str], message: str) -> Path:
    """A new git repository at `root` (made with its parents) whose first commit holds `files`."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    commit_files(root, files, message)
    return root


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
    """Run a real git command in `cwd` (with `input` on its stdin) and return stdout."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **GIT_ENV, **(env or {})},
    ).stdout


def commit_files(repo: Path, files: dict[str, str], message: str, when: datetime | None = None) -> str:
    """Write files and commit them; returns the commit sha."""
    for rel, text in files.items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(repo, "add", "--", *files)
    env = {}
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    git(repo, "commit", "-q", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty git repository with one commit, standing in for the user's project."""
    root = tmp_path / "proj"
    new_repo(root, {"README.md": "# demo project\n"}, "initial commit")
    return root


class Clock:
    """A settable clock, so tests of ages, expiry and decay need no sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def bulk_from_ten(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first index of ten files or more counts as a bulk one (the tests' repositories are small)."""
    from factorops.tools.context import index as repo_index

    monkeypatch.setattr(repo_index, "BULK_FROM", 10)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(project: Path) -> Iterator[Store]:
    s = Store.open(DataDir.for_project(project), components())
    yield s
    s.close()


@pytest.fixture
def runtime(project: Path, clock: Clock) -> Iterator[Runtime]:
    # A bare project (as after `init --no-starter`): tests/test_first_use.py covers the starters.
    rt = Runtime(project=project, clock=clock, use_roots=False, starters=False)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> FactoropsServer:
    return build_app(runtime)


@pytest.fixture
async def client(app: FactoropsServer) -> AsyncIterator[Client]:
    async with Client(app) as c:
        yield c


# -- helpers for tests that open the same project more than once ---------------------------------


@asynccontextmanager
async def served(project: Path, clock: Clock) -> AsyncIterator[tuple[Client, Runtime]]:
    """A bare runtime on `project` and an in-process client to it, closed on exit (the `runtime`
    and `client` fixtures, for a test that reopens the project)."""
    rt = Runtime(project=project, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(rt)) as c:
            yield c, rt
    finally:
        rt.close()


async def ok(c: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A tool call that must succeed: its structured result."""
    r = await c.call_tool(name, args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


def ledger_of(project: Path) -> Path:
    return DataDir.for_project(project).ledger_path


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def sqlite_top(store: Store, query: str, extra: dict[str, Any] | None = None, k: int = 5) -> list[str]:
    """patterns_search's exact answer from SQLite's own ranking of every matching row (FTS5's bm25()
    with the search's weights, minus confidence): no window, no planner. `extra`: the tool's filters."""
    where, args = sqlite_filters(extra)
    return [
        str(r[0])
        for r in store.db.execute(
            f"SELECT p.id, {pattern_search._BM25} - p.confidence AS k FROM patterns_fts f "
            f"JOIN patterns p ON p.rowid = f.rowid WHERE patterns_fts MATCH ? AND {where} "
            "ORDER BY k, f.rowid LIMIT ?",
            [pattern_search.fts_query(query), *args, k],
        )
    ]


def sqlite_filters(extra: dict[str, Any] | None) -> tuple[str, list[object]]:
    """The tool's filters (`status`, `kind`, `tags`) as SQL on `patterns p`, and its arguments;
    without a status, retired patterns are left out, as the tool does."""
    extra = extra or {}
    where = ["p.status = ?" if "status" in extra else "p.status != 'retired'"]
    args: list[object] = [extra["status"]] if "status" in extra else []
    if "kind" in extra:
        where.append("p.kind = ?")
        args.append(extra["kind"])
    for tag in extra.get("tags", []):
        where.append("EXISTS (SELECT 1 FROM json_each(p.tags) WHERE value = ?)")
        args.append(tag)
    return " AND ".join(where), args


# A raw client's `initialize`, over stdio or POSTed over HTTP (tests that speak JSON-RPC on the
# wire themselves).
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}


def probe_child(
    tmp_path: Path, script: str, calls: list[tuple[str, dict[str, object]]], marker: str, timeout: float = 180
) -> Any:
    """Run a probe `script` in a fresh Python on `tmp_path/project` with `calls` (`-P`: the
    repository root's `factorops/` folder is no import root), and read the JSON it prints after
    `marker`. The start-up tests see in it what a first call imports and asks."""
    out = subprocess.run(
        [sys.executable, "-P", "-c", script, str(tmp_path / "project"), json.dumps(calls)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.split(marker, 1)[1])
