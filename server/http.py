"""`factorops serve --http`: the MCP server over streamable HTTP, for agents on other machines.

What guards it, outermost first:

1. Bind address: 127.0.0.1 by default. Any other address is refused unless a token is already
   configured (`factorops init` or `factorops token rotate` made one), so the server is never exposed
   by accident with a secret nobody has seen.
2. Only `/mcp` is served; everything else is 404.
3. Bearer token (the SDK's `token_verifier` + `RequireAuthMiddleware`): 401 without the right token
   (the install token or a person's token, see auth_token.py).
4. `StreamGuard`: the body of an authorised request is read in full before the SDK sees it, within
   a deadline (408 for a client that trickles it, a byte at a time, to hold a worker) and a size
   limit (413); and every response, event streams included, ends as soon as its token stops being
   valid (rotated, revoked): before the next event is sent, or within a second when none comes.
5. Host and Origin headers (the SDK's `TransportSecuritySettings`) against DNS rebinding: a page in a
   browser cannot reach a loopback server by renaming itself. 421 / 403.

SIGTERM drains rather than drops: new requests get 503, requests already running (a tool call in
the middle of a ledger write) finish and are answered, and only then do open event streams close and
the process exits 0. A second signal forces the exit; even then a write is never torn, because a
ledger write is atomic on its own (see store/ledger.py).

Over HTTP the project is fixed when the server starts (`--project` or the working directory): the
MCP roots a remote client announces are paths on *its* machine, meaning nothing here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import shlex
import signal
import socket
import sys
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import anyio
import uvicorn
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factorops.store.datadir import DataDir

from .auth_token import Credentials, FileTokenVerifier, TokenError, ensure_token, read_token

log = logging.getLogger("factorops.server.http")

MCP_PATH = "/mcp"
MAX_BODY_BYTES = 1024 * 1024
DRAIN_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 5.0  # the whole request body must arrive within this long
REVOCATION_POLL_S = 0.5  # how often an open response re-checks its token


class HttpConfigError(ValueError):
    """A serving option that would be unsafe or cannot work; the message says the fix."""


@dataclass
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    max_body_bytes: int = MAX_BODY_BYTES
    allow_hosts: list[str] = field(default_factory=list)  # extra Host header values (name or name:port)
    allow_origins: list[str] = field(default_factory=list)  # extra Origin values (scheme://name[:port])
    drain_timeout_s: float = DRAIN_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_names(host: str) -> list[str]:
    """Names a client may legitimately put in the Host header for a server bound to `host`."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if not is_loopback(host):
        wildcard = host in ("0.0.0.0", "::", "")
        if not wildcard:
            names.add(f"[{host}]" if ":" in host else host)
        hostname = socket.gethostname()
        names.update({hostname, socket.getfqdn()})
        if wildcard:
            with contextlib.suppress(OSError):
                for info in socket.getaddrinfo(hostname, None):
                    addr = str(info[4][0])
                    names.add(f"[{addr}]" if ":" in addr else addr)
    return sorted(n for n in names if n)


def security_settings(opts: HttpOptions) -> TransportSecuritySettings:
    """Host/Origin allow-lists. Browsers always send Origin on cross-site requests; non-browser
    clients (IDE agents, the SDK client) send none, which is allowed."""
    hosts = [f"{n}:*" for n in _host_names(opts.host)]
    for extra in opts.allow_hosts:
        # "name" allows the bare name (a proxy on port 80/443) and any port; "name:port" just that.
        hosts += [extra] if re.search(r":(\d+|\*)$", extra) else [extra, f"{extra}:*"]
    origins = [f"http://{n}:*" for n in ("127.0.0.1", "localhost", "[::1]")]
    origins += [o.rstrip("/") for o in opts.allow_origins]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def check_bind(datadir: DataDir, opts: HttpOptions) -> str:
    """The token to serve with; refuses a public bind without a configured token."""
    if not 0 <= opts.port <= 65535:
        raise HttpConfigError(f"--port {opts.port} is not a TCP port (0-65535)")
    try:
        if is_loopback(opts.host):
            token, created = ensure_token(datadir)
            if created:
                print(
                    f"factorops: created the HTTP bearer token in {datadir.path}/http_token "
                    "(print it with `factorops token show`)",
                    file=sys.stderr,
                )
            return token
        token_or_none = read_token(datadir)
    except TokenError as exc:
        raise HttpConfigError(str(exc)) from exc
    if token_or_none is None:
        # Advice that works pasted as printed: quoted, and naming the data dir this run used.
        argv = ["factorops", "token", "rotate", "--project", str(datadir.root)]
        if datadir.path != datadir.root / ".agentops":
            argv += ["--data-dir", str(datadir.path)]
        raise HttpConfigError(
            f"refusing to listen on {opts.host} (not loopback) without a configured token; create one "
            f"with `{shlex.join(argv)}`, share it with your clients, then retry"
        )
    return token_or_none


class Gate:
    """Outermost ASGI layer: 404 outside /mcp, 503 while draining, counts requests in flight."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].rstrip("/") != MCP_PATH:
            await _plain(send, 404, "Not Found: the MCP endpoint is /mcp")
            return
        if self.draining:
            await _plain(send, 503, "Service Unavailable: the server is shutting down", retry=True)
            return
        # GET is the long-lived event stream: it must not hold up a drain, so it is not counted.
        counted = scope["method"] != "GET"
        if counted:
            self.in_flight += 1
            self._idle.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            if counted:
                self.in_flight -= 1
                if self.in_flight == 0:
                    self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"authorization":
            text = value.decode("latin-1")
            return text[7:] if text[:7].lower() == "bearer " else None
    return None


class StreamGuard:
    """Between the gate and the SDK: bounded body reads, and responses that end with their token.

    Requests without a valid token go straight to the SDK, which answers 401 without reading a body.
    For the others the body is read here first, all of it within `body_timeout_s` and at most
    `max_body_bytes`, then replayed to the SDK. While the SDK answers, a watcher re-checks the token
    every `REVOCATION_POLL_S` and every body message is checked before it is sent; once the token
    is no longer valid the SDK is told the client went away (so an event stream stops as it would on
    a disconnect) and the response is ended on the wire.
    """

    def __init__(self, app: ASGIApp, credentials: Credentials, max_body_bytes: int, body_timeout_s: float):
        self.app = app
        self.credentials = credentials
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _bearer(scope) if scope["type"] == "http" else None
        if token is None or not self.credentials.valid(token):
            await self.app(scope, receive, send)
            return
        pending: list[Message] = []
        size = 0
        try:
            with anyio.fail_after(self.body_timeout_s):
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        return
                    pending.append(msg)
                    size += len(msg.get("body", b""))
                    if size > self.max_body_bytes:
                        await _plain(
                            send, 413, "Payload Too Large: the request body is over the limit", close=True
                        )
                        return
                    if not msg.get("more_body", False):
                        break
        except TimeoutError:
            await _plain(
                send,
                408,
                f"Request Timeout: the request body did not arrive within {self.body_timeout_s:g} s",
                close=True,
            )
            return
        await self._answer(scope, token, pending, receive, send)

    async def _answer(
        self, scope: Scope, token: str, pending: list[Message], receive: Receive, send: Send
    ) -> None:
        revoked = anyio.Event()
        started = ended = False

        def still_valid() -> bool:
            if revoked.is_set() or not self.credentials.valid(token):
                revoked.set()
                return False
            return True

        async def watch() -> None:
            while still_valid():
                await anyio.sleep(REVOCATION_POLL_S)

        async def guarded_receive() -> Message:
            if pending:
                return pending.pop(0)
            got: list[Message] = []
            async with anyio.create_task_group() as race:

                async def real() -> None:
                    got.append(await receive())
                    race.cancel_scope.cancel()

                async def stop() -> None:
                    await revoked.wait()
                    race.cancel_scope.cancel()

                race.start_soon(real)
                race.start_soon(stop)
            return got[0] if got else {"type": "http.disconnect"}

        async def end() -> None:
            nonlocal ended
            if started and not ended:
                ended = True
                with contextlib.suppress(OSError, RuntimeError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def guarded_send(message: Message) -> None:
            nonlocal started, ended
            if ended:
                return
            if message["type"] == "http.response.start" and not still_valid():
                started = ended = True
                await _plain(send, 401, "Unauthorized: the token is no longer valid", close=True)
                return
            if message["type"] == "http.response.body" and not still_valid():
                await end()
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ended = True

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            try:
                await self.app(scope, guarded_receive, guarded_send)
            finally:
                tg.cancel_scope.cancel()
        if revoked.is_set():
            log.info("ended a response whose token is no longer valid")
            await end()


async def _plain(send: Send, status: int, text: str, retry: bool = False, close: bool = False) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if retry:
        headers.append((b"retry-after", b"1"))
    if close:
        headers.append((b"connection", b"close"))
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


def build_http_app(app: Any, datadir: DataDir, opts: HttpOptions) -> Gate:
    """The ASGI app: the SDK's streamable HTTP app with our token verifier and security settings.

    `app` is the FactoropsServer; auth must be configured on it because the SDK reads its auth
    settings and verifier from the server object when building the Starlette app.
    """
    credentials = Credentials(datadir)
    verifier = FileTokenVerifier(credentials)
    public = f"http://{'[' + opts.host + ']' if ':' in opts.host else opts.host}:{opts.port}"
    app.settings.auth = AuthSettings(issuer_url=public, resource_server_url=None)  # type: ignore[arg-type]
    app._token_verifier = verifier
    starlette_app = app.streamable_http_app(
        streamable_http_path=MCP_PATH,
        max_request_body_size=opts.max_body_bytes,
        transport_security=security_settings(opts),
        host=opts.host,
    )
    return Gate(StreamGuard(starlette_app, credentials, opts.max_body_bytes, opts.body_timeout_s))


class DrainingServer(uvicorn.Server):
    """uvicorn, with SIGTERM/SIGINT meaning "finish what is running, then exit 0"."""

    def __init__(self, config: uvicorn.Config, gate: Gate, drain_timeout_s: float) -> None:
        super().__init__(config)
        self.gate = gate
        self.drain_timeout_s = drain_timeout_s
        self.bound: tuple[str, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        # uvicorn's own version re-raises the signal after shutdown (exit status -15); a drained,
        # clean stop should exit 0, so we install plain handlers and restore them afterwards.
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.gate.draining or self._loop is None:
            self.should_exit = True
            self.force_exit = self.gate.draining  # a second signal: stop waiting
            return
        self.gate.draining = True
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._drain_task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        log.warning("shutting down: waiting for %d request(s) in flight", self.gate.in_flight)
        if not await self.gate.wait_idle(self.drain_timeout_s):
            log.error("requests still running after %.0f s; stopping anyway", self.drain_timeout_s)
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                addr = sock.getsockname()
                self.bound = (str(addr[0]), int(addr[1]))
                break
        if self.bound is not None:
            host, port = self.bound
            shown = f"[{host}]" if ":" in host else host
            # Tests and scripts read this line to learn a port chosen with --port 0.
            print(f"factorops: serving MCP on http://{shown}:{port}{MCP_PATH}", file=sys.stderr, flush=True)


def serve_http(app: Any, datadir: DataDir, opts: HttpOptions) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status."""
    check_bind(datadir, opts)
    gate = build_http_app(app, datadir, opts)
    config = uvicorn.Config(
        gate,
        host=opts.host,
        port=opts.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        # After the drain, open event streams get this long to close before they are cancelled.
        timeout_graceful_shutdown=5,
    )
    server = DrainingServer(config, gate, opts.drain_timeout_s)
    server.run()
    if not server.started:
        raise HttpConfigError(f"could not listen on {opts.host}:{opts.port} (see the error above)")
    return 0
