"""End to end: the real server as a subprocess over stdio, restarted between calls."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import mcp_types as types
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


def test_stdout_carries_only_protocol(project: Path, tmp_path: Path) -> None:
    """Every byte the real server writes to stdout is a JSON-RPC 2.0 line; logs go elsewhere.

    A stray print() in any tool handler would corrupt the protocol: this reads the process's real
    stdout (not what a client library chose to parse) after initialize, tools/list and a tool call.
    """
    params = server_params(project, "--verbose")
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": types.LATEST_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "stdout-purity", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "session_start", "arguments": {"goal": "logs stay off stdout"}},
        },
    ]
    with (tmp_path / "stderr.txt").open("wb") as errlog:
        proc = subprocess.Popen(
            [params.command, *params.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=params.env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        raw = bytearray()  # every byte of stdout, in order
        answered: dict[int, dict[str, object]] = {}
        # one request at a time, its answer read before the next; then stdin is closed
        for req in requests:
            proc.stdin.write(json.dumps(req).encode() + b"\n")
            proc.stdin.flush()
            while "id" in req and req["id"] not in answered:
                line = proc.stdout.readline()
                assert line, f"stdout closed before the answer to {req['method']}: {bytes(raw)!r}"
                raw += line
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # reported below, with every other stray byte
                if isinstance(message, dict) and isinstance(message.get("id"), int):
                    answered[message["id"]] = message
        proc.stdin.close()
        raw += proc.stdout.read()
        assert proc.wait(timeout=60) == 0
    assert raw.endswith(b"\n"), f"stdout ends with a partial line: {bytes(raw[-200:])!r}"
    for line in bytes(raw).split(b"\n")[:-1]:
        try:
            message = json.loads(line)
        except ValueError:
            raise AssertionError(f"a stdout line that is not JSON-RPC: {line[:200]!r}") from None
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", (
            f"not JSON-RPC 2.0: {line[:200]!r}"
        )
    assert set(answered) == {1, 2, 3}
    tools = answered[2]["result"]
    assert isinstance(tools, dict) and any(t["name"] == "session_start" for t in tools["tools"])
    call = answered[3]["result"]
    assert isinstance(call, dict) and not call.get("isError"), call
    assert "factorops" in (tmp_path / "stderr.txt").read_text()
    assert (project / ".agentops" / "logs" / "factorops.log").exists()
