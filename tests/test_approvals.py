"""Approvals: elicitation (accept, decline, cancel), the pending fallback, and people deciding."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, types

from factorops.server.mcp.app import FactoropsServer
from factorops.server.mcp.runtime import Runtime
from factorops.tools.kernel.actor import Actor
from factorops.tools.oversight import approvals

from .conftest import Clock, git

REQ = {"action": "drop the users table", "rationale": "schema reset for the migration", "risk": "critical"}


def _elicit(action: str, approve: bool = True, comment: str = "") -> Any:
    async def cb(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert "drop the users table" in params.message and "CRITICAL" in params.message
        if action == "accept":
            return types.ElicitResult(action="accept", content={"approve": approve, "comment": comment})
        return types.ElicitResult(action=action)  # type: ignore[arg-type]

    return cb


@pytest.mark.parametrize(
    ("action", "approve", "expected"),
    [
        ("accept", True, "approved"),
        ("accept", False, "denied"),
        ("decline", True, "denied"),
        ("cancel", True, "pending"),
    ],
)
async def test_elicitation(
    app: FactoropsServer, runtime: Runtime, action: str, approve: bool, expected: str
) -> None:
    async with Client(app, elicitation_callback=_elicit(action, approve, "ok by me"), mode="legacy") as c:
        r = await c.call_tool("approval_request", REQ)
        assert not r.is_error, r.content
        sc = r.structured_content
        assert sc is not None and sc["status"] == expected
        if expected == "pending":
            assert "factorops approve" in sc["how"]
        else:
            assert sc["via"] == "elicitation" and sc["decided_by"].startswith("person via")
    store = await runtime.store(None)
    if expected != "pending":
        body = git(store.ledger.path, "log", "-1", "--format=%B")
        assert f"approval: {expected}" in body and f"Approval: {sc['id']}" in body
        decision = next(store.ledger.path.glob(f"approvals/*/{sc['id']}/decision.json"))
        assert json.loads(decision.read_text())["decision"] == expected


async def test_fallback_pending_then_cli_decides_while_status_waits(
    client: Client, runtime: Runtime, project: Path, clock: Clock
) -> None:
    # `factorops approve` runs in a child process on the real clock, so the request is made on it too
    # (the fixed test clock would make the request look hours old, hence expired, later in the day).
    clock.now = datetime.now(UTC)
    r = await client.call_tool("approval_request", REQ)
    sc = r.structured_content
    assert sc is not None and sc["status"] == "pending" and "factorops approve" in sc["how"]
    aid = sc["id"]
    progress: list[float] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    result: dict[str, Any] = {}

    async def waiter() -> None:
        res = await client.call_tool(
            "approval_status", {"id": aid, "wait_s": 30}, progress_callback=on_progress
        )
        result.update(res.structured_content or {})

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.8)
        out = await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "factorops",
                    "approve",
                    aid,
                    "--comment",
                    "go ahead",
                    "--project",
                    str(project),
                ],
                capture_output=True,
                text=True,
            )
        )
        assert out.returncode == 0, out.stderr
    assert result["status"] == "approved" and result["via"] == "cli" and result["comment"] == "go ahead"
    assert progress  # it reported while waiting
    again = subprocess.run(
        [sys.executable, "-m", "factorops", "deny", aid, "--project", str(project)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2 and "already approved" in again.stderr


async def test_expiry(client: Client, runtime: Runtime, clock: Clock) -> None:
    r = await client.call_tool("approval_request", {**REQ, "timeout_s": 60})
    aid = r.structured_content["id"]  # type: ignore[index]
    clock.advance(seconds=61)
    st = await client.call_tool("approval_status", {"id": aid})
    # Timed out: a denial with reason "timeout" (tests/test_approval_escalation.py has the rest).
    assert st.structured_content["status"] == "denied"  # type: ignore[index]
    assert st.structured_content["reason"] == "timeout"  # type: ignore[index]
    store = await runtime.store(None)
    with pytest.raises(approvals.DomainError, match="expired"):
        approvals.decide(store, aid, True, Actor.cli("someone"), "", clock())


# "No tool can decide" is checked by behaviour, not by property names:
# tests/test_authority_approvals.py::test_no_tool_decides_a_pending_high_risk_approval calls every
# listed tool with arguments built from its schema and an accept-all elicitation callback.


@pytest.mark.parametrize(
    ("tool", "args", "needle"),
    [
        ("approval_status", {"id": "apr-nope"}, "no approval"),
        ("approval_request", {**REQ, "risk": "extreme"}, "risk"),
        ("approval_request", {**REQ, "timeout_s": 1}, "timeout_s"),
        ("approval_request", {"action": "", "rationale": "r", "risk": "low"}, "action"),
        ("approval_status", {"id": "x", "wait_s": 9999}, "wait_s"),
    ],
)
async def test_bad_input(client: Client, tool: str, args: dict[str, Any], needle: str) -> None:
    r = await client.call_tool(tool, args)
    assert r.is_error and needle in r.content[0].text  # type: ignore[union-attr]
