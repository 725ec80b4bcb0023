"""What keeps the dashboard for the people at this machine: loopback Host only, security headers,
the token cookie, who may decide, and per-form CSRF tokens.

Access needs a token: the install token, or a person's token (`factorops token add NAME`). Opening
`/?token=…` (the URL `factorops dashboard` prints) sets an HttpOnly, SameSite=Strict cookie holding
it; every request checks the cookie against the credentials as they are now (`Credentials`, which
re-reads the token files when they change), so `token rotate` / `token revoke` sends an old cookie
back to the sign-in page on its next request. Once any person token exists, only a person may
decide or promote: the install token is the assistants' (`serve --http` clients), and an assistant
must never decide. Every state change is a POST carrying a CSRF token derived from the signed-in
token and bound to the path it posts to, and a POST whose Origin is not this server is refused, so
another page in the browser cannot approve anything.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse

from factorops.server.auth_token import Caller, Credentials

COOKIE = "factorops_dashboard"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
SECURITY_HEADERS = [
    # No script, no framing (clickjacking an Approve button), forms post only to this server.
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # The sign-in URL carries the token: never send it to another site. (`no-referrer` would make
    # Chromium send `Origin: null` on our own form posts, which the Origin check refuses.)
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def csrf_for(token: str, action: str) -> str:
    """The CSRF token of one form: bound to the install token and to the path the form posts to,
    so a token seen in one form is worth nothing for another."""
    return hmac.new(token.encode(), f"factorops-dashboard-csrf:{action}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(token: str, request: Request, form: dict[str, Any]) -> bool:
    return hmac.compare_digest(str(form.get("csrf", "")).encode(), csrf_for(token, request.url.path).encode())


def cookie_token(request: Request) -> str:
    return request.cookies.get(COOKIE, "")


def signed_in(credentials: Credentials, request: Request) -> Caller | None:
    """Who the cookie belongs to, or None (no cookie, or a token rotated or revoked since)."""
    return credentials.identify(cookie_token(request))


def may_decide(credentials: Credentials, caller: Caller) -> bool:
    """A person may; the install token only while there are no person tokens (a single user)."""
    return caller.person or not credentials.has_people()


def same_origin(request: Request) -> bool:
    """A POST from a page of another origin is refused; a missing Origin (curl, old browsers) is
    let through to the CSRF check, which it cannot pass without a form of ours."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    return origin is None or origin in (f"http://{host}", f"https://{host}")


class LocalOnly:
    """ASGI wrapper: refuse Host names other than loopback ones (DNS rebinding: a page on
    evil.example re-pointed at 127.0.0.1 still sends `Host: evil.example`), and add the security
    headers to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in LOCAL_HOSTS:
            await PlainTextResponse(f"unknown host {host!r}: open the dashboard on 127.0.0.1", 421)(
                scope, receive, send
            )
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
