"""`factorops dashboard`: approvals, patterns, sessions and metrics for people, on 127.0.0.1.

Server-rendered HTML with one stylesheet and no JavaScript. Access needs the per-install token:
opening `/?token=…` (the URL the command prints) sets an HttpOnly, SameSite=Strict cookie. Every
state change is a POST carrying a CSRF token derived from the install token, and a request whose
Origin is not this server is refused, so another page in the browser cannot approve anything.
Decisions made here are ledger records like any other (`via: dashboard`).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from factorops.store.store import Store
from factorops.tools.kernel.errors import DomainError
from factorops.tools.metrics import report as metrics
from factorops.tools.oversight import approvals
from factorops.tools.patterns import records as patterns
from factorops.tools.sessions import lifecycle as sessions

from . import svg
from .static import CSS

COOKIE = "factorops_dashboard"
NAV = (("approvals", "Approvals"), ("patterns", "Patterns"), ("sessions", "Sessions"), ("metrics", "Metrics"))


def _now() -> datetime:
    return datetime.now(UTC)


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


def _csrf_ok(token: str, request: Request, form: dict[str, Any]) -> bool:
    return hmac.compare_digest(str(form.get("csrf", "")).encode(), csrf_for(token, request.url.path).encode())


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


def page(title: str, active: str, body: str, flash: str = "", status: int = 200) -> HTMLResponse:
    nav = "".join(
        f'<a href="/{key}" class="{"on" if key == active else ""}">{label}</a>' for key, label in NAV
    )
    note = f'<div class="flash" role="status">{escape(flash)}</div>' if flash else ""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · factorops</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css">'
        f"</head><body><header><strong>factorops</strong><nav>{nav}</nav></header>"
        f"<main><h1>{escape(title)}</h1>{note}{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def build(store: Store, token: str, now: Callable[[], datetime] = _now, by: str | None = None) -> LocalOnly:
    person = by or f"dashboard:{getpass.getuser()}"

    def authorised(request: Request) -> bool:
        given = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(given.encode(), token.encode())

    def guard(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            if not authorised(request):
                return page(
                    "Sign in",
                    "",
                    "<p>Open the link <code>factorops dashboard</code> printed: it carries this install's "
                    "token (<code>factorops token show</code>).</p>",
                    status=401,
                )
            if request.method == "POST":
                origin = request.headers.get("origin")
                host = request.headers.get("host", "")
                if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                    return PlainTextResponse("cross-origin request refused", status_code=403)
            return handler(request)

        return wrapped

    def index(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            if not hmac.compare_digest(given.encode(), token.encode()):
                return PlainTextResponse("wrong token", status_code=401)
            resp = RedirectResponse("/approvals", status_code=303)
            resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=7 * 86400)
            return resp
        if not authorised(request):
            return guard(lambda r: Response())(request)
        return RedirectResponse("/approvals", status_code=303)

    def style(_: Request) -> Response:
        return Response(CSS, media_type="text/css")

    # -- approvals --------------------------------------------------------------------------------

    def approvals_page(request: Request) -> Response:
        t = now()
        rows = approvals.pending(store, t)
        body = []
        if not rows:
            body.append('<p class="muted">Nothing waiting for a decision.</p>')
        for r in rows:
            aid = escape(str(r["id"]))
            form_csrf = csrf_for(token, f"/approvals/{r['id']}/decide")
            body.append(
                f'<div class="card" id="{aid}"><div><span class="risk-{escape(str(r["risk"]))}">'
                f"{escape(str(r['risk'])).upper()}</span> · <code>{aid}</code> · expires {escape(str(r['expires_at'])[:19])}</div>"
                f'<p><strong>{escape(str(r["action"]))}</strong></p><p class="muted">{escape(str(r["rationale"]))}</p>'
                f'<form method="post" action="/approvals/{aid}/decide">'
                f'<input type="hidden" name="csrf" value="{form_csrf}">'
                f'<input type="text" name="comment" placeholder="comment (optional)" aria-label="comment"> '
                f'<button class="approve" name="decision" value="approve">Approve</button> '
                f'<button class="deny" name="decision" value="deny">Deny</button></form></div>'
            )
        recent = [r for r in approvals.recent(store, 20) if r["status"] != "pending"]
        if recent:
            body.append(
                "<h2>Recent decisions</h2><table><tr><th>when</th><th>action</th><th>decision</th><th>by</th><th>comment</th></tr>"
            )
            for r in recent:
                body.append(
                    f"<tr><td>{escape(str(r['decided_at'] or '')[:19])}</td><td>{escape(str(r['action']))}</td>"
                    f'<td><span class="badge {escape(str(r["status"]))}">{escape(str(r["status"]))}</span></td>'
                    f"<td>{escape(str(r['decided_by'] or ''))}</td><td>{escape(str(r['comment'] or ''))}</td></tr>"
                )
            body.append("</table>")
        return page("Approvals", "approvals", "".join(body), request.query_params.get("flash", ""))

    async def decide(request: Request) -> Response:
        form = await request.form()
        return await _run_sync(request, lambda: _decide(request, dict(form)))

    def _decide(request: Request, form: dict[str, Any]) -> Response:
        if not _csrf_ok(token, request, form):
            return PlainTextResponse("missing or wrong CSRF token; reload the page", status_code=403)
        aid = request.path_params["aid"]
        choice = form.get("decision")
        if choice not in ("approve", "deny"):
            return PlainTextResponse("decision must be approve or deny", status_code=400)
        try:
            a = approvals.decide(
                store,
                aid,
                choice == "approve",
                person,
                "dashboard",
                str(form.get("comment", ""))[:2000],
                now(),
            )
        except DomainError as exc:
            return RedirectResponse(f"/approvals?flash={_q(exc.message)}", status_code=303)
        return RedirectResponse(f"/approvals?flash={_q(f'{a.id} {a.status}')}", status_code=303)

    # -- patterns ---------------------------------------------------------------------------------

    def patterns_page(request: Request) -> Response:
        q = request.query_params.get("q", "")[:200]
        status = request.query_params.get("status") or None
        if status not in (None, "candidate", "active", "retired"):
            status = None
        if q:
            res = patterns.search(
                store,
                patterns.PatternsSearchInput(query=q, status=status, limit=50, budget_tokens=20_000),
                now(),
            )
            rows = [
                {"id": h.id, "title": h.title, "kind": h.kind, "status": h.status, "confidence": h.confidence}
                for h in res.results
            ]
        else:
            rows = patterns.list_patterns(store, status=status, limit=50)
        opts = "".join(
            f'<option value="{v}"{" selected" if status == v else ""}>{v or "any status"}</option>'
            for v in ("", "candidate", "active", "retired")
        )
        body = [
            f'<form method="get" action="/patterns"><input type="search" name="q" value="{escape(q)}" placeholder="search patterns" aria-label="search"> '
            f'<select name="status" aria-label="status">{opts}</select> <button>Search</button></form><br>',
            "<table><tr><th>title</th><th>kind</th><th>status</th><th>confidence</th></tr>",
        ]
        for r in rows:
            pid = escape(str(r["id"]))
            body.append(
                f'<tr><td><a href="/patterns/{pid}">{escape(str(r["title"]))}</a></td><td>{escape(str(r["kind"]))}</td>'
                f'<td><span class="badge {escape(str(r["status"]))}">{escape(str(r["status"]))}</span></td>'
                f"<td>{float(str(r['confidence'])):.2f}</td></tr>"
            )
        body.append("</table>")
        if not rows:
            body.append('<p class="muted">No patterns match.</p>')
        return page("Patterns", "patterns", "".join(body), request.query_params.get("flash", ""))

    def pattern_page(request: Request) -> Response:
        pid = request.path_params["pid"]
        try:
            p = patterns.get(store, pid)
        except DomainError as exc:
            return page("Pattern not found", "patterns", f"<p>{escape(exc.message)}</p>", status=404)
        actions = ""
        if p.status == "candidate":
            actions = (
                f'<form method="post" action="/patterns/{escape(p.id)}/promote">'
                f'<input type="hidden" name="csrf" value="{csrf_for(token, f"/patterns/{p.id}/promote")}">'
                '<button class="approve">Promote to active</button></form>'
            )
        from factorops.tools.patterns import markdown as pattern_markdown

        body = (
            f'<p><span class="badge {p.status}">{p.status}</span> {escape(p.kind)} · confidence {p.confidence:.2f} · '
            f"used {p.times_used}, helped {p.times_helped}</p>{actions}<pre>{escape(pattern_markdown.render(p))}</pre>"
        )
        return page(p.title, "patterns", body, request.query_params.get("flash", ""))

    async def promote(request: Request) -> Response:
        form = dict(await request.form())
        return await _run_sync(request, lambda: _promote(request, form))

    def _promote(request: Request, form: dict[str, Any]) -> Response:
        if not _csrf_ok(token, request, form):
            return PlainTextResponse("missing or wrong CSRF token; reload the page", status_code=403)
        pid = request.path_params["pid"]
        try:
            patterns.set_status(store, pid, "active", now(), by=person)
        except DomainError as exc:
            return RedirectResponse(f"/patterns/{pid}?flash={_q(exc.message)}", status_code=303)
        return RedirectResponse(f"/patterns/{pid}?flash=promoted", status_code=303)

    # -- sessions ---------------------------------------------------------------------------------

    def sessions_page(request: Request) -> Response:
        rows = sessions.list_sessions(store, limit=50)
        body = ["<table><tr><th>updated</th><th>goal</th><th>status</th><th>checkpoints</th></tr>"]
        for r in rows:
            badge = r.outcome or r.status
            body.append(
                f'<tr><td>{r.updated_at:%Y-%m-%d %H:%M}</td><td><a href="/sessions/{escape(r.id)}">{escape(r.goal[:100])}</a></td>'
                f'<td><span class="badge {escape(badge)}">{escape(badge)}</span></td><td>{r.checkpoints}</td></tr>'
            )
        body.append("</table>")
        if not rows:
            body.append('<p class="muted">No sessions yet.</p>')
        return page("Sessions", "sessions", "".join(body))

    def session_page(request: Request) -> Response:
        sid = request.path_params["sid"]
        row = store.db.execute("SELECT goal, status, outcome FROM sessions WHERE id = ?", [sid]).fetchone()
        if row is None:
            return page("Session not found", "sessions", "<p>No such session.</p>", status=404)
        cps = store.db.execute(
            "SELECT seq, created_at, summary, next_steps, files_touched FROM checkpoints WHERE session_id = ? ORDER BY seq",
            [sid],
        ).fetchall()
        body = [
            f'<p><span class="badge {escape(row[2] or row[1])}">{escape(row[2] or row[1])}</span> <code>{escape(sid)}</code></p>'
        ]
        for seq, created, summary, nxt, files in cps:
            steps = "".join(f"<li>{escape(s)}</li>" for s in json.loads(nxt))
            body.append(
                f'<div class="card"><div class="muted">#{seq} · {escape(created[:19].replace("T", " "))}'
                f" · {len(json.loads(files))} file(s)</div><p>{escape(summary)}</p>"
                + (f"<div>Next:<ul>{steps}</ul></div>" if steps else "")
                + "</div>"
            )
        if not cps:
            body.append('<p class="muted">No checkpoints yet.</p>')
        return page(row[0][:120], "sessions", "".join(body))

    # -- metrics ----------------------------------------------------------------------------------

    def metrics_page(request: Request) -> Response:
        period = request.query_params.get("period", "week")
        if period not in ("day", "week", "month", "all"):
            period = "week"
        r = metrics.report(store, metrics.MetricsReportInput(period=period), now())  # type: ignore[arg-type]
        links = " ".join(
            f'<a href="/metrics?period={p}"{" class=on" if p == period else ""}>{p}</a>'
            for p in ("day", "week", "month", "all")
        )
        facts = (
            f"<p>{r.sessions} sessions · {r.context_loads} context loads ({r.context_over_40pct} over 40%) · "
            f"{r.validations} validations"
            + (f" ({r.validation_pass_rate:.0%} passed)" if r.validation_pass_rate is not None else "")
            + f" · {r.approvals} approvals · {r.patterns_active} active patterns</p>"
        )
        charts = (
            svg.bars("Session outcomes", sorted(r.outcomes.items(), key=lambda kv: -kv[1]), color="#2e7d4f")
            + svg.bars("Tool calls", [(t.tool, t.calls) for t in r.tools[:12]])
            + svg.bars("Tool p50 latency (ms)", [(t.tool, t.p50_ms) for t in r.tools[:12]], color="#8a5a9e")
        )
        return page("Metrics", "metrics", f"<p>{links}</p>{facts}{charts}")

    def sync_route(path: str, fn: Callable[[Request], Response], methods: list[str] | None = None) -> Route:
        return Route(path, guard(fn), methods=methods or ["GET"])

    def async_route(path: str, fn: Callable[[Request], Any]) -> Route:
        async def wrapped(request: Request) -> Response:
            denied = guard(lambda r: Response(status_code=204))(request)
            if denied.status_code != 204:
                return denied
            result: Response = await fn(request)
            return result

        return Route(path, wrapped, methods=["POST"])

    routes = [
        Route("/", index),
        Route("/style.css", style),
        sync_route("/approvals", approvals_page),
        async_route("/approvals/{aid}/decide", decide),
        sync_route("/patterns", patterns_page),
        sync_route("/patterns/{pid}", pattern_page),
        async_route("/patterns/{pid}/promote", promote),
        sync_route("/sessions", sessions_page),
        sync_route("/sessions/{sid}", session_page),
        sync_route("/metrics", metrics_page),
    ]
    return LocalOnly(Starlette(routes=routes))


async def _run_sync(request: Request, fn: Callable[[], Response]) -> Response:
    import anyio

    return await anyio.to_thread.run_sync(fn)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:200])
