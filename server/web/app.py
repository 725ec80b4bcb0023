"""`factorops dashboard`: approvals, patterns, sessions and metrics for people, on 127.0.0.1.

The routes only translate: read the request, call the domain, hand plain data to `views`.
Who may see and post is `security`'s business. Decisions made here are ledger records like any
other (`via: dashboard`).
"""

from __future__ import annotations

import contextlib
import getpass
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from factorops.server.auth_token import Caller, Credentials, StaticCredentials
from factorops.store.store import Store
from factorops.tools.flywheel import maturity
from factorops.tools.kernel.actor import Actor
from factorops.tools.kernel.errors import DomainError
from factorops.tools.metrics import report as metrics
from factorops.tools.oversight import approvals
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.model import PatternStatus
from factorops.tools.sessions import lifecycle as sessions
from factorops.tools.sessions import queries as session_queries

from . import views
from .security import COOKIE, LocalOnly, cookie_token, csrf_for, csrf_ok, may_decide, same_origin, signed_in
from .static import CSS

__all__ = ["COOKIE", "build", "csrf_for"]
log = logging.getLogger("factorops.dashboard")


def _now() -> datetime:
    return datetime.now(UTC)


def _html(title: str, active: str, body: str, flash: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(views.page(title, active, body, flash), status_code=status)


SIGN_IN_COOKIE = "factorops_sign_in"


def _local(path: str) -> str:
    """Where to go after signing in: a path on this site, never another site (`//evil`, `\\evil`)."""
    ok = path.startswith("/") and not path.startswith("//") and "\\" not in path and path.isprintable()
    return path[:500] if ok else "/approvals"


def _not_found(what: str, active: str = "") -> HTMLResponse:
    return _html("Not found", active, views.not_found(what), status=404)


async def _no_route(request: Request, exc: Exception) -> Response:
    """Starlette's 404 (no such route) as a page of the site, with its navigation."""
    return _not_found(f"There is no page at {request.url.path[:200]}.")


def _back(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?flash={quote(message[:200])}", status_code=303)


def build(
    store: Store,
    credentials: Credentials | str,
    now: Callable[[], datetime] = _now,
    by: str | None = None,
) -> LocalOnly:
    """`credentials`: the data dir's live `Credentials` (what `factorops dashboard` passes), or one
    fixed install token. `by` names the decider when the install token decides (default
    `dashboard:<OS user>`); a person's token always names that person (`person:NAME`)."""
    creds = StaticCredentials(credentials) if isinstance(credentials, str) else credentials
    install_person = by or f"dashboard:{getpass.getuser()}"

    def decider(caller: Caller) -> str:
        return caller.identity if caller.person else install_person

    def csrf_of(request: Request) -> Callable[[str], str]:
        token = cookie_token(request)
        return lambda action: csrf_for(token, action)

    def sign_in(next_path: str, error: str = "", status: int = 401) -> Response:
        """The sign-in form; a fresh nonce in a cookie scoped to /sign-in and in the form (double
        submit), so another site cannot sign this browser in with a token of its choosing."""
        nonce = secrets.token_urlsafe(24)
        resp = _html("Sign in", "", views.sign_in(next_path, nonce, error), status=status)
        resp.set_cookie(
            SIGN_IN_COOKIE, nonce, httponly=True, samesite="strict", max_age=1800, path="/sign-in"
        )
        return resp

    def asked_for(request: Request) -> str:
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if signed_in(creds, request) is None:
                return sign_in(asked_for(request))
            return await anyio.to_thread.run_sync(handler, request)

        return run

    def posting(
        handler: Callable[[Request, dict[str, Any], str], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            caller = signed_in(creds, request)
            if caller is None:
                return sign_in("/approvals")
            if not same_origin(request):
                return PlainTextResponse("cross-origin request refused", status_code=403)
            if not may_decide(creds, caller):
                return PlainTextResponse(
                    "the install token cannot decide once person tokens exist: sign in with your own "
                    "token (`factorops token add NAME` makes one)",
                    status_code=403,
                )
            form = dict(await request.form())
            if not csrf_ok(cookie_token(request), request, form):
                return PlainTextResponse("missing or wrong CSRF token; reload the page", status_code=403)
            return await anyio.to_thread.run_sync(handler, request, form, decider(caller))

        return run

    def index(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            if creds.identify(given) is None:
                return PlainTextResponse("wrong token", status_code=401)
            resp = RedirectResponse("/approvals", status_code=303)
            resp.set_cookie(COOKIE, given, httponly=True, samesite="strict", max_age=7 * 86400)
            return resp
        if signed_in(creds, request) is None:
            return sign_in("/approvals")
        return RedirectResponse("/approvals", status_code=303)

    async def sign_in_post(request: Request) -> Response:
        """The pasted token, checked like the link's: a cookie on success, then the page asked for."""
        if not same_origin(request):
            return PlainTextResponse("cross-origin request refused", status_code=403)
        form = await request.form()
        nonce = str(form.get("nonce", ""))
        if not nonce or not hmac.compare_digest(
            nonce.encode(), request.cookies.get(SIGN_IN_COOKIE, "").encode()
        ):
            return sign_in(
                _local(str(form.get("next", ""))), "The sign-in form expired; paste the token again.", 403
            )
        next_path = _local(str(form.get("next", "")))
        if creds.identify(str(form.get("token", "")).strip()) is None:
            return sign_in(next_path, "wrong token: check `factorops token show` (or your own token)")
        resp = RedirectResponse(next_path, status_code=303)
        resp.set_cookie(
            COOKIE, str(form.get("token", "")).strip(), httponly=True, samesite="strict", max_age=7 * 86400
        )
        resp.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
        return resp

    def style(_: Request) -> Response:
        return Response(CSS, media_type="text/css")

    def approvals_page(request: Request) -> Response:
        pending = approvals.pending(store, now())
        recent = [r for r in approvals.recent(store, 20, now()) if r["status"] != "pending"]
        flash = request.query_params.get("flash", "")
        return _html("Approvals", "approvals", views.approvals(pending, recent, csrf_of(request)), flash)

    def approval_page(request: Request) -> Response:
        """One request: the page an assistant's link opens (`approvals.link`)."""
        aid = request.path_params["aid"]
        try:
            row = approvals.record(store, aid, now())
        except DomainError as exc:
            return _not_found(exc.message, "approvals")
        flash = request.query_params.get("flash", "")
        if row["status"] == "pending":
            body = views.approvals([row], [], csrf_of(request))
        else:
            body = views.approval(row)
        return _html(f"Approval {aid}", "approvals", body, flash)

    def decide(request: Request, form: dict[str, Any], person: str) -> Response:
        choice = form.get("decision")
        if choice not in ("approve", "deny"):
            return PlainTextResponse("decision must be approve or deny", status_code=400)
        comment = str(form.get("comment", ""))[:2000]
        try:
            a = approvals.decide(
                store,
                request.path_params["aid"],
                choice == "approve",
                Actor.dashboard(person),
                comment,
                now(),
            )
        except DomainError as exc:
            return _back("/approvals", exc.message)
        return _back("/approvals", f"{a.id} {a.status}")

    def patterns_page(request: Request) -> Response:
        q = request.query_params.get("q", "")[:200]
        status = request.query_params.get("status") or None
        if status not in views.STATUSES:
            status = None
        rows: list[dict[str, object]]
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
        flash = request.query_params.get("flash", "")
        return _html("Patterns", "patterns", views.patterns(rows, q, status, _stages(rows)), flash)

    def _stages(rows: list[dict[str, object]]) -> dict[str, maturity.Assessment]:
        """The maturity of the (at most 50) patterns shown: which candidates a person may promote."""
        m = maturity.thresholds(store)
        out = {}
        for r in rows:
            if r.get("status") == "retired":
                continue
            try:
                out[str(r["id"])] = maturity.assess(patterns.get(store, str(r["id"])), now(), m)
            except DomainError:
                continue  # a broken file: its own page says so
        return out

    def pattern_page(request: Request) -> Response:
        try:
            p = patterns.get(store, request.path_params["pid"])
        except DomainError as exc:
            return _not_found(exc.message, "patterns")
        shown = maturity.assess(p, now(), maturity.thresholds(store)) if p.status != "retired" else None
        body = views.pattern(p, csrf_of(request), shown)
        return _html(p.title, "patterns", body, request.query_params.get("flash", ""))

    def _set_status(request: Request, person: str, status: PatternStatus, done: str) -> Response:
        """A person's promotion or retirement: the same domain call as `factorops patterns`."""
        pid = request.path_params["pid"]
        try:
            patterns.set_status(store, pid, status, now(), Actor.dashboard(person))
        except DomainError as exc:
            return _back(f"/patterns/{pid}", exc.message)
        return _back(f"/patterns/{pid}", done)

    def promote(request: Request, form: dict[str, Any], person: str) -> Response:
        return _set_status(request, person, "active", "promoted")

    def retire(request: Request, form: dict[str, Any], person: str) -> Response:
        return _set_status(request, person, "retired", "retired")

    def sessions_page(request: Request) -> Response:
        return _html("Sessions", "sessions", views.sessions(sessions.list_sessions(store, limit=50)))

    def session_page(request: Request) -> Response:
        found = session_queries.detail(store, request.path_params["sid"])
        if found is None:
            return _not_found(f"No session {request.path_params['sid']!r}.", "sessions")
        state = sessions.resume(store, sessions.SessionResumeInput(session_id=found.id), now())
        return _html(found.goal[:120], "sessions", views.session(found, state))

    def metrics_page(request: Request) -> Response:
        period = request.query_params.get("period", "week")
        if period not in views.PERIODS:
            period = "week"
        r = metrics.report(store, metrics.MetricsReportInput.model_validate({"period": period}), now())
        return _html("Metrics", "metrics", views.metrics(r, period))

    routes = [
        Route("/", index),
        Route("/style.css", style),
        Route("/approvals", guarded(approvals_page)),
        Route("/sign-in", sign_in_post, methods=["POST"]),
        Route("/approvals/{aid}", guarded(approval_page)),
        Route("/approvals/{aid}/decide", posting(decide), methods=["POST"]),
        Route("/patterns", guarded(patterns_page)),
        Route("/patterns/{pid}", guarded(pattern_page)),
        Route("/patterns/{pid}/promote", posting(promote), methods=["POST"]),
        Route("/patterns/{pid}/retire", posting(retire), methods=["POST"]),
        Route("/sessions", guarded(sessions_page)),
        Route("/sessions/{sid}", guarded(session_page)),
        Route("/metrics", guarded(metrics_page)),
    ]
    return LocalOnly(
        Starlette(routes=routes, lifespan=_sweeping(store, now), exception_handlers={404: _no_route})
    )


SWEEP_EVERY_S = 60.0


def _sweeping(store: Store, now: Callable[[], datetime]) -> Callable[[Starlette], Any]:
    """While the dashboard runs, escalate and time out approvals when due even if nobody reads
    them (every read sweeps too): once at start, then every minute. A failing sweep is logged."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await anyio.to_thread.run_sync(lambda: approvals.sweep(store, now()))
                except Exception:
                    log.exception("approvals sweep failed")
                await anyio.sleep(SWEEP_EVERY_S)

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop)
            yield
            tg.cancel_scope.cancel()

    return lifespan
