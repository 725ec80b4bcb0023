"""Metrics recorded for every call, the report, and route_task's recommendations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.tools.metrics import report as metrics
from factorops.tools.oversight import validation
from factorops.tools.sessions import lifecycle as sessions

from .conftest import Clock


async def test_every_call_is_recorded_and_reported(client: Client, runtime: Runtime) -> None:
    s = (await client.call_tool("session_start", {"goal": "measure"})).structured_content
    await client.call_tool("checkpoint_save", {"session_id": s["session_id"], "summary": "x"})  # type: ignore[index]
    await client.call_tool("checkpoint_save", {"session_id": "ses-none", "summary": "x"})
    await client.call_tool(
        "context_load", {"task": "measure things", "window_tokens": 10_000, "used_tokens": 5_000}
    )
    r = (await client.call_tool("metrics_report", {"period": "all"})).structured_content
    assert r is not None
    tools = {t["tool"]: t for t in r["tools"]}
    assert tools["checkpoint_save"]["calls"] == 2 and tools["checkpoint_save"]["errors"] == 1
    assert tools["session_start"]["calls"] == 1 and tools["session_start"]["p50_ms"] > 0
    assert r["sessions"] == 1 and r["outcomes"] == {"open": 1}
    assert r["context_loads"] == 1 and r["context_over_40pct"] == 1
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "| checkpoint_save | 2 | 1 |" in text


async def test_report_periods(client: Client, runtime: Runtime, clock: Clock) -> None:
    store = await runtime.store(None)
    old = sessions.start(store, sessions.SessionStartInput(goal="old"), clock())
    # Success needs a passing validation in the session (success-needs-validation).
    store.datadir.config_path.write_text(
        f'[[gates]]\nname = "ok"\ncommand = ["{sys.executable}", "-c", "0"]\n'
    )
    validation.run(store, validation.ValidationRunInput(session_id=old.session_id), clock())
    sessions.end(store, sessions.SessionEndInput(session_id=old.session_id, outcome="success"), clock())
    clock.advance(days=10)
    sessions.start(store, sessions.SessionStartInput(goal="new"), clock())
    week = metrics.report(store, metrics.MetricsReportInput(period="week"), clock())
    every = metrics.report(store, metrics.MetricsReportInput(period="all"), clock())
    assert week.sessions == 1 and every.sessions == 2 and every.outcomes["success"] == 1
    bad = await client.call_tool("metrics_report", {"period": "year"})
    assert bad.is_error and "period" in bad.content[0].text  # type: ignore[union-attr]


async def route(client: Client, task: str) -> dict[str, Any]:
    r = await client.call_tool("route_task", {"task": task})
    assert not r.is_error, r.content
    return r.structured_content  # type: ignore[return-value]


async def test_routing_rules_and_reasons(
    client: Client, project: Path, runtime: Runtime, clock: Clock
) -> None:
    r = await route(client, "Investigate why the nightly build is slow")
    assert r["workflow"] == "research" and any("investigate" in x.lower() for x in r["reasons"])
    r = await route(client, "Fix a typo in the README")
    assert r["workflow"] == "implement" and r["tier"] == "small"
    r = await route(client, "Rewrite the auth layer for the new security model")
    assert r["tier"] == "large"
    r = await route(
        client, "Add a --json flag to the CLI. Then update the docs. Also add tests for the flag."
    )
    assert r["split"] and len(r["steps"]) == 3
    (project / ".agentops" / "config.toml").write_text(
        '[[gates]]\nname = "tests"\ncommand = ["true"]\n\n[[routing.rules]]\nmatch = ["schema"]\nworkflow = "plan"\n'
        'tier = "large"\nnote = "schema changes are planned first"\n'
    )
    r = await route(client, "Change the schema of orders")
    assert (
        r["workflow"] == "plan"
        and r["tier"] == "large"
        and "schema changes are planned first" in r["reasons"][0]
    )
    r = await route(client, "Implement the export button")
    assert r["gates"] == ["tests"]
    store = await runtime.store(None)
    for i in range(2):
        s = sessions.start(
            store, sessions.SessionStartInput(goal=f"optimise invoice rendering pipeline {i}"), clock()
        )
        sessions.end(store, sessions.SessionEndInput(session_id=s.session_id, outcome="failed"), clock())
    r = await route(client, "Optimise the invoice rendering pipeline")
    assert (
        r["split"] and r["tier"] == "large" and any("similar past sessions failed" in x for x in r["reasons"])
    )
