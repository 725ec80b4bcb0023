"""Protocol edges, against the real `factorops serve` over stdio: what a client sends that is legal
but unusual (strings that look like JSON, a resource read before any tool, a prompt that cannot
render) or not legal at all (lines that are not JSON-RPC), and what it must get back.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters, types
from mcp.shared.exceptions import MCPError

from factorops.tools.kernel.tokens import count_tokens

from .conftest import INIT
from .stdio_server import server_params

# Strings a JSON-happy layer would turn into something else: null, a bool, a number, an object, an
# array, a quoted string. A string parameter must take every one of them as the string it is.
JSONISH = ["null", "true", "42", '{"a": 1}', "[1, 2]", "[1]", '"quoted"', "  [] "]


def _filler(schema: dict[str, Any]) -> Any:
    """A valid-looking value for a required argument, from its schema."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "x"
    if kind == "integer" or kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return {}


def _string_fields(tool: types.Tool) -> list[tuple[str, bool]]:
    """(property, is_array_of_strings) for every string-typed property of a tool's input schema."""
    out = []
    for name, prop in (tool.input_schema.get("properties") or {}).items():
        variants = prop.get("anyOf", [prop])
        if any(v.get("type") == "string" for v in variants):
            out.append((name, False))
        elif any(
            v.get("type") == "array" and (v.get("items") or {}).get("type") == "string" for v in variants
        ):
            out.append((name, True))
    return out


def _text(result: types.CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def test_every_string_parameter_takes_any_string(project: Path) -> None:
    """Schema-driven: every string property (and array-of-string item) of every listed tool, called
    with each JSON-looking value, must not fail type validation of that field. A domain error (an
    unknown gate, no such session) is fine; "Input should be a valid string" is not."""
    async with Client(server_params(project), mode="legacy") as c:
        tools = (await c.list_tools()).tools
        checked = 0
        for tool in tools:
            props = tool.input_schema.get("properties") or {}
            required = tool.input_schema.get("required") or []
            for field, is_array in _string_fields(tool):
                for value in JSONISH:
                    args = {k: _filler(props[k]) for k in required}
                    args[field] = [value] if is_array else value
                    r = await c.call_tool(tool.name, args)
                    checked += 1
                    if not r.is_error:
                        continue
                    text = _text(r)
                    assert not re.search(rf"\b{field}(\.\d+)?: Input should be a valid", text), (
                        tool.name,
                        field,
                        value,
                        text,
                    )
                    # The bare SDK message means an exception escaped: a crash, not a clear error.
                    assert text.strip() != f"Error executing tool {tool.name}", (tool.name, field, value)
        assert checked > 150  # every tool's strings, not a lucky few

        # Echo-like: the exact string round-trips (its own token count, not that of a parsed value).
        for value in JSONISH:
            r = await c.call_tool("count_tokens", {"text": value})
            assert not r.is_error, _text(r)
            assert r.structured_content is not None
            assert r.structured_content["total"] == count_tokens(value), value
        # A string pattern field keeps the string, too.
        r = await c.call_tool(
            "pattern_record",
            {"title": "null", "kind": "guardrail", "problem": "[1]", "solution": '{"a": 1}', "match": "[1]"},
        )
        assert not r.is_error, _text(r)
        pid = r.structured_content["id"]  # type: ignore[index]
        res = await c.read_resource(f"agentops://patterns/{pid}")
        body = res.contents[0].text  # type: ignore[union-attr]
        assert "[1]" in body and '{"a": 1}' in body


async def test_resume_prompt_without_session_says_why(project: Path) -> None:
    async with Client(server_params(project), mode="legacy") as c:
        with pytest.raises(MCPError) as err:
            await c.get_prompt("resume")
        assert "no unfinished session" in str(err.value)
        assert "session_start" in str(err.value)
        with pytest.raises(MCPError) as err:
            await c.get_prompt("resume", {"session_id": "ses-20260101-000000-deadbeef"})
        assert "ses-20260101-000000-deadbeef" in str(err.value)
        with pytest.raises(MCPError) as err:
            await c.get_prompt("no-such-prompt")
        assert "no-such-prompt" in str(err.value)


async def test_missing_resources_are_named(project: Path) -> None:
    async with Client(server_params(project), mode="legacy") as c:
        for uri, needle in [
            ("agentops://patterns/pat-nope", "pat-nope"),
            ("agentops://sessions/ses-nope", "ses-nope"),
            ("agentops://factors/99", "99"),
            ("agentops://nothing-here", "agentops://nothing-here"),
        ]:
            with pytest.raises(MCPError) as err:
                await c.read_resource(uri)
            assert needle in str(err.value), (uri, str(err.value))
            assert "Error reading resource" not in str(err.value)


async def test_resource_read_first_binds_the_clients_root(project: Path, tmp_path: Path) -> None:
    """No --project, the server started in some other directory, the client announces its workspace
    as a root, and its first request is a resource read: the workspace is the project, for that read
    and for every call after it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def roots(_ctx: object) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=project.as_uri(), name="workspace")])

    env = {k: v for k, v in os.environ.items() if k not in ("FACTOROPS_PROJECT", "FACTOROPS_DATA_DIR")}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "factorops", "serve"], env=env, cwd=str(elsewhere)
    )
    async with Client(params, list_roots_callback=roots, mode="legacy") as c:
        first = await c.read_resource("agentops://sessions")
        assert first.contents
        started = await c.call_tool("session_start", {"goal": "in the workspace"})
        assert not started.is_error, _text(started)
        sid = started.structured_content["session_id"]  # type: ignore[index]
        listing = await c.read_resource("agentops://sessions")
        assert sid in listing.contents[0].text  # type: ignore[union-attr]
    assert (project / ".agentops" / "ledger").is_dir()
    assert not (elsewhere / ".agentops").exists()


# -- raw lines on stdin ------------------------------------------------------------------------------


class RawServer:
    """The real server with its stdin and stdout as byte pipes: we write lines, it must answer."""

    def __init__(self, project: Path, stderr: Path) -> None:
        self.err = stderr.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "factorops", "serve", "--project", str(project)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.all: list[bytes] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.all.append(line)
            self.lines.put(line)

    def send(self, raw: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 30) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no response from the server") from None
        msg: dict[str, Any] = json.loads(line)
        return msg

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.err.close()


def _call(rid: Any, text_json: str) -> bytes:
    """A count_tokens call whose `text` argument is the given (raw) JSON string literal."""
    head = '{"jsonrpc":"2.0","id":' + json.dumps(rid)
    return (
        head
        + ',"method":"tools/call","params":{"name":"count_tokens","arguments":{"text":'
        + text_json
        + "}}}"
    ).encode()


# (label, raw line, expected id in the answer, expected error code or None for a normal result)
MALFORMED: list[tuple[str, bytes, Any, int | None]] = [
    ("BOM before a request", '\ufeff{"jsonrpc":"2.0","id":1,"method":"ping"}'.encode(), 1, None),
    ("params as an array", b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[]}', 2, -32602),
    ("params as a string", b'{"jsonrpc":"2.0","id":3,"method":"tools/list","params":"x"}', 3, -32600),
    ("lone surrogate in an argument", _call(4, '"\\ud800"'), 4, -32602),
    ("lone surrogate in a key", _call(5, '"x","\\udc00":1'), 5, -32602),
    ("lone surrogate in the method", b'{"jsonrpc":"2.0","id":6,"method":"ping\\ud800"}', 6, -32600),
    ("invalid UTF-8", _call(7, '"ab"').replace(b"ab", b"\xff\xfe"), 7, -32700),
    ("method not a string", b'{"jsonrpc":"2.0","id":8,"method":42}', 8, -32600),
    ("no jsonrpc member", b'{"id":9,"method":"ping"}', 9, -32600),
    ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":10,"method":"ping"}', 10, -32600),
    ("id and nothing else", b'{"jsonrpc":"2.0","id":11}', 11, -32600),
    ("a batch", b'[{"jsonrpc":"2.0","id":12,"method":"ping"}]', 12, -32600),
    ("fractional id", b'{"jsonrpc":"2.0","id":13.5,"method":"ping"}', None, -32600),
    ("boolean id", b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None, -32600),
    ("null id", b'{"jsonrpc":"2.0","id":null,"method":"ping"}', None, -32600),
    ("object id", b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', None, -32600),
    ("trailing NUL", b'{"jsonrpc":"2.0","id":14,"method":"ping"}\x00', 14, -32700),
    ("truncated", b'{"jsonrpc":"2.0","id":15,"method":"ping"', 15, -32700),
    ("nested too deep", _call(16, "[" * 100_000 + "]" * 100_000), 16, -32700),
    ("not JSON", b"hello", None, -32700),
    ("a bare string", b'"ping"', None, -32600),
]


def test_every_request_line_gets_an_answer(project: Path, tmp_path: Path) -> None:
    server = RawServer(project, tmp_path / "stderr.txt")
    try:
        server.send(json.dumps(INIT).encode())
        assert server.answer()["id"] == 0
        server.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        for label, raw, rid, code in MALFORMED:
            server.send(raw)
            msg = server.answer()
            assert msg.get("jsonrpc") == "2.0", (label, msg)
            assert msg.get("id") == rid, (label, msg)
            if code is None:
                assert "result" in msg, (label, msg)
            else:
                assert msg["error"]["code"] == code, (label, msg)
                assert msg["error"]["message"], (label, msg)
        # Blank lines and malformed notifications (no id) get no answer; the next request still does.
        server.send(b"")
        server.send(b'{"jsonrpc":"2.0","method":42}')
        server.send(b'{"jsonrpc":"2.0","id":99,"method":"ping"}')
        assert server.answer() == {"jsonrpc": "2.0", "id": 99, "result": {}}
        # A well-formed call right after all that is served normally.
        server.send(_call(100, '"{\\"a\\": 1}"'))
        ok = server.answer()
        assert ok["id"] == 100 and not ok["result"].get("isError"), ok
    finally:
        server.close()
    # stdout carried JSON-RPC and nothing else.
    for line in server.all:
        msg = json.loads(line)
        assert msg.get("jsonrpc") == "2.0" and ("result" in msg or "error" in msg or "method" in msg), line


def test_error_answers_explain_the_problem(project: Path, tmp_path: Path) -> None:
    server = RawServer(project, tmp_path / "stderr.txt")
    try:
        server.send(json.dumps(INIT).encode())
        server.answer()
        server.send(_call(1, '"\\ud800"'))
        assert "arguments.text" in server.answer()["error"]["message"]
        server.send(b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[1]}')
        assert "object" in server.answer()["error"]["message"]
        server.send(b'{"jsonrpc":"2.0","id":3,"method":"ping"}\xff')
        assert "UTF-8" in server.answer()["error"]["message"]
    finally:
        server.close()
