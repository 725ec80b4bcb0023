"""Kill the `actor` mutants that survived `make mutation` (bench/mutation.py): the audit label,
`verified` and `via` of each kind of actor, seen where they end up (the decision record, the
ledger's `Actor:` trailer, the MCP reply). See docs/testing.md.
"""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, types
from pydantic import ValidationError

from factorops.server.mcp.app import FactoropsServer
from factorops.server.mcp.runtime import Runtime
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor
from factorops.tools.oversight import approvals

from .conftest import Clock, git

REQ = {"action": "drop the users table", "rationale": "schema reset for the migration", "risk": "critical"}


def _decision(store: Store, approval_id: str, clock: Clock) -> dict[str, Any]:
    row = approvals.record(store, approval_id, clock.now)
    text = git(store.ledger.path, "show", f"HEAD:{row['ledger_dir']}/decision.json")
    out: dict[str, Any] = json.loads(text)
    return out


async def _accept(_ctx: Any, params: Any) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True, "comment": "fine"})


async def test_an_elicited_decision_names_the_client_unverified(
    app: FactoropsServer, runtime: Runtime, clock: Clock
) -> None:
    async with Client(app, elicitation_callback=_accept, mode="legacy") as c:
        r = await c.call_tool("approval_request", REQ)
    assert not r.is_error, r.content
    sc = r.structured_content
    assert sc is not None and sc["status"] == "approved"
    rec = _decision(await runtime.store(None), sc["id"], clock)
    name = rec["actor"]["name"]
    assert name and name != "unknown client"
    assert (
        sc["decided_by"]
        == rec["decided_by"]
        == (f"person via {name} (elicitation over in-process, client name unverified)")
    )
    assert rec["actor"] == {
        "kind": "person",
        "via": "elicitation",
        "name": name,
        "verified": False,
        "transport": "in-process",
    }


async def test_a_decision_on_the_command_line_is_the_verified_os_user(
    runtime: Runtime, app: FactoropsServer, project: Path, clock: Clock
) -> None:
    # `factorops approve` runs in a child process on the real clock, so the request is made on it
    # too (the fixed test clock would make the request look expired to the child).
    clock.now = datetime.now(UTC)
    async with Client(app) as c:  # no elicitation: the request waits for a person
        r = await c.call_tool("approval_request", REQ)
    sc = r.structured_content
    assert sc is not None and sc["status"] == "pending", r.content
    done = subprocess.run(
        [sys.executable, "-m", "factorops", "approve", sc["id"], "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rec = _decision(await runtime.store(None), sc["id"], clock)
    user = getpass.getuser()
    assert rec["decided_by"] == f"{user} via cli"
    assert rec["via"] == "cli"
    assert rec["actor"] == {"kind": "person", "via": "cli", "name": user, "verified": True, "transport": ""}
    body = git((await runtime.store(None)).ledger.path, "log", "-1", "--format=%B")
    assert f"Decided-By: {user} via cli" in body


async def test_an_assistants_pattern_carries_its_label_in_the_ledger(
    app: FactoropsServer, runtime: Runtime
) -> None:
    async with Client(app) as c:
        r = await c.call_tool("pattern_record", {"title": "Label me", "solution": "see title"})
    assert not r.is_error, r.content
    body = git((await runtime.store(None)).ledger.path, "log", "-1", "--format=%B")
    actor = [line for line in body.splitlines() if line.startswith("Actor: ")]
    assert len(actor) == 1, body
    label = actor[0].removeprefix("Actor: ")
    assert label.startswith("assistant ") and label.endswith(" via mcp (client name unverified)"), label
    assert "unknown client" not in label


# The transports an in-process client cannot show, and the dashboard face (a real dashboard
# needs a browser session); these pin the constructors directly.


@pytest.mark.parametrize(
    ("transport", "via"), [("stdio", "mcp-stdio"), ("http", "mcp-http"), ("in-process", "mcp"), ("", "mcp")]
)
def test_an_assistant_is_unverified_and_named_by_its_transport(transport: str, via: str) -> None:
    a = Actor.assistant("claude-code", transport)  # type: ignore[arg-type]
    assert (a.kind, a.via, a.name, a.verified) == ("assistant", via, "claude-code", False)
    assert a.label == f"assistant claude-code via {via} (client name unverified)"
    assert Actor.assistant(None).name == "unknown client"


def test_a_dashboard_person_is_verified_and_labelled() -> None:
    a = Actor.dashboard("alice")
    assert (a.kind, a.via, a.name, a.verified) == ("person", "dashboard", "alice", True)
    assert a.label == "alice via dashboard"


def test_an_elicitation_over_no_named_transport_says_mcp() -> None:
    a = Actor.elicitation(None, "")
    assert a.name == "unknown client" and not a.verified
    assert a.label == "person via unknown client (elicitation over mcp, client name unverified)"


def test_an_actor_cannot_be_changed_after_it_is_made() -> None:
    a = Actor.assistant("claude-code", "stdio")
    with pytest.raises(ValidationError, match="frozen"):
        a.kind = "person"  # type: ignore[misc]
    assert Actor(kind="person", via="cli").verified is False
