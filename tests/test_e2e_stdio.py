"""End to end: the real server as a subprocess over stdio, restarted between calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from .stdio_server import server_params


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_checkpoint_survives_a_server_restart(project: Path, mode: str) -> None:
    # `legacy` speaks the initialize handshake (2025-06-18, most desktop clients today);
    # `auto` negotiates the newest protocol the SDK knows.
    async with Client(server_params(project), mode=mode) as c:  # type: ignore[arg-type]
        assert c.server_info is not None and c.server_info.name == "factorops"
        start = await c.call_tool("session_start", {"goal": "survive restarts"})
        sid = start.structured_content["session_id"]  # type: ignore[index]
        saved = await c.call_tool(
            "checkpoint_save",
            {"session_id": sid, "summary": "before restart", "next_steps": ["resume after restart"]},
        )
        assert not saved.is_error
    # A new process, a new client: nothing in memory survives, only the stores.
    async with Client(server_params(project), mode=mode) as c:  # type: ignore[arg-type]
        resumed = await c.call_tool("session_resume", {})
        state = resumed.structured_content
        assert state is not None
        assert state["session_id"] == sid
        assert state["summary"] == "before restart"
        assert state["next_steps"] == ["resume after restart"]
        bad = await c.call_tool("checkpoint_save", {"session_id": sid, "summary": ""})
        assert bad.is_error and "summary" in bad.content[0].text  # type: ignore[union-attr]


async def test_stdout_carries_only_protocol(project: Path, tmp_path: Path) -> None:
    """Logs go to stderr and the log file; a stray print on stdout would corrupt the protocol."""
    errlog = (tmp_path / "stderr.txt").open("w")
    params = server_params(project, "--verbose")
    from mcp.client.stdio import stdio_client

    async with stdio_client(params, errlog=errlog) as (read, write):
        from mcp import ClientSession

        async with ClientSession(read, write) as session:
            await session.initialize()
            r = await session.call_tool("session_start", {"goal": "logs stay off stdout"})
            assert not r.is_error
    errlog.close()
    assert "factorops" in (tmp_path / "stderr.txt").read_text()
    assert (project / ".agentops" / "logs" / "factorops.log").exists()
