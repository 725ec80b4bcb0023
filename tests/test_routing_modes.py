"""route_task's confidence and modes (issue #18): auto above 0.9, suggest from 0.7, below that the
top three routes to choose from; thresholds in `[routing]`; overrides and outcomes recorded and
counted by metrics_report. All through the MCP client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp import Client

from .conftest import Clock

AUTO_TASK = "Design the schema for orders"  # "design" + the team rule on "schema": plan
SUGGEST_TASK = "Investigate and research the flaky login"  # two research words, nothing against
CHOOSE_TASK = "The widget thing on the orders page"  # no evidence: a guess


def configure(project: Path, routing: str = "") -> None:
    (project / ".agentops").mkdir(exist_ok=True)
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "ok"\ncommand = ["{sys.executable}", "-c", "0"]\n\n'
        f"[routing]\n{routing}\n"
        '[[routing.rules]]\nmatch = ["schema"]\nworkflow = "plan"\n'
    )


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(tool, args)
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return r.structured_content


async def succeed(client: Client, clock: Clock, task: str, workflow_tier: str | None = None) -> str:
    """A session routed for `task` that ends in validated success."""
    sid = (await call(client, "session_start", {"goal": task}))["session_id"]
    args: dict[str, Any] = {"task": task, "session_id": sid}
    if workflow_tier:
        args["chosen"] = workflow_tier
    await call(client, "route_task", args)
    clock.advance(minutes=30)
    await call(client, "validation_run", {"session_id": sid})
    await call(client, "session_end", {"session_id": sid, "outcome": "success"})
    clock.advance(minutes=5)
    return sid


async def test_each_mode_from_the_evidence(client: Client, project: Path) -> None:
    configure(project)
    auto = await call(client, "route_task", {"task": AUTO_TASK})
    assert auto["mode"] == "auto" and auto["confidence"] > 0.9 and auto["workflow"] == "plan"
    assert "alternatives" not in auto
    assert any(r.startswith("confidence ") and "margin 1.00" in r for r in auto["reasons"])

    suggest = await call(client, "route_task", {"task": SUGGEST_TASK})
    assert suggest["mode"] == "suggest" and 0.7 <= suggest["confidence"] <= 0.9
    assert suggest["workflow"] == "research" and "alternatives" not in suggest

    choose = await call(client, "route_task", {"task": CHOOSE_TASK})
    assert choose["mode"] == "choose" and choose["confidence"] < 0.7
    alts = choose["alternatives"]
    assert len(alts) == 3 and len({a["workflow"] for a in alts}) == 3
    assert alts[0]["workflow"] == choose["workflow"]
    assert all(0 <= a["confidence"] <= 1 and a["why"] for a in alts)

    # A rival workflow narrows the margin: research words against a fix is less sure.
    mixed = await call(client, "route_task", {"task": "Investigate why the login fails and fix it"})
    assert mixed["workflow"] == "research" and mixed["confidence"] < suggest["confidence"]


async def test_thresholds_come_from_the_routing_section(client: Client, project: Path) -> None:
    configure(project, "auto_above = 0.8\nsuggest_above = 0.3\n")
    assert (await call(client, "route_task", {"task": SUGGEST_TASK}))["mode"] == "auto"
    assert (await call(client, "route_task", {"task": CHOOSE_TASK}))["mode"] == "suggest"
    configure(project, "auto_above = 0.5\nsuggest_above = 0.6\n")
    bad = await client.call_tool("route_task", {"task": SUGGEST_TASK})
    assert bad.is_error and "suggest_above" in bad.content[0].text  # type: ignore[union-attr]


async def test_bad_inputs_name_the_field(client: Client, project: Path) -> None:
    configure(project)
    for args, field in (
        ({"task": SUGGEST_TASK, "chosen": "fast/cheap"}, "chosen"),
        ({"task": SUGGEST_TASK, "chosen": '{"a": 1}'}, "chosen"),
        ({"task": SUGGEST_TASK, "session_id": "../x"}, "session_id"),
        ({"task": "   "}, "task"),
        ({"task": "x" * 4001}, "task"),
    ):
        r = await client.call_tool("route_task", args)
        assert r.is_error and field in r.content[0].text, (args, r.content)  # type: ignore[union-attr]
    r = await call(client, "metrics_report", {"period": "all"})
    assert r.get("routed", 0) == 0  # nothing half-written


async def test_history_of_outcomes_moves_confidence(client: Client, project: Path, clock: Clock) -> None:
    configure(project)
    before = await call(client, "route_task", {"task": SUGGEST_TASK})
    assert before["mode"] == "suggest"
    for _ in range(2):
        await succeed(client, clock, SUGGEST_TASK)
    after = await call(client, "route_task", {"task": SUGGEST_TASK})
    assert after["mode"] == "auto" and after["confidence"] > before["confidence"]
    assert any("2 of 2 similar routed sessions succeeded" in r for r in after["reasons"])


async def test_override_and_outcome_are_counted(client: Client, project: Path, clock: Clock) -> None:
    configure(project)
    # Followed: an auto decision whose session ended in validated success.
    await succeed(client, clock, AUTO_TASK)
    # Overridden: suggested research, the caller went with plan/medium (one decision, not two).
    sid = (await call(client, "session_start", {"goal": "login"}))["session_id"]
    first = await call(client, "route_task", {"task": SUGGEST_TASK, "session_id": sid})
    assert first["mode"] == "suggest" and first["workflow"] == "research"
    took = await call(
        client, "route_task", {"task": SUGGEST_TASK, "session_id": sid, "chosen": "Plan/Medium"}
    )
    assert took["override"] is True
    # Choose mode and nothing chosen: the taken route is unknown, not an override.
    await call(client, "route_task", {"task": CHOOSE_TASK})
    r = await call(client, "metrics_report", {"period": "all"})
    assert r["routed"] == 3 and r["routing_overrides"] == 1
    assert r["override_rate"] == 0.5 and r["routing_accuracy"] == 1.0
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "routing: 3 decisions, 1 overridden (override rate 50%), accuracy 100%" in text


async def test_decisions_survive_a_rebuild(client: Client, project: Path) -> None:
    """Routing decisions are SQLite-only telemetry (like metrics events): a rebuild keeps them."""
    configure(project)
    await call(client, "route_task", {"task": SUGGEST_TASK, "chosen": "plan/medium"})
    done = subprocess.run(
        [sys.executable, "-m", "factorops", "rebuild", "--project", str(project)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    r = await call(client, "metrics_report", {"period": "all"})
    assert r["routed"] == 1 and r["routing_overrides"] == 1
