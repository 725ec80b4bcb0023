"""Elicitation meets the other ways of deciding: the first decision stands, the late answer is no error."""

from __future__ import annotations

from typing import Any

from mcp import Client, types

from factorops.server.mcp.app import FactoropsServer
from factorops.server.mcp.runtime import Runtime
from factorops.tools.kernel.actor import Actor
from factorops.tools.oversight import approvals

REQ = {"action": "force-push main", "rationale": "undo a leaked secret", "risk": "high"}


async def test_a_decision_made_elsewhere_while_the_client_asks_stands(
    app: FactoropsServer, runtime: Runtime
) -> None:
    async def person_uses_the_cli_then_answers_in_the_client(
        _ctx: Any, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        store = await runtime.store(None)
        (pending,) = approvals.pending(store, runtime.now())
        approvals.decide(store, str(pending["id"]), False, Actor.cli("alice"), "not today", runtime.now())
        return types.ElicitResult(action="accept", content={"approve": True, "comment": "sure"})

    callback: Any = person_uses_the_cli_then_answers_in_the_client
    async with Client(app, elicitation_callback=callback, mode="legacy") as c:
        r = await c.call_tool("approval_request", REQ)
        assert not r.is_error, r.content
        sc = r.structured_content
        assert sc is not None and sc["status"] == "denied" and sc["decided_by"] == "alice via cli"
        assert sc["comment"] == "not today"
        again = (await c.call_tool("approval_status", {"id": sc["id"]})).structured_content
        assert again is not None and again["status"] == "denied" and again["via"] == "cli"


async def test_a_client_without_elicitation_gets_a_pending_id_and_how_to_decide(client: Client) -> None:
    r = await client.call_tool("approval_request", REQ)
    sc = r.structured_content
    assert sc is not None and sc["status"] == "pending"
    assert f"factorops approve {sc['id']}" in sc["how"] and "dashboard" in sc["how"]
