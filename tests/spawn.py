"""Spawning the real `factorops serve --http` and talking to it the way a remote agent does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from .conftest import new_repo

_READY = re.compile(r"serving MCP on (http://\S+/mcp)")

# The headers the streamable HTTP transport requires of every POST (tests that speak the wire
# protocol themselves send conftest.INIT and add a token).
HTTP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def factorops(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args], capture_output=True, text=True, timeout=60
    )


def new_project(root: Path) -> Path:
    """A git repository at `root` with one commit, initialised by `factorops init`."""
    new_repo(root, {"README.md": "# demo\n"}, "initial commit")
    assert factorops("init", "--project", str(root)).returncode == 0
    return root


@dataclass
class HttpServer:
    proc: subprocess.Popen[str]
    url: str
    project: Path
    stderr: list[str] = field(default_factory=list)

    @property
    def token(self) -> str:
        return (self.project / ".agentops" / "http_token").read_text().strip()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not stop within {timeout} s of signal {sig}") from None


def start_http_server(project: Path, *extra: str, env: dict[str, str] | None = None) -> HttpServer:
    """Start a server on a free loopback port and wait until it listens."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "factorops",
            "serve",
            "--http",
            "--port",
            "0",
            "--project",
            str(project),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    lines: list[str] = []
    url: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # keep reading so the child never blocks on a full pipe
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            m = _READY.search(line)
            if m and not url:
                url.append(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("server did not start: " + "".join(lines))
    if not url:
        proc.wait(timeout=10)
        raise AssertionError(f"server exited {proc.returncode}: " + "".join(lines))
    return HttpServer(proc, url[0], project, lines)


@contextmanager
def http_server(project: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[HttpServer]:
    server = start_http_server(project, *extra, env=env)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()


@asynccontextmanager
async def http_client(url: str, token: str | None, **client_kw: Any) -> AsyncIterator[Client]:
    """An SDK client over streamable HTTP, sending the bearer token as a remote agent would."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), **client_kw) as client,
    ):
        yield client
