"""The stdio transport, with every request line answered.

The SDK's stdio reader validates each line as a JSON-RPC message and, when that fails, hands the
session an exception it can only log: a request that carried an id (a BOM before it, `params` as an
array, a lone UTF-16 surrogate in an argument, a fractional id, trailing bytes …) gets no response
and the client waits forever. Here each line is screened first, with the SDK's own message model:
what it accepts goes on to the SDK unchanged; what it refuses is answered here with a JSON-RPC error
(-32700 when the line is not JSON text, -32600 when it is not a valid request, -32602 when only its
params are wrong) carrying the request's id whenever it can be read. Lines without an id are
notifications or responses, which JSON-RPC never answers: those are logged and dropped.

A leading UTF-8 byte order mark is ignored (RFC 8259 allows a parser to), and invalid UTF-8 is a
parse error rather than silently replaced characters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

log = logging.getLogger("factorops.server")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

_BOM = b"\xef\xbb\xbf"


@dataclass
class Answer:
    """A JSON-RPC error we send ourselves for a line the SDK would drop."""

    id: str | int | None
    code: int
    message: str

    def message_model(self) -> types.JSONRPCError:
        return types.JSONRPCError(
            jsonrpc="2.0", id=self.id, error=types.ErrorData(code=self.code, message=self.message)
        )


def screen(raw: bytes) -> str | Answer | None:
    """One line from stdin: the text to hand to the SDK, our answer to it, or None (nothing to do)."""
    raw = raw.rstrip(b"\r\n")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        rid = _recover_id(raw.decode("utf-8", errors="replace"))
        return _answer(rid, PARSE_ERROR, f"Parse error: the line is not valid UTF-8 (byte {exc.start})")
    try:
        message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except Exception as exc:
        return _diagnose(text, _parser_refusal(exc))
    if isinstance(message, types.JSONRPCNotification) and _has_id(text):
        # The SDK reads a request whose id is not a string or integer (13.5, true, null, {}) as a
        # notification and drops the id: the client would wait for an answer that never comes.
        return Answer(None, INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    return text


def _has_id(text: str) -> bool:
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(msg, dict) and "id" in msg


def _answer(rid: Any, code: int, message: str) -> Answer | None:
    """An answer, or None when the line carried no id (a notification: never answered)."""
    if rid is _NO_ID:
        log.warning("dropped a malformed message without an id: %s", message)
        return None
    return Answer(rid if _usable_id(rid) else None, code, message)


_NO_ID: Any = object()


def _usable_id(rid: Any) -> bool:
    return isinstance(rid, str | int) and not isinstance(rid, bool) and _encodable(rid)


def _parser_refusal(exc: Exception) -> str | None:
    """What the SDK's JSON parser said when it refused the line as JSON text (nesting deeper than
    it reads, a number out of its range) although Python's json may read it; None otherwise."""
    if not isinstance(exc, ValidationError):
        return None
    for error in exc.errors(include_url=False, include_input=False):
        if error["type"] == "json_invalid":
            return str(error.get("ctx", {}).get("error") or error["msg"])
    return None


def _diagnose(text: str, refusal: str | None = None) -> Answer | None:
    """Why the SDK refused a line (which is valid UTF-8), as a JSON-RPC error."""
    try:
        msg = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return _answer(_recover_id(text), PARSE_ERROR, "Parse error: JSON nested too deeply")
    except json.JSONDecodeError as exc:
        return _answer(_recover_id(text), PARSE_ERROR, f"Parse error: {exc.msg} at column {exc.colno}")
    except ValueError as exc:
        return _answer(_recover_id(text), PARSE_ERROR, f"Parse error: {exc}")
    if isinstance(msg, list):
        ids = [m["id"] for m in msg if isinstance(m, dict) and "id" in m]
        note = "Invalid Request: batches are not supported; send one message per line"
        # One answer per request id in the batch would need several lines; the first id gets it and
        # the log has the rest. MCP removed batching, so no conforming client sends one.
        if len(ids) > 1:
            log.warning("a batch of %d requests was refused", len(ids))
        return Answer(ids[0] if ids and _usable_id(ids[0]) else None, INVALID_REQUEST, note)
    if not isinstance(msg, dict):
        return Answer(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    if "id" not in msg:
        return _answer(_NO_ID, INVALID_REQUEST, "malformed notification or response")
    rid = msg["id"]
    if "method" not in msg and ("result" in msg or "error" in msg):
        return _answer(_NO_ID, INVALID_REQUEST, "malformed response")  # responses are never answered
    if not _usable_id(rid):
        return Answer(None, INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    if msg.get("jsonrpc") != "2.0":
        return Answer(rid, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"')
    method = msg.get("method")
    if not isinstance(method, str):
        return Answer(rid, INVALID_REQUEST, "Invalid Request: method must be a string")
    if not _encodable(method):
        return Answer(rid, INVALID_REQUEST, "Invalid Request: method contains a lone UTF-16 surrogate")
    params = msg.get("params")
    if isinstance(params, list):
        return Answer(rid, INVALID_PARAMS, "Invalid params: params must be an object (named), not an array")
    if params is not None and not isinstance(params, dict):
        return Answer(rid, INVALID_REQUEST, "Invalid Request: params must be an object")
    where = _unencodable_path(params, "params")
    if where is not None:
        return Answer(
            rid,
            INVALID_PARAMS,
            f"Invalid params: {where} contains a lone UTF-16 surrogate (not valid Unicode); "
            "send the character as a surrogate pair or UTF-8",
        )
    where = _unencodable_path({k: v for k, v in msg.items() if k != "params"}, "")
    if where is not None:
        return Answer(rid, INVALID_REQUEST, f"Invalid Request: {where} contains a lone UTF-16 surrogate")
    # Every check above passed: what is left is the SDK's parser refusing what Python's json reads.
    why = f"the JSON parser refused it ({refusal})" if refusal else "not a valid JSON-RPC 2.0 request"
    return Answer(rid, INVALID_REQUEST, f"Invalid Request: {why}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _encodable(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unencodable_path(value: Any, path: str) -> str | None:
    """The path of the first key or string that is not valid Unicode (a lone surrogate)."""
    if isinstance(value, str):
        return None if _encodable(value) else (path or "a value")
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if not _encodable(k):
                return f"{path or 'the message'}: a key"
            found = _unencodable_path(v, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _unencodable_path(v, f"{path}.{i}")
            if found is not None:
                return found
    return None


def _recover_id(text: str) -> Any:
    """The top-level `id` of a message that is not valid JSON as a whole (truncated, trailing bytes,
    too deep), read member by member up to where it breaks; None if it cannot be read (JSON-RPC
    answers a parse error with a null id)."""
    decoder = json.JSONDecoder()
    s = text.lstrip()
    if not s.startswith("{"):
        return None  # not an object: the id cannot be read, still answer (id null)
    i = 1
    n = len(s)

    def skip(j: int) -> int:
        while j < n and s[j] in " \t\r\n":
            j += 1
        return j

    try:
        while True:
            i = skip(i)
            if i >= n or s[i] != '"':
                return None
            key, i = json.decoder.scanstring(s, i + 1)  # type: ignore[attr-defined]
            i = skip(i)
            if i >= n or s[i] != ":":
                return None
            i = skip(i + 1)
            if key == "id":
                value, i = decoder.raw_decode(s, i)
                return value
            _value, i = decoder.raw_decode(s, i)
            i = skip(i)
            if i >= n or s[i] != ",":
                return None
            i += 1
    except (ValueError, RecursionError):
        return None


# -- the transport -----------------------------------------------------------------------------------


def _claim_stdin() -> tuple[BinaryIO, Callable[[], None]]:
    """The protocol's stdin on a private descriptor, with fd 0 pointed at /dev/null meanwhile, so
    that git, validation gates and any other child never read (or steal) protocol bytes."""
    try:
        private = os.dup(0)
        os.set_inheritable(private, False)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    except OSError:  # no usable fd 0 (odd embedding): read the stream as it is
        return sys.stdin.buffer, lambda: None

    def restore() -> None:
        # `private` stays open: a worker thread may still be blocked reading it (as in the SDK).
        with contextlib.suppress(OSError):
            os.dup2(private, 0)

    return os.fdopen(private, "rb", closefd=False), restore


class _ScreenedLines:
    """What the SDK's stdio reader iterates: stdin's lines, screened. Answers we owe go to the SDK's
    own write stream (so they never interleave with its output) once it exists."""

    def __init__(self, source: BinaryIO) -> None:
        self._file = anyio.wrap_file(source)
        self.out: Any = None
        self._ready = anyio.Event()

    def attach(self, write_stream: Any) -> None:
        self.out = write_stream
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        while True:
            raw = await self._file.readline()
            if not raw:
                return
            verdict = screen(raw)
            if verdict is None:
                continue
            if isinstance(verdict, Answer):
                log.info("answered a malformed request (id %r): %s", verdict.id, verdict.message)
                await self._ready.wait()
                await self.out.send(SessionMessage(verdict.message_model()))
                continue
            yield verdict


@asynccontextmanager
async def screened_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """`mcp.server.stdio.stdio_server` (which still owns stdout) reading our screened stdin."""
    source, restore = _claim_stdin()
    lines = _ScreenedLines(source)
    try:
        # The SDK iterates `stdin` with `async for`; that is all it needs from it.
        async with stdio_server(stdin=lines) as (read_stream, write_stream):  # type: ignore[arg-type]
            lines.attach(write_stream)
            yield read_stream, write_stream
    finally:
        restore()
