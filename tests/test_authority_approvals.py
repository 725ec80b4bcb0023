"""Issue #12 holes 3, 4 and 6: who may decide an approval through which face, an approval belongs to
its session and is used once, and a session's end is decided under the ledger lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, types

from factorops.server.mcp.app import FactoropsServer
from factorops.server.mcp.runtime import Runtime
from factorops.tools.flywheel import inject as flywheel
from factorops.tools.kernel.actor import Actor, AuthorityError
from factorops.tools.oversight import approvals

from .conftest import Clock, git
from .spawn import factorops, http_client, http_server
from .stdio_server import server_params

CRITICAL = {
    "action": "drop the production users table",
    "rationale": "schema reset",
    "risk": "critical",
    "alternatives": "migrate in place (slower)",
    "rollback": "restore last night's backup",
}
LOW = {"action": "read the README", "rationale": "orientation", "risk": "low"}
DESKTOP = types.Implementation(name="Claude Desktop", version="1.0")


async def _accept_all(_ctx: Any, _params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True, "comment": "yes"})


# -- hole 3: an elicitation answer over HTTP does not decide high or critical risk -----------------


async def test_http_client_answering_its_own_elicitation_cannot_approve_critical(project: Path) -> None:
    callback: Any = _accept_all
    with http_server(project) as srv:
        async with http_client(
            srv.url, srv.token, elicitation_callback=callback, client_info=DESKTOP, mode="legacy"
        ) as c:
            r = await c.call_tool("approval_request", CRITICAL)
            assert not r.is_error, r.content
            sc = r.structured_content
            assert sc is not None and sc["status"] == "pending", sc
            assert "note" in sc["how"] and f"factorops approve {sc['id']}" in sc["how"]
            low = (await c.call_tool("approval_request", LOW)).structured_content
            assert low is not None and low["status"] == "approved"
            assert low["decided_by"] == (
                "person via Claude Desktop (elicitation over http, client name unverified)"
            )
        ledger = project / ".agentops" / "ledger"
        files = git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
        assert not [f for f in files if f"/{sc['id']}/decision.json" in f]
        assert [f for f in files if f"/{sc['id']}/notes/" in f]  # the answer is on record, as a note
        listed = factorops("approvals", "--project", str(project))
        assert listed.returncode == 0, listed.stderr
        assert sc["id"] in listed.stdout and "alternatives: migrate in place (slower)" in listed.stdout
        assert "rollback: restore last night's backup" in listed.stdout
        assert "note by person via Claude Desktop (elicitation over http, client name unverified)" in (
            listed.stdout
        )
        # A person decides it on the CLI: recorded with the OS user, via cli.
        assert factorops("approve", sc["id"], "--project", str(project)).returncode == 0
        decision = json.loads(next(ledger.glob(f"approvals/*/{sc['id']}/decision.json")).read_text())
        assert decision["decision"] == "approved" and decision["via"] == "cli"
        assert decision["decided_by"].endswith(" via cli")


async def test_stdio_elicitation_decides_low_risk_with_the_unverified_client_name(project: Path) -> None:
    callback: Any = _accept_all
    async with Client(
        server_params(project), elicitation_callback=callback, client_info=DESKTOP, mode="legacy"
    ) as c:
        r = await c.call_tool("approval_request", LOW)
        sc = r.structured_content
        assert sc is not None and sc["status"] == "approved" and sc["via"] == "elicitation"
        assert (
            sc["decided_by"] == "person via Claude Desktop (elicitation over stdio, client name unverified)"
        )


def test_decide_enforces_the_actor(store: Any, clock: Clock) -> None:
    a = approvals.create(store, approvals.ApprovalRequestInput(**CRITICAL), clock())  # type: ignore[arg-type]
    with pytest.raises(AuthorityError, match="only a person"):
        approvals.decide(store, a.id, True, Actor.assistant("Claude Code", "stdio"), "", clock())
    with pytest.raises(AuthorityError, match="factorops approve"):
        approvals.decide(store, a.id, True, Actor.elicitation("Claude Desktop", "http"), "", clock())
    assert approvals.status(store, a.id, clock()).status == "pending"


def test_cli_approvals_shows_every_field_with_controls_visible(project: Path) -> None:
    from datetime import UTC, datetime

    from factorops.store.datadir import DataDir
    from factorops.store.store import Store
    from factorops.tools.registry import components

    store = Store.open(DataDir.for_project(project), components())
    try:  # the CLI lists on the real clock, so the request is made on it too
        approvals.create(
            store,
            approvals.ApprovalRequestInput(
                action="rm -rf ~/work\x1b[2K\x1b[Gread the README",
                rationale="tidy\x1b]0;innocent\x07",
                risk="high",
                details="14 directories\nno backups",
                alternatives="keep them",
                rollback="none\u202e",
                session_id="ses-20261125-120000-abcdef01",
            ),
            datetime.now(UTC),
        )
    finally:
        store.close()
    out = factorops("approvals", "--project", str(project))
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
    assert "rm -rf ~/work\\x1b[2K\\x1b[Gread the README" in out.stdout
    assert "why: tidy\\x1b]0;innocent\\x07" in out.stdout
    assert "details: 14 directories" in out.stdout and "no backups" in out.stdout
    assert "alternatives: keep them" in out.stdout and "rollback: none\\u202e" in out.stdout
    assert "session: ses-20261125-120000-abcdef01" in out.stdout


# -- hole 4: an approval belongs to its session and is used once ------------------------------------


async def _ok(c: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await c.call_tool(tool, args)
    assert not r.is_error, (tool, r.content)
    assert r.structured_content is not None
    return r.structured_content


async def _unvalidated_session(c: Client, goal: str) -> str:
    sid = str((await _ok(c, "session_start", {"goal": goal}))["session_id"])
    await _ok(c, "checkpoint_save", {"session_id": sid, "summary": "edited", "files_touched": ["a.py"]})
    return sid


async def test_an_approval_counts_once_and_only_in_its_own_session(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    flywheel.install_starter(store, clock())
    a = await _unvalidated_session(client, "session A")
    b = await _unvalidated_session(client, "session B")
    asked = await _ok(client, "approval_request", {**LOW, "session_id": a})
    approvals.decide(store, asked["id"], True, Actor.cli("alice"), "", clock())

    other = await client.call_tool(
        "session_end", {"session_id": b, "outcome": "success", "approval_id": asked["id"]}
    )
    assert other.is_error and f"requested for session {a}" in other.content[0].text  # type: ignore[union-attr]

    done = await _ok(
        client, "session_end", {"session_id": a, "outcome": "success", "approval_id": asked["id"]}
    )
    assert done["warnings"] and asked["id"] in done["warnings"][0]
    again = await client.call_tool(
        "session_end", {"session_id": a, "outcome": "success", "approval_id": asked["id"]}
    )
    assert again.is_error and "already ended" in again.content[0].text  # type: ignore[union-attr]

    # The use is a ledger record: the end commit names the approval, once.
    log = git(store.ledger.path, "log", "--format=%B%x00")
    assert log.count(f"Approval-Used: {asked['id']}") == 1
    # and session B still cannot borrow it (nor can one requested without a session)
    loose = await _ok(client, "approval_request", LOW)
    approvals.decide(store, loose["id"], True, Actor.cli("alice"), "", clock())
    r = await client.call_tool(
        "session_end", {"session_id": b, "outcome": "success", "approval_id": loose["id"]}
    )
    assert r.is_error and "no session" in r.content[0].text  # type: ignore[union-attr]


def test_an_approval_already_used_is_refused_with_the_reason(store: Any, clock: Clock) -> None:
    """Single use holds even where the session check would not catch it (an index rebuilt from a
    ledger where two ends name one approval): the use record is what is checked."""
    from factorops.tools.sessions import lifecycle as sessions

    flywheel.install_starter(store, clock())
    sid = sessions.start(store, sessions.SessionStartInput(goal="g"), clock()).session_id
    sessions.checkpoint(
        store, sessions.CheckpointInput(session_id=sid, summary="s", files_touched=["a.py"]), clock()
    )
    a = approvals.create(store, approvals.ApprovalRequestInput(**LOW, session_id=sid), clock())  # type: ignore[arg-type]
    approvals.decide(store, a.id, True, Actor.cli("alice"), "", clock())
    other = sessions.start(store, sessions.SessionStartInput(goal="other"), clock()).session_id
    with store.index.transaction() as db:
        db.execute("UPDATE sessions SET approval_used = ? WHERE id = ?", [a.id, other])
    with pytest.raises(approvals.DomainError, match=f"already used \\(by the end of session {other}\\)"):
        sessions.end(
            store, sessions.SessionEndInput(session_id=sid, outcome="success", approval_id=a.id), clock()
        )


# -- hole 6: the session's state is checked under the write lock ------------------------------------


async def test_no_checkpoint_lands_after_the_end_record(client: Client, runtime: Runtime) -> None:
    store = await runtime.store(None)
    for trial in range(20):
        sid = str((await _ok(client, "session_start", {"goal": f"race {trial}"}))["session_id"])
        results: dict[str, types.CallToolResult] = {}

        async def call(tool: str, args: dict[str, Any], results: dict[str, Any] = results) -> None:
            results[tool] = await client.call_tool(tool, args)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "checkpoint_save", {"session_id": sid, "summary": f"step {trial}"})
            tg.start_soon(call, "session_end", {"session_id": sid, "outcome": "partial"})
        assert not results["session_end"].is_error, results["session_end"].content
        order = git(
            store.ledger.path, "log", "--reverse", "--format=%s", "--", f"sessions/*/{sid}/*"
        ).splitlines()
        assert order[-1].startswith(f"session: end {sid}"), (trial, order)
        if results["checkpoint_save"].is_error:
            assert "already ended" in results["checkpoint_save"].content[0].text  # type: ignore[union-attr]


async def test_two_concurrent_ends_exactly_one_succeeds(client: Client, runtime: Runtime) -> None:
    store = await runtime.store(None)
    for trial in range(10):
        sid = str((await _ok(client, "session_start", {"goal": f"end twice {trial}"}))["session_id"])
        results: list[types.CallToolResult] = []

        async def end(outcome: str, sid: str = sid, results: list[Any] = results) -> None:
            results.append(await client.call_tool("session_end", {"session_id": sid, "outcome": outcome}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(end, "partial")
            tg.start_soon(end, "failed")
        assert sorted(r.is_error for r in results) == [False, True], (trial, results)
        ends = git(store.ledger.path, "log", "--format=%s", "--", f"sessions/*/{sid}/end.json").splitlines()
        assert len(ends) == 1, ends


# -- no tool decides: behaviour, not property names --------------------------------------------------


def _args_for(schema: dict[str, Any], approval_id: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    props: dict[str, Any] = schema.get("properties", {})
    for name in props:
        spec = props[name]
        options = spec.get("anyOf", [spec])
        kinds = {o.get("type") for o in options} | ({"enum"} if any("enum" in o for o in options) else set())
        mentions = "approv" in name or name == "id" or "approv" in json.dumps(spec).lower()
        if mentions and ("string" in kinds or not kinds - {None}):
            args[name] = approval_id
        elif "enum" in kinds:
            enum = next(o["enum"] for o in options if "enum" in o)
            args[name] = next((e for e in enum if "approv" in str(e) or e == "success"), enum[0])
        elif "array" in kinds:
            args[name] = [approval_id]
        elif "integer" in kinds or "number" in kinds:
            args[name] = max(next((o.get("minimum", 0) for o in options if "minimum" in o), 0), 10)
        elif "boolean" in kinds:
            args[name] = True
        elif "object" in kinds:
            args[name] = {}
        else:
            args[name] = f"approve {approval_id}"
    return args


async def test_no_tool_decides_a_pending_high_risk_approval(
    app: FactoropsServer, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    pending = approvals.create(
        store, approvals.ApprovalRequestInput(action="force-push main", rationale="r", risk="high"), clock()
    )
    callback: Any = _accept_all
    async with Client(app, elicitation_callback=callback, mode="legacy") as c:
        tools = (await c.list_tools()).tools
        assert len(tools) >= 15
        for tool in tools:
            args = _args_for(tool.input_schema or {}, pending.id)
            for attempt in (args, {**args, "approve": True, "decision": "approved", "status": "approved"}):
                await c.call_tool(tool.name, attempt)
            still = approvals.status(store, pending.id, clock())
            assert still.status == "pending", (tool.name, args, still)


# -- tool annotations ---------------------------------------------------------------------------------

EXPECTED_HINTS = {  # (readOnly, destructive, idempotent, openWorld)
    "session_start": (False, False, False, False),
    "checkpoint_save": (False, False, False, False),
    "session_resume": (True, False, True, False),
    "session_end": (False, False, True, False),
    "context_load": (True, False, True, False),
    "count_tokens": (True, False, True, False),
    "pattern_record": (False, False, False, False),
    "patterns_search": (True, False, True, False),
    "patterns_mine": (False, False, False, False),
    "guardrail_check": (True, False, True, False),
    "approval_request": (False, False, False, False),
    "approval_status": (True, False, True, False),
    "validation_run": (False, False, False, True),
    "metrics_report": (True, False, True, False),
    "route_task": (False, False, False, False),  # records each decision
}


# The spec's defaults for a hint a tool leaves out (MCP ToolAnnotations).
SPEC_DEFAULTS = (False, True, False, True)  # readOnly, destructive, idempotent, openWorld


async def test_every_tool_states_its_behaviour_hints(client: Client) -> None:
    """Every tool's hints mean what docs/authority.md says once the spec's defaults fill the hints it
    leaves out (tools/list writes only those that differ); read-only tools are compared on
    readOnlyHint and openWorldHint (the spec gives the other two meaning only when readOnlyHint is false)."""
    tools = {t.name: t.annotations for t in (await client.list_tools()).tools}
    assert set(EXPECTED_HINTS) <= set(tools)
    for name, a in tools.items():
        assert a is not None, name
        stated = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        meant = tuple(d if v is None else v for v, d in zip(stated, SPEC_DEFAULTS, strict=True))
        if meant[0]:
            meant = (True, False, True, meant[3])
        if name in EXPECTED_HINTS:
            assert meant == EXPECTED_HINTS[name], (name, stated)
        else:  # a tool added later must not be destructive or reach out by accident
            assert meant[1] is False and meant[3] is False, (name, stated)


def test_dashboard_shows_alternatives_rollback_and_notes(store: Any, clock: Clock) -> None:
    from starlette.testclient import TestClient

    from factorops.server.web.app import build

    token = "dashboard-test-token-0123456789"
    a = approvals.create(store, approvals.ApprovalRequestInput(**CRITICAL), clock())  # type: ignore[arg-type]
    st = approvals.elicited(
        store, a.id, "accept", True, Actor.elicitation("Claude Desktop", "http"), "ok", clock()
    )
    assert st.status == "pending"
    web = TestClient(build(store, token, now=clock, by="dashboard:tester"), base_url="http://127.0.0.1:8766")
    web.get(f"/?token={token}")
    page = web.get("/approvals").text
    assert '<dt>alternatives considered</dt><dd class="alternatives">migrate in place (slower)</dd>' in page
    assert '<dt>rollback</dt><dd class="rollback">restore last night&#x27;s backup</dd>' in page
    assert "note by person via Claude Desktop (elicitation over http, client name unverified)" in page
