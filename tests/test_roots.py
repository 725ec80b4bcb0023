"""Which project: an IDE client's first MCP root wins over the working directory."""

from __future__ import annotations

from pathlib import Path

from mcp import Client, types

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime


async def test_first_root_is_the_project(project: Path, tmp_path: Path, monkeypatch: object) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()

    async def roots(_ctx: object) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=project.as_uri(), name="workspace")])

    runtime = Runtime(project=None)
    import os

    old = os.getcwd()
    os.chdir(elsewhere)
    try:
        async with Client(build_app(runtime), list_roots_callback=roots, mode="legacy") as c:
            r = await c.call_tool("session_start", {"goal": "in the workspace"})
            assert not r.is_error
    finally:
        os.chdir(old)
        runtime.close()
    assert (project / ".agentops" / "ledger").is_dir()
    assert not (elsewhere / ".agentops").exists()


async def test_explicit_project_beats_roots(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()

    async def roots(_ctx: object) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=other.as_uri())])

    runtime = Runtime(project=project)
    async with Client(build_app(runtime), list_roots_callback=roots, mode="legacy") as c:
        assert not (await c.call_tool("session_start", {"goal": "explicit"})).is_error
    runtime.close()
    assert (project / ".agentops").is_dir() and not (other / ".agentops").exists()
