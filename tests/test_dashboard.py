"""The dashboard: token, CSRF and Origin checks, every page, decisions recorded in the ledger."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from factorops.server.web.app import COOKIE, build, csrf_for
from factorops.store.store import Store
from factorops.tools.oversight import approvals
from factorops.tools.patterns import records as patterns
from factorops.tools.sessions import lifecycle as sessions

from .conftest import Clock, git

TOKEN = "dashboard-test-token-0123456789"


@pytest.fixture
def web(store: Store, clock: Clock) -> TestClient:
    return TestClient(build(store, TOKEN, now=clock, by="dashboard:tester"), base_url="http://127.0.0.1:8766")


def _login(web: TestClient) -> None:
    r = web.get(f"/?token={TOKEN}", follow_redirects=False)
    assert (
        r.status_code == 303 and COOKIE in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    )
    assert "SameSite=strict" in r.headers["set-cookie"]


def _request(store: Store, clock: Clock) -> str:
    return approvals.create(
        store,
        approvals.ApprovalRequestInput(action="delete the staging DB", rationale="reset", risk="high"),
        clock(),
    ).id


def test_every_page_needs_the_token(web: TestClient) -> None:
    for path in ("/approvals", "/patterns", "/sessions", "/metrics", "/patterns/x", "/sessions/x"):
        r = web.get(path)
        assert r.status_code == 401 and "token" in r.text, path
    assert web.get("/?token=wrong").status_code == 401
    assert web.post("/approvals/x/decide", data={"decision": "approve"}).status_code == 401


def test_approve_from_the_page_is_recorded(web: TestClient, store: Store, clock: Clock) -> None:
    aid = _request(store, clock)
    _login(web)
    page = web.get("/approvals")
    assert page.status_code == 200 and "delete the staging DB" in page.text and "HIGH" in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert csrf == csrf_for(TOKEN, f"/approvals/{aid}/decide")
    r = web.post(
        f"/approvals/{aid}/decide",
        data={"csrf": csrf, "decision": "approve", "comment": "fine"},
        headers={"origin": "http://127.0.0.1:8766"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "approved" in r.text
    st = approvals.status(store, aid, clock())
    assert st.status == "approved" and st.via == "dashboard" and st.comment == "fine"
    assert "via dashboard" in git(store.ledger.path, "log", "-1", "--format=%s")
    again = web.post(
        f"/approvals/{aid}/decide", data={"csrf": csrf, "decision": "deny"}, follow_redirects=True
    )
    assert "already approved" in again.text


def test_csrf_and_origin_are_enforced(web: TestClient, store: Store, clock: Clock) -> None:
    aid = _request(store, clock)
    _login(web)
    assert web.post(f"/approvals/{aid}/decide", data={"decision": "approve"}).status_code == 403
    assert (
        web.post(f"/approvals/{aid}/decide", data={"csrf": "0" * 64, "decision": "approve"}).status_code
        == 403
    )
    evil = web.post(
        f"/approvals/{aid}/decide",
        data={"csrf": csrf_for(TOKEN, f"/approvals/{aid}/decide"), "decision": "approve"},
        headers={"origin": "http://evil.example"},
    )
    assert evil.status_code == 403
    assert web.get(f"/approvals/{aid}/decide").status_code == 405  # GET never changes anything
    assert approvals.status(store, aid, clock()).status == "pending"
    other = _request(store, clock)  # a form's token is worth nothing for another form
    stolen = csrf_for(TOKEN, f"/approvals/{other}/decide")
    assert (
        web.post(f"/approvals/{aid}/decide", data={"csrf": stolen, "decision": "approve"}).status_code == 403
    )
    bad = web.post(
        f"/approvals/{aid}/decide",
        data={"csrf": csrf_for(TOKEN, f"/approvals/{aid}/decide"), "decision": "maybe"},
    )
    assert bad.status_code == 400


def test_patterns_search_view_promote(web: TestClient, store: Store, clock: Clock) -> None:
    pid = patterns.record(
        store,
        patterns.PatternRecordInput(title="Keep <b>migrations</b> reversible", solution="down()"),
        clock(),
    ).id
    _login(web)
    listing = web.get("/patterns")
    assert "Keep &lt;b&gt;migrations&lt;/b&gt; reversible" in listing.text  # escaped, never injected
    found = web.get("/patterns?q=migrations")
    assert pid in found.text
    assert web.get("/patterns?q=AND%20OR%20%22").status_code == 200
    view = web.get(f"/patterns/{pid}")
    assert "Promote to active" in view.text
    r = web.post(
        f"/patterns/{pid}/promote",
        data={"csrf": csrf_for(TOKEN, f"/patterns/{pid}/promote")},
        follow_redirects=True,
    )
    assert "promoted" in r.text and patterns.get(store, pid).status == "active"
    assert web.get("/patterns/pat-missing").status_code == 404


def test_sessions_and_metrics_pages(web: TestClient, store: Store, clock: Clock) -> None:
    s = sessions.start(store, sessions.SessionStartInput(goal="Port the billing job"), clock())
    sessions.checkpoint(
        store,
        sessions.CheckpointInput(session_id=s.session_id, summary="half done", next_steps=["finish"]),
        clock(),
    )
    _login(web)
    assert "Port the billing job" in web.get("/sessions").text
    detail = web.get(f"/sessions/{s.session_id}")
    assert "half done" in detail.text and "<li>finish</li>" in detail.text
    assert web.get("/sessions/ses-none").status_code == 404
    m = web.get("/metrics?period=all")
    assert m.status_code == 200 and "<svg" in m.text and "Session outcomes" in m.text
    assert web.get("/metrics?period=bogus").status_code == 200


def test_foreign_host_names_are_refused_and_pages_carry_security_headers(store: Store, clock: Clock) -> None:
    app = build(store, TOKEN, now=clock)
    rebound = TestClient(app, base_url="http://evil.example:8766")  # DNS rebinding: Host stays foreign
    r = rebound.get(f"/?token={TOKEN}")
    assert r.status_code == 421 and "127.0.0.1" in r.text
    for base in ("http://127.0.0.1:8766", "http://localhost:9000", "http://[::1]:8766"):
        web = TestClient(app, base_url=base)
        _login(web)
        page = web.get("/approvals")
        assert page.status_code == 200, base
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp and "script-src" not in csp
        assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "same-origin"
