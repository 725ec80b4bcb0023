"""Golden signals per tool (traffic, errors, error rate, p50, p95) and the alerts of issue #18 (error
rate over 5%, context use over 40%, a gate past 300 s) in metrics_report and agentops://metrics.
The dashboard banner is checked in a real browser (tests/test_dashboard_browser_people.py)."""

from __future__ import annotations

import json
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.tools.kernel.ids import new_id
from factorops.tools.oversight import validation

from .conftest import Clock


async def report(client: Client, period: str = "week") -> dict[str, Any]:
    r = await client.call_tool("metrics_report", {"period": period})
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return r.structured_content


async def test_signals_per_tool_and_the_error_rate_alert(client: Client) -> None:
    s = (await client.call_tool("session_start", {"goal": "signals"})).structured_content
    assert s is not None
    for _ in range(19):
        await client.call_tool("checkpoint_save", {"session_id": s["session_id"], "summary": "ok"})
    await client.call_tool("checkpoint_save", {"session_id": "ses-none", "summary": "x"})  # 1 of 20: 5%
    for _ in range(3):
        await client.call_tool("session_resume", {"session_id": s["session_id"]})
    await client.call_tool("session_resume", {"session_id": "ses-none"})  # 1 of 4 fail: 25%
    r = await report(client)
    tools = {t["tool"]: t for t in r["tools"]}
    cp = tools["checkpoint_save"]
    assert cp["calls"] == 20 and cp["errors"] == 1 and cp["error_rate"] == 0.05
    assert 0 < cp["p50_ms"] <= cp["p95_ms"]
    ps = tools["session_resume"]
    assert ps["calls"] == 4 and ps["errors"] == 1 and ps["error_rate"] == 0.25
    alerts = [a for a in r.get("alerts", []) if a["kind"] == "error_rate"]
    # 5% is the limit, not over it: only session_resume alerts.
    assert [a["subject"] for a in alerts] == ["session_resume"]
    assert alerts[0]["limit"] == 0.05 and "1 of 4 calls failed (25% > 5%)" in alerts[0]["message"]
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "## Alerts" in text and "- ALERT error_rate: session_resume: 1 of 4 calls failed" in text
    assert "| tool | calls | errors | error rate | p50 ms | p95 ms |" in text
    assert "| session_resume | 4 | 1 | 25.0% |" in text


async def test_context_over_40_percent_alerts(client: Client, clock: Clock) -> None:
    args = {"task": "measure things", "window_tokens": 10_000}
    await client.call_tool("context_load", {**args, "used_tokens": 3_900})
    assert not [a for a in (await report(client)).get("alerts", []) if a["kind"] == "context"]
    await client.call_tool("context_load", {**args, "used_tokens": 5_000})
    alerts = [a for a in (await report(client)).get("alerts", []) if a["kind"] == "context"]
    assert len(alerts) == 1 and alerts[0]["limit"] == 0.4 and alerts[0]["value"] >= 0.5
    assert "> 40%" in alerts[0]["message"]
    clock.advance(days=8)  # out of the week: no alert for it any more
    assert not [a for a in (await report(client)).get("alerts", []) if a["kind"] == "context"]
    assert [a for a in (await report(client, "all")).get("alerts", []) if a["kind"] == "context"]


async def test_a_gate_past_300_s_alerts(
    client: Client, runtime: Runtime, project: Path, clock: Clock
) -> None:
    store = await runtime.store(None)
    # A run that took 312 s, as a teammate's ledger record brings it (sync): the same record and
    # indexer validation_run writes; running a real 5-minute gate in a test is not worth it.
    rid = new_id("val", clock())
    rec = {
        "id": rid,
        "session_id": None,
        "started_at": clock().astimezone(UTC).isoformat(timespec="microseconds"),
        "gates": [{"gate": "e2e", "passed": True, "exit_code": 0, "timed_out": False, "seconds": 312.0}],
    }
    path = f"validations/{clock():%Y-%m}/{rid}.json"
    data = (json.dumps(rec) + "\n").encode()
    store.write(
        {path: data},
        "validation: pass e2e",
        {"Validation": rid},
        lambda db, sha: validation._index(db, path, data, sha),
    )
    # And a real gate that timed out (limit 1 s): an alert too, worded as a timeout.
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "hang"\ntimeout_s = 1\ncommand = ["{sys.executable}", "-c", "import time; time.sleep(30)"]\n'
        f'[[gates]]\nname = "quick"\ncommand = ["{sys.executable}", "-c", "0"]\n'
    )
    clock.advance(minutes=1)
    await client.call_tool("validation_run", {})
    alerts = [a for a in (await report(client)).get("alerts", []) if a["kind"] == "gate"]
    assert [a["subject"] for a in alerts] == ["hang", "e2e"]
    assert "timed out after" in alerts[0]["message"]
    assert alerts[1]["value"] == 312.0 and "ran 312 s (> 300 s)" in alerts[1]["message"]
