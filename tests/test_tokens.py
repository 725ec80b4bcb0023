"""Credentials over HTTP end at once, and a person's token names the person (issue #12, hole 10).

Real servers only: `factorops serve --http` and `factorops dashboard` run as subprocesses, tokens
are rotated, added and revoked with the real CLI, and requests go over real sockets (httpx, and a
raw socket for the slow body). Records the children read are made with the real clock.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from factorops.server.auth_token import Credentials, people_path, token_path
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.oversight import approvals
from factorops.tools.registry import components

from .conftest import INIT, git
from .spawn import (
    HTTP_HEADERS,
    factorops,
    http_client,
    http_server,
    new_project,
    start_http_server,
)


def bearer(token: str) -> dict[str, str]:
    return {**HTTP_HEADERS, "authorization": f"Bearer {token}"}


def initialize(url: str, token: str) -> httpx.Response:
    return httpx.post(url, json=INIT, headers=bearer(token), timeout=30)


@dataclass
class Dashboard:
    proc: subprocess.Popen[str]
    base: str
    stderr: list[str] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, follow_redirects=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return new_project(tmp_path / "proj")


@pytest.fixture
def dashboard(project: Path) -> Iterator[Dashboard]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "factorops", "dashboard", "--project", str(project), "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    dash = Dashboard(proc, f"http://127.0.0.1:{port}", lines)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(dash.base + "/style.css", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("dashboard did not start: " + "".join(lines))
        time.sleep(0.1)
    try:
        yield dash
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sign_in(dash: Dashboard, token: str) -> httpx.Client:
    c = dash.client()
    r = c.get("/", params={"token": token})
    assert r.status_code == 303, r.text
    return c


def pending_approval(project: Path) -> str:
    store = Store.open(DataDir.for_project(project), components())
    try:
        req = approvals.ApprovalRequestInput(action="drop the cache", rationale="stale", risk="low")
        return approvals.create(store, req, datetime.now(UTC)).id
    finally:
        store.close()


def decide(c: httpx.Client, dash: Dashboard, aid: str) -> httpx.Response:
    page = c.get("/approvals")
    assert page.status_code == 200, page.text
    m = re.search(rf'action="/approvals/{aid}/decide".*?name="csrf" value="([0-9a-f]+)"', page.text, re.S)
    assert m, page.text
    return c.post(
        f"/approvals/{aid}/decide",
        data={"csrf": m.group(1), "decision": "approve", "comment": ""},
        headers={"origin": dash.base},
    )


def approval_status(project: Path, aid: str) -> approvals.Approval:
    store = Store.open(DataDir.for_project(project), components())
    try:
        return approvals.status(store, aid, datetime.now(UTC))
    finally:
        store.close()


# -- rotation ends every old credential at once -------------------------------------------------------


def test_rotation_ends_the_old_token_and_its_open_event_stream(project: Path) -> None:
    with http_server(project) as srv:
        old = srv.token
        init = initialize(srv.url, old)
        assert init.status_code == 200, init.text
        sid = init.headers["mcp-session-id"]
        session = {**bearer(old), "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert httpx.post(srv.url, json=note, headers=session).status_code == 202
        stream_headers = {**session, "accept": "text/event-stream"}
        # Read timeout below the SDK's 15 s keep-alive ping: a stream left open fails the test.
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=10)) as http,
            http.stream("GET", srv.url, headers=stream_headers) as stream,
        ):
            assert stream.status_code == 200
            rotated = factorops("token", "rotate", "--project", str(project))
            assert rotated.returncode == 0, rotated.stderr
            received = b"".join(stream.iter_bytes())  # returns only when the server ends the stream
        assert b"event: message" not in received
        new = rotated.stdout.strip()
        assert new != old
        assert initialize(srv.url, old).status_code == 401
        assert initialize(srv.url, new).status_code == 200


def test_rotation_ends_a_tool_call_streaming_its_answer(project: Path) -> None:
    """A long POST (a validation gate that takes 30 s) answered as an event stream: rotated
    mid-call, the stream ends without delivering the result to the old token's holder."""
    gate = "import time; time.sleep(30)"
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "slow"\ncommand = ["{sys.executable}", "-c", {gate!r}]\ntimeout_s = 60\n'
    )
    with http_server(project) as srv:
        old = srv.token
        init = initialize(srv.url, old)
        session = {**bearer(old), "mcp-session-id": init.headers["mcp-session-id"]}
        session["mcp-protocol-version"] = "2025-06-18"
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert httpx.post(srv.url, json=note, headers=session).status_code == 202
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call"}
        call["params"] = {"name": "validation_run", "arguments": {"gate": "slow"}}
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=20)) as http,
            http.stream("POST", srv.url, json=call, headers=session) as stream,
        ):
            assert stream.status_code == 200
            assert factorops("token", "rotate", "--project", str(project)).returncode == 0
            received = b"".join(stream.iter_bytes())
        assert b'"id":2' not in received.replace(b" ", b"")


def test_rotation_sends_an_old_dashboard_cookie_back_to_sign_in(project: Path, dashboard: Dashboard) -> None:
    old = token_path(DataDir.for_project(project)).read_text().strip()
    c = sign_in(dashboard, old)
    assert c.get("/approvals").status_code == 200
    assert factorops("token", "rotate", "--project", str(project)).returncode == 0
    page = c.get("/approvals")
    assert page.status_code == 401 and '<form id="sign-in"' in page.text  # the sign-in form, not the page
    assert c.get("/", params={"token": old}).status_code == 401


def test_a_loosened_token_file_is_tightened_by_the_running_server(project: Path) -> None:
    """Chosen behaviour: repair (back to 0600, warning in the log) and keep serving."""
    with http_server(project) as srv:
        path = token_path(DataDir.for_project(project))
        assert initialize(srv.url, srv.token).status_code == 200
        path.chmod(0o644)
        assert initialize(srv.url, srv.token).status_code == 200
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        log = (project / ".agentops" / "logs" / "factorops.log").read_text()
        assert "readable by others" in log


def test_a_body_trickled_a_byte_at_a_time_gets_408(project: Path) -> None:
    with http_server(project) as srv:
        body = json.dumps(INIT).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nAuthorization: Bearer {srv.token}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        answer = b""
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(head)
            sock.settimeout(0.5)
            for i in range(min(len(body) - 1, 60)):  # a byte every half second, never the last one
                try:
                    sock.sendall(body[i : i + 1])
                except OSError:  # the server closed the connection after answering
                    break
                try:
                    answer += sock.recv(4096)
                except TimeoutError:
                    continue
                if answer:
                    break
            sock.settimeout(5)
            try:
                while chunk := sock.recv(4096):
                    answer += chunk
            except (TimeoutError, OSError):
                pass
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        # The server is fine afterwards.
        assert initialize(srv.url, srv.token).status_code == 200


def test_the_public_bind_advice_works_when_followed_literally(tmp_path: Path) -> None:
    project = tmp_path / "my project"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    data_dir = tmp_path / "data dir"
    refused = factorops(
        "serve",
        "--http",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--project",
        str(project),
        "--data-dir",
        str(data_dir),
    )
    assert refused.returncode == 2 and "not loopback" in refused.stderr
    advice = re.search(r"`([^`]+)`", refused.stderr)
    assert advice, refused.stderr
    argv = shlex.split(advice.group(1))
    assert argv[0] == "factorops"
    followed = subprocess.run(
        [sys.executable, "-m", "factorops", *argv[1:]], capture_output=True, text=True, timeout=60
    )
    assert followed.returncode == 0, followed.stderr
    srv = start_http_server(project, "--host", "0.0.0.0", "--data-dir", str(data_dir))
    try:
        assert srv.proc.poll() is None
    finally:
        srv.stop()


# -- person tokens ------------------------------------------------------------------------------------


def test_token_add_list_revoke_on_the_command_line(project: Path) -> None:
    p = str(project)
    alice = factorops("token", "add", "alice", "--project", p)
    assert alice.returncode == 0, alice.stderr
    alice_token = alice.stdout.strip()
    assert alice_token.startswith("fops_") and "shown once" in alice.stderr
    assert factorops("token", "add", "bob", "--project", p).returncode == 0
    listed = factorops("token", "list", "--project", p)
    assert listed.returncode == 0
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["alice", "bob"]
    assert alice_token not in listed.stdout
    stored = people_path(DataDir.for_project(project))
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and alice_token not in stored.read_text()
    assert "http_token" not in git(project, "status", "--porcelain")
    assert "people_tokens" not in git(project, "status", "--porcelain")

    again = factorops("token", "add", "alice", "--project", p)
    assert again.returncode == 2 and "already has a token" in again.stderr
    revoke_cmd = re.search(r"`([^`]+)`", again.stderr)
    assert revoke_cmd and shlex.split(revoke_cmd.group(1))[1:4] == ["token", "revoke", "alice"]
    bad = factorops("token", "add", "Alice Smith", "--project", p)
    assert bad.returncode == 2 and "NAME" in bad.stderr
    assert factorops("token", "add", "install", "--project", p).returncode == 2

    assert factorops("token", "revoke", "alice", "--project", p).returncode == 0
    gone = factorops("token", "revoke", "alice", "--project", p)
    assert gone.returncode == 2 and "no token" in gone.stderr and "bob" in gone.stderr
    listed = factorops("token", "list", "--project", p)
    assert listed.stdout.split("\t")[0] == "bob"


async def test_a_revoked_person_token_stops_working_at_once_over_http(project: Path) -> None:
    alice = factorops("token", "add", "alice", "--project", str(project)).stdout.strip()
    bob = factorops("token", "add", "bob", "--project", str(project)).stdout.strip()
    creds = Credentials(DataDir.for_project(project))
    assert creds.identity_for(alice) == "person:alice" and creds.identity_for("fops_nope") is None
    with http_server(project) as srv:
        assert creds.identity_for(srv.token) == "install"
        async with http_client(srv.url, alice) as c:
            assert (await c.list_tools()).tools
        assert initialize(srv.url, alice).status_code == 200
        assert factorops("token", "revoke", "alice", "--project", str(project)).returncode == 0
        assert initialize(srv.url, alice).status_code == 401
        assert initialize(srv.url, bob).status_code == 200
        assert initialize(srv.url, srv.token).status_code == 200


def test_the_dashboard_names_the_person_and_the_install_token_cannot_decide(
    project: Path, dashboard: Dashboard
) -> None:
    install = token_path(DataDir.for_project(project)).read_text().strip()
    # Single user: no person tokens, the install token decides as before.
    first = pending_approval(project)
    solo = sign_in(dashboard, install)
    assert decide(solo, dashboard, first).status_code == 303
    assert approval_status(project, first).status == "approved"

    alice = factorops("token", "add", "alice", "--project", str(project)).stdout.strip()
    aid = pending_approval(project)
    refused = decide(solo, dashboard, aid)  # the same install-token cookie, now that people exist
    assert refused.status_code == 403 and "person tokens" in refused.text
    assert approval_status(project, aid).status == "pending"
    assert solo.get("/approvals").status_code == 200  # reading is still fine

    person = sign_in(dashboard, alice)
    assert decide(person, dashboard, aid).status_code == 303
    st = approval_status(project, aid)
    assert st.status == "approved" and st.decided_by == "person:alice via dashboard" and st.via == "dashboard"

    assert factorops("token", "revoke", "alice", "--project", str(project)).returncode == 0
    page = person.get("/approvals")
    assert page.status_code == 401 and '<form id="sign-in"' in page.text  # the sign-in form, not the page


def test_credentials_re_read_only_on_change(project: Path) -> None:
    """The per-request cost is a stat: an unchanged file is not re-read (its content is not even
    looked at), a replaced one is."""
    dd = DataDir.for_project(project)
    creds = Credentials(dd)
    first = creds.install_token()
    assert first is not None
    new = factorops("token", "rotate", "--project", str(project)).stdout.strip()
    assert creds.install_token() == new
    os.chmod(token_path(dd), 0o640)
    assert creds.install_token() == new and stat.S_IMODE(token_path(dd).stat().st_mode) == 0o600
    token_path(dd).write_text("garbled\n")
    assert creds.install_token() is None and creds.identify(new) is None  # fails closed
    people_path(dd).write_text("{not json")
    assert creds.has_people()  # an unreadable people file never hands deciding back to the install token
