"""`factorops serve --http`: a real server process on loopback, real HTTP clients.

Covers the contract in docs/remote.md: the bearer token is required and can be rotated live, Host and
Origin are checked, bodies are limited, only /mcp is served, a public bind needs a token made
beforehand, and SIGTERM answers every request already running before the process exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from factorops.server.auth_token import PREFIX, ensure_token, read_token, token_path
from factorops.server.http import HttpConfigError, HttpOptions, check_bind, is_loopback
from factorops.store.datadir import DataDir

from .conftest import INIT, git
from .spawn import (
    HTTP_HEADERS,
    HttpServer,
    factorops,
    http_client,
    http_server,
    new_project,
    start_http_server,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    project = new_project(tmp_path_factory.mktemp("http") / "proj")
    with http_server(project) as srv:
        yield srv


def post(srv: HttpServer, headers: dict[str, str], body: bytes | None = None) -> httpx.Response:
    return httpx.post(
        srv.url, content=body if body is not None else json.dumps(INIT).encode(), headers=headers
    )


def auth(srv: HttpServer) -> dict[str, str]:
    return {**HTTP_HEADERS, "authorization": f"Bearer {srv.token}"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_work_over_http_with_the_token(server: HttpServer, mode: str) -> None:
    async with http_client(server.url, server.token, mode=mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"session_start", "checkpoint_save"} <= names
        r = await c.call_tool("session_start", {"goal": "remote work"})
        assert not r.is_error, r.content
        sid = r.structured_content["session_id"]  # type: ignore[index]
        r = await c.call_tool("checkpoint_save", {"session_id": sid, "summary": "over http"})
        assert not r.is_error, r.content
        bad = await c.call_tool("checkpoint_save", {"session_id": sid})
        assert bad.is_error and "summary" in bad.content[0].text  # type: ignore[union-attr]


def test_oversized_bodies_get_413(server: HttpServer) -> None:
    big = json.dumps({**INIT, "params": {**INIT["params"], "pad": "x" * (2 * 1024 * 1024)}}).encode()  # type: ignore[dict-item]
    assert post(server, auth(server), big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming too
        for _ in range(40):
            yield b"x" * 65536

    streamed = httpx.post(server.url, content=chunks(), headers=auth(server))
    assert streamed.status_code == 413


def test_only_the_mcp_path_is_served(server: HttpServer) -> None:
    base = server.url.rsplit("/", 1)[0]
    for path in ("/", "/admin", "/mcp/../etc/passwd", "/.well-known/oauth-authorization-server"):
        assert httpx.get(base + path, headers=auth(server)).status_code == 404


async def test_token_rotate_takes_effect_on_the_running_server(server: HttpServer) -> None:
    old = server.token
    out = factorops("token", "rotate", "--project", str(server.project))
    assert out.returncode == 0, out.stderr
    new = out.stdout.strip()
    assert new != old and new == server.token
    assert post(server, {**HTTP_HEADERS, "authorization": f"Bearer {old}"}).status_code == 401
    async with http_client(server.url, new) as c:
        assert (await c.list_tools()).tools


def test_token_show_creates_once_and_keeps_it_private(tmp_path: Path) -> None:
    project = new_project(tmp_path / "p")
    dd = DataDir.for_project(project)
    made_by_init = read_token(dd)
    assert made_by_init is not None and made_by_init.startswith(PREFIX)
    shown = factorops("token", "show", "--project", str(project))
    assert shown.returncode == 0 and shown.stdout.strip() == made_by_init
    assert stat.S_IMODE(token_path(dd).stat().st_mode) == 0o600
    token_path(dd).chmod(0o644)  # a copy that lost its permissions is tightened on read
    assert read_token(dd) == made_by_init
    assert stat.S_IMODE(token_path(dd).stat().st_mode) == 0o600
    # The token is never in the ledger or visible to the user's repository.
    ledger_files = git(dd.ledger_path, "ls-files")
    assert "http_token" not in ledger_files
    assert "http_token" not in git(project, "status", "--porcelain", "--ignored=no")


def test_token_show_without_a_data_dir_says_run_init(tmp_path: Path) -> None:
    out = factorops("token", "show", "--project", str(tmp_path))
    assert out.returncode == 2 and "factorops init" in out.stderr


def test_a_garbled_token_file_is_a_clear_error(tmp_path: Path) -> None:
    project = new_project(tmp_path / "p")
    dd = DataDir.for_project(project)
    token_path(dd).write_text("hunter2\n")
    out = factorops("serve", "--http", "--port", "0", "--project", str(project))
    assert out.returncode == 2 and "token rotate" in out.stderr


def test_public_bind_needs_a_token_made_beforehand(tmp_path: Path) -> None:
    dd = DataDir.for_project(tmp_path)
    with pytest.raises(HttpConfigError, match="token rotate"):
        check_bind(dd, HttpOptions(host="0.0.0.0"))
    assert not token_path(dd).exists()  # refused, and no secret was minted behind the user's back
    token, _ = ensure_token(dd)
    assert check_bind(dd, HttpOptions(host="0.0.0.0")) == token
    with pytest.raises(HttpConfigError, match="--port"):
        check_bind(dd, HttpOptions(port=70000))
    # Loopback makes its own token on first use.
    dd2 = DataDir.for_project(tmp_path / "other")
    assert check_bind(dd2, HttpOptions()) == read_token(dd2)


def test_public_bind_refused_by_the_cli(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    out = factorops("serve", "--http", "--host", "0.0.0.0", "--port", "0", "--project", str(project))
    assert out.returncode == 2
    assert "not loopback" in out.stderr and "token rotate" in out.stderr


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example.com", ""))


async def test_sigterm_answers_running_calls_then_exits_zero(tmp_path: Path) -> None:
    """Writers hammer the server; SIGTERM arrives mid-stream. Every checkpoint in the ledger must
    have been acknowledged to its client (no write done whose answer was dropped), and every
    acknowledged one must be there."""
    project = new_project(tmp_path / "p")
    srv = start_http_server(project)
    acked: list[str] = []
    sent = 0

    async def writer(i: int, sid: str) -> None:
        nonlocal sent
        try:
            async with http_client(srv.url, srv.token) as c:
                for n in range(10_000):
                    sent += 1
                    r = await c.call_tool("checkpoint_save", {"session_id": sid, "summary": f"w{i} {n}"})
                    if r.is_error:
                        return
                    acked.append(r.structured_content["checkpoint_id"])  # type: ignore[index]
        except Exception:  # noqa: S110 - refused (503) or connection closed once drained: expected
            pass

    async with http_client(srv.url, srv.token) as c:
        sid = (await c.call_tool("session_start", {"goal": "drain"})).structured_content["session_id"]  # type: ignore[index]
    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(writer, i, sid)
        while len(acked) < 20:
            await anyio.sleep(0.02)
        os.kill(srv.proc.pid, signal.SIGTERM)
    code = await anyio.to_thread.run_sync(lambda: srv.proc.wait(timeout=60))
    assert code == 0, "".join(srv.stderr)
    assert any("shutting down" in line for line in srv.stderr)
    assert not any("Traceback" in line for line in srv.stderr), "".join(srv.stderr)
    ledger = project / ".agentops" / "ledger"
    in_ledger = {
        Path(p).stem
        for p in git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
        if "/checkpoints/" in p
    }
    assert set(acked) == in_ledger
    assert len(acked) >= 20 and sent > len(acked)
