"""Tests that kill the stdio transport's mutants (`make mutation`, target `stdio`); see docs/testing.md.

Fast and in-process: the line screen (`screen`) on lines a client can send, and the transport as
`factorops serve` runs it (the real app's `run_stdio_async` over `screened_stdio`) with real OS
pipes put in place of this process's fd 0 and fd 1, the way a client's spawn sets them. The real
`factorops serve` process is covered by test_protocol_edges.py and test_e2e_stdio.py.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

from factorops.server.mcp.app import FactoropsServer
from factorops.server.mcp.stdio import Answer, screen, screened_stdio

from .conftest import INIT

BOM = b"\xef\xbb\xbf"
PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
PARSE, INVALID, PARAMS = -32700, -32600, -32602


def _call(rid: Any, text_json: str) -> bytes:
    """A count_tokens call whose `text` argument is the given raw JSON text."""
    return (
        '{"jsonrpc":"2.0","id":'
        + json.dumps(rid)
        + ',"method":"tools/call","params":{"name":"count_tokens","arguments":{"text":'
        + text_json
        + "}}}"
    ).encode()


BAD_UTF8 = _call(7, '"ab"').replace(b"ab", b"\xff\xfe")
BAD_BYTE = BAD_UTF8.index(b"\xff")
DEEP_FOR_THE_SDK = (  # valid JSON the SDK's parser refuses (nesting), Python's json reads
    b'{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"x":' + b"[" * 300 + b"]" * 300 + b"}}"
)

# (label, raw line as read from stdin, verdict): a str is the text handed to the SDK, None means
# nothing is sent back, a tuple (id, code, words in the message) is the error answered here.
ROWS: list[tuple[str, bytes, Any]] = [
    ("a request", PING + b"\n", PING.decode()),
    ("CRLF line end", PING + b"\r\n", PING.decode()),
    ("BOM before a request", BOM + PING + b"\n", PING.decode()),
    ("a notification", INITIALIZED + b"\n", INITIALIZED.decode()),
    ("blank line", b"\n", None),
    ("blanks only", b" \t \r\n", None),
    ("BOM alone", BOM + b"\n", None),
    ("fractional id", b'{"jsonrpc":"2.0","id":13.5,"method":"ping"}', (None, INVALID, "id must be a string")),
    ("boolean id", b'{"jsonrpc":"2.0","id":true,"method":"ping"}', (None, INVALID, "id must be a string")),
    ("invalid UTF-8", BAD_UTF8, (7, PARSE, f"not valid UTF-8 (byte {BAD_BYTE})")),
    ("invalid UTF-8, fractional id", b'{"jsonrpc":"2.0","id":7.5,"method":"p\xff"}', (None, PARSE, "UTF-8")),
    ("invalid UTF-8, no id", b'{"jsonrpc":"2.0","method":"p\xff"}', (None, PARSE, "UTF-8")),
    ("truncated, line end", b'{"jsonrpc":"2.0","id":15,"method":"ping"\n', (15, PARSE, "at column 41")),
    (
        "truncated, blanks between tokens",
        b'{ "jsonrpc" : "2.0" , "id" : 15 , "method" : "ping"',
        (15, PARSE, "Parse error"),
    ),
    ("trailing NUL", PING.replace(b"1", b"14") + b"\x00", (14, PARSE, "Extra data")),
    ("cut at the start", b"{", (None, PARSE, "Parse error")),
    ("cut after a key", b'{"jsonrpc"', (None, PARSE, "Parse error")),
    ("cut after a value", b'{"jsonrpc":"2.0"', (None, PARSE, "Parse error")),
    ("cut after a comma", b'{"jsonrpc":"2.0", ', (None, PARSE, "Parse error")),
    ("cut after the id key", b'{"jsonrpc":"2.0","id"', (None, PARSE, "Parse error")),
    ("cut after the id colon", b'{"jsonrpc":"2.0","id":', (None, PARSE, "Parse error")),
    ("not JSON", b"hello", (None, PARSE, "Parse error")),
    ("nested too deep", _call(16, "[" * 100_000 + "]" * 100_000), (16, PARSE, "nested too deeply")),
    (
        "NaN in a refused request",
        b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[NaN]}',
        (1, PARSE, "NaN is not a JSON value"),
    ),
    (
        "a batch",
        b'[{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":12,"method":"ping"},'
        b'{"jsonrpc":"2.0","id":13,"method":"ping"}]',
        (12, INVALID, "batches are not supported"),
    ),
    ("an empty batch", b"[]", (None, INVALID, "batches are not supported")),
    ("a batch of non-objects", b'[1, "x"]', (None, INVALID, "batches are not supported")),
    (
        "a batch, fractional id",
        b'[{"jsonrpc":"2.0","id":13.5,"method":"ping"}]',
        (None, INVALID, "batches are not supported"),
    ),
    (
        "a batch, boolean id",
        b'[{"jsonrpc":"2.0","id":true,"method":"ping"}]',
        (None, INVALID, "batches are not supported"),
    ),
    ("a bare string", b'"ping"', (None, INVALID, "a message must be a JSON object")),
    ("id and nothing else", b'{"jsonrpc":"2.0","id":11}', (11, INVALID, "method must be a string")),
    ("malformed error response", b'{"jsonrpc":"2.0","id":5,"error":"oops"}', None),
    ("malformed result response", b'{"jsonrpc":"2.0","id":5,"result":5}', None),
    ("malformed notification", b'{"jsonrpc":"2.0","method":42}', None),
    ("notification, jsonrpc 1.0", b'{"jsonrpc":"1.0","method":"n"}', None),
    (
        "lone surrogate as the id",
        b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}',
        (None, INVALID, "id must be a string"),
    ),
    (
        "boolean id, params an array",
        b'{"jsonrpc":"2.0","id":true,"method":"ping","params":[]}',
        (None, INVALID, "id must be a string"),
    ),
    ("no jsonrpc member", b'{"id":9,"method":"ping"}', (9, INVALID, 'jsonrpc must be "2.0"')),
    ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":10,"method":"ping"}', (10, INVALID, 'jsonrpc must be "2.0"')),
    ("method not a string", b'{"jsonrpc":"2.0","id":8,"method":42}', (8, INVALID, "method must be a string")),
    (
        "lone surrogate in the method",
        b'{"jsonrpc":"2.0","id":6,"method":"ping\\ud800"}',
        (6, INVALID, "method contains a lone UTF-16 surrogate"),
    ),
    (
        "params as an array",
        b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[]}',
        (2, PARAMS, "params must be an object (named), not an array"),
    ),
    (
        "params as a string",
        b'{"jsonrpc":"2.0","id":3,"method":"tools/list","params":"x"}',
        (3, INVALID, "Invalid Request: params must be an object"),
    ),
    (
        "lone surrogate in an argument",
        _call(4, '"\\ud800"'),
        (4, PARAMS, "Invalid params: params.arguments.text contains a lone UTF-16 surrogate"),
    ),
    (
        "lone surrogate in an argument's key",
        _call(5, '"x","\\udc00":1'),
        (5, PARAMS, "Invalid params: params.arguments: a key contains a lone UTF-16 surrogate"),
    ),
    (
        "lone surrogate in a list item",
        b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":["fine","\\ud800"]}}',
        (1, PARAMS, "Invalid params: params.a.1 contains"),
    ),
    (
        "lone surrogate in a top-level key",
        b'{"jsonrpc":"2.0","id":1,"method":"ping","x\\ud800":1}',
        (1, INVALID, "Invalid Request: the message: a key contains a lone UTF-16 surrogate"),
    ),
    (
        "lone surrogate in a top-level value",
        b'{"jsonrpc":"2.0","id":1,"method":"ping","extra":"\\ud800"}',
        (1, INVALID, "Invalid Request: extra contains a lone UTF-16 surrogate"),
    ),
    (
        "too deep for the SDK, not for JSON",
        DEEP_FOR_THE_SDK,
        (3, INVALID, "Invalid Request: the JSON parser refused it (recursion limit exceeded at line 1"),
    ),
]


@pytest.fixture
def returns() -> Iterator[None]:
    """A hang in `screen` (an id scan that stops advancing) fails the test instead of blocking the
    reader forever: a bound on a hang, generous for a call that takes microseconds, not a timing
    assertion."""

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("screen() did not return within 30 s: it hangs on this line")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("returns")
@pytest.mark.parametrize(("label", "raw", "verdict"), ROWS, ids=[r[0] for r in ROWS])
def test_screen_answers_every_line_it_refuses(label: str, raw: bytes, verdict: Any) -> None:
    got = screen(raw)
    if verdict is None or isinstance(verdict, str):
        assert got == verdict, (label, got)
        return
    rid, code, words = verdict
    assert isinstance(got, Answer), (label, got)
    # `type` too: True == 1 in Python, and a boolean id is not an id.
    assert (got.id, type(got.id), got.code) == (rid, type(rid), code), (label, got)
    assert words in got.message, (label, got.message)
    # What goes on the wire: a JSON-RPC error carrying that id (null when it could not be read).
    wire = json.loads(got.message_model().model_dump_json(by_alias=True, exclude_unset=True))
    assert wire == {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": got.message}}


def test_lines_without_an_id_are_logged_not_answered(caplog: pytest.LogCaptureFixture) -> None:
    """JSON-RPC never answers a notification or a response, so the log is the only trace of a
    malformed one: an operator debugging a client needs it there."""
    caplog.set_level(logging.INFO, logger="factorops.server")
    assert screen(b'{"jsonrpc":"2.0","method":42}') is None
    assert "dropped a malformed message without an id: malformed notification or response" in caplog.text
    caplog.clear()
    assert screen(b'{"jsonrpc":"2.0","id":5,"error":"oops"}') is None
    assert "dropped a malformed message without an id: malformed response" in caplog.text
    caplog.clear()
    # A batch answers its first id only; the log says how many requests went unanswered.
    assert isinstance(screen(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]'), Answer)
    assert "batch" not in caplog.text
    answer = screen(b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]')
    assert isinstance(answer, Answer) and answer.id == 1
    assert "a batch of 2 requests was refused" in caplog.text


def test_a_notification_python_cannot_read_is_still_not_answered() -> None:
    """Under `PYTHONINTMAXSTRDIGITS=640` (a hardening setting) Python's json refuses an integer of
    1,000 digits that the SDK's parser reads: the notification carrying it has no id and must pass
    on to the SDK unanswered, not draw an 'id must be ...' error."""
    line = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"n":' + b"1" * 1000 + b"}}"
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        assert screen(line) == line.decode()
    finally:
        sys.set_int_max_str_digits(before)


# -- the transport, in this process, on real pipes ----------------------------------------------------


def _links(fds: set[int] | None = None) -> dict[int, str]:
    """fd -> what it points at, for this process's open descriptors."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fds is not None and fd not in fds:
            continue
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, already closed
    return out


def _is_devnull(fd: int) -> bool:
    st, null = os.fstat(fd), os.stat(os.devnull)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev


class Wire:
    """The client's ends: we write request lines to the server's stdin and read its stdout."""

    def __init__(self, stdin_w: int, stdout_r: int) -> None:
        self.stdin_w, self.stdout_r = stdin_w, stdout_r
        os.set_blocking(stdout_r, False)
        self.buf = b""
        self.lines: list[bytes] = []  # every stdout line, in order

    def send(self, raw: bytes) -> None:
        os.write(self.stdin_w, raw + b"\n")

    def close(self) -> None:
        if self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = -1

    def _take(self) -> bytes | None:
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line)
        return line

    async def answer(self) -> dict[str, Any]:
        with anyio.fail_after(30):  # a bound on a hang, not a timing assertion: answers take ms
            while (line := self._take()) is None:
                await anyio.wait_readable(self.stdout_r)
                self.buf += os.read(self.stdout_r, 1 << 16)
        msg: dict[str, Any] = json.loads(line)
        return msg

    def rest(self) -> None:
        """What is left on stdout once the server is gone."""
        try:
            while chunk := os.read(self.stdout_r, 1 << 16):
                self.buf += chunk
        except BlockingIOError:
            pass
        while self._take() is not None:
            pass


@contextmanager
def on_pipes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    """fd 0 and fd 1 of this process on fresh pipes (as a client spawning the server sets them),
    sys.stdout over fd 1 as at start-up; all put back afterwards."""
    saved0, saved1 = os.dup(0), os.dup(1)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.dup2(in_r, 0)
    os.dup2(out_w, 1)
    os.close(in_r)
    os.close(out_w)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), encoding="utf-8"))
    wire = Wire(in_w, out_r)
    try:
        yield wire
    finally:
        wire.close()
        os.dup2(saved0, 0)
        os.dup2(saved1, 1)
        for fd in (saved0, saved1, out_r):
            os.close(fd)


CHILD = (  # what a child (git, a gate) started while serving finds on stdin and among its fds
    "import json, os, sys\n"
    "data = sys.stdin.buffer.read()\n"
    "links = [os.readlink('/proc/self/fd/' + f) for f in os.listdir('/proc/self/fd')\n"
    "         if os.path.exists('/proc/self/fd/' + f)]\n"
    "print(json.dumps({'stdin': data.decode('latin-1'), 'fds': links}))\n"
)


async def test_the_transport_answers_every_line_and_keeps_stdin_from_children(
    app: FactoropsServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="factorops.server")
    with on_pipes(monkeypatch) as wire:
        stdin_pipe = os.readlink("/proc/self/fd/0")
        devnull_before = {fd for fd, link in _links().items() if link == os.devnull}
        async with anyio.create_task_group() as tg:
            tg.start_soon(app.run_stdio_async)
            try:
                wire.send(json.dumps(INIT).encode())
                first = await wire.answer()
                assert first["id"] == 0 and first["result"]["serverInfo"]["name"] == "factorops", first
                wire.send(INITIALIZED)

                # While serving, fd 0 (what every child inherits) is the null device, no descriptor
                # was left behind opening it, and the protocol's own copy of stdin is close-on-exec.
                assert _is_devnull(0), os.readlink("/proc/self/fd/0")
                devnull_now = {fd for fd, link in _links().items() if link == os.devnull}
                assert devnull_now - devnull_before == {0}
                private = [fd for fd, link in _links().items() if link == stdin_pipe and fd != wire.stdin_w]
                assert len(private) == 1, _links()
                assert not os.get_inheritable(private[0])
                # A child that keeps every inheritable descriptor (close_fds=False) reads EOF on
                # stdin and holds nothing of the protocol's pipe.
                run = partial(
                    subprocess.run,
                    [sys.executable, "-I", "-S", "-c", CHILD],
                    capture_output=True,
                    close_fds=False,
                    timeout=60,
                    check=True,
                )
                child = json.loads((await anyio.to_thread.run_sync(run)).stdout)
                assert child["stdin"] == "" and stdin_pipe not in child["fds"], child

                # Every request line gets an answer: from the SDK, or from the screen when the SDK
                # would drop the line.
                wire.send(BAD_UTF8)
                bad = await wire.answer()
                assert bad["id"] == 7 and bad["error"]["code"] == PARSE and "UTF-8" in bad["error"]["message"]
                wire.send(b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[]}')
                assert (await wire.answer())["error"]["code"] == PARAMS
                wire.send(b'{"jsonrpc":"2.0","id":13.5,"method":"ping"}')
                frac = await wire.answer()
                assert frac["id"] is None and frac["error"]["code"] == INVALID
                wire.send(b"")  # no answer to a blank line or a malformed notification ...
                wire.send(b'{"jsonrpc":"2.0","method":42}')
                wire.send(BOM + b'{"jsonrpc":"2.0","id":99,"method":"ping"}')  # ... the next request gets one
                assert await wire.answer() == {"jsonrpc": "2.0", "id": 99, "result": {}}
                wire.send(_call(100, '"{\\"a\\": 1}"'))
                ok = await wire.answer()
                assert ok["id"] == 100 and not ok["result"].get("isError"), ok
            finally:
                # EOF: the server returns, and a reader thread blocked on stdin wakes up (a task
                # group cannot finish while a worker thread still reads the pipe).
                wire.close()
        # Afterwards fd 0 is the protocol's stdin again, and the private copy stays open (a worker
        # thread may still be blocked reading it: a closed number could be recycled under it).
        assert os.readlink("/proc/self/fd/0") == stdin_pipe
        gc.collect()
        assert os.readlink(f"/proc/self/fd/{private[0]}") == stdin_pipe
        os.close(private[0])
        wire.rest()
    assert "answered a malformed request (id 7)" in caplog.text
    # stdout carried JSON-RPC and nothing else, one answer per request.
    messages = [json.loads(line) for line in wire.lines]
    assert all(m.get("jsonrpc") == "2.0" for m in messages), wire.lines
    assert [m.get("id") for m in messages] == [0, 7, 2, None, 99, 100]


async def test_without_a_usable_fd_0_the_transport_reads_sys_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """An embedding that closed fd 0 but gave Python a stdin: the transport serves that stream."""
    in_r, in_w = os.pipe()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(in_r, "rb"), encoding="utf-8"))
    with on_pipes(monkeypatch) as wire:
        wire.stdin_w, spare = in_w, wire.stdin_w  # the client now writes to sys.stdin's pipe
        os.close(spare)
        os.close(0)
        with anyio.fail_after(60):
            async with screened_stdio() as (read_stream, write_stream):
                try:
                    wire.send(b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[]}')
                    wire.send(PING)
                    refused = await wire.answer()
                    assert refused["id"] == 2 and refused["error"]["code"] == PARAMS, refused
                    passed = await read_stream.receive()
                    assert isinstance(passed, SessionMessage), passed
                    assert isinstance(passed.message, types.JSONRPCRequest), passed
                    assert (passed.message.id, passed.message.method) == (1, "ping")
                finally:
                    wire.close()  # EOF ends the reader thread
                    await write_stream.aclose()
