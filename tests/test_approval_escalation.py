"""Approvals nobody decides: escalated once after 4 h (the notify command runs once), denied with
reason "timeout" after 24 h; both ledger records, shown by `factorops approvals` and the dashboard.
Time is the test's settable clock; the CLI child works on the real clock for records made on it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from starlette.testclient import TestClient

from factorops.server.mcp.runtime import Runtime
from factorops.server.web.app import build
from factorops.tools.kernel.actor import Actor
from factorops.tools.kernel.errors import DomainError
from factorops.tools.oversight import approvals

from .conftest import Clock, git

TOKEN = "escalation-test-token-0123456789"
REQ = {
    "action": "drop the users table",
    "rationale": "schema reset for the migration",
    "risk": "critical",
    "alternatives": "a migration that renames the table",
    "rollback": "restore from the nightly backup",
}
NOTIFIER = """
import os, sys
with open(sys.argv[1], "a") as f:
    f.write(" | ".join(sys.argv[2:] + [os.environ["FACTOROPS_APPROVAL_ID"], os.environ["FACTOROPS_APPROVAL_LINK"]]) + "\\n")
"""


def _configure(project: Path, tmp_path: Path, extra: str = "") -> Path:
    """A notify command that appends one line per run to a marker file."""
    script = tmp_path / "notify.py"
    script.write_text(NOTIFIER)
    marker = tmp_path / "notified.txt"
    argv = [sys.executable, str(script), str(marker), "{id}", "{summary}", "{link}"]
    (project / ".agentops").mkdir(exist_ok=True)
    (project / ".agentops" / "config.toml").write_text(f"[approvals]\nnotify = {json.dumps(argv)}\n{extra}")
    return marker


def _runs(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


async def _status(client: Client, aid: str) -> dict[str, Any]:
    r = await client.call_tool("approval_status", {"id": aid})
    assert not r.is_error, r.content
    return r.structured_content or {}


async def test_escalates_once_after_four_hours_then_times_out_after_a_day(
    client: Client, runtime: Runtime, project: Path, tmp_path: Path, clock: Clock
) -> None:
    marker = _configure(project, tmp_path)
    asked = (await client.call_tool("approval_request", REQ)).structured_content
    assert asked is not None and asked["status"] == "pending"
    aid = asked["id"]
    assert datetime.fromisoformat(asked["expires_at"]) - clock() == timedelta(hours=24)
    assert f"/approvals/{aid}" in asked["how"]

    clock.advance(hours=3, minutes=59)
    st = await _status(client, aid)
    assert st["status"] == "pending" and "escalated_at" not in st and _runs(marker) == []

    clock.advance(minutes=1)
    st = await _status(client, aid)
    assert st["status"] == "pending" and datetime.fromisoformat(st["escalated_at"]) == clock()
    runs = _runs(marker)
    assert len(runs) == 1, runs
    assert runs[0] == (
        f"{aid} | [critical] drop the users table | http://127.0.0.1:8766/approvals/{aid} | "
        f"{aid} | http://127.0.0.1:8766/approvals/{aid}"
    )
    store = await runtime.store(None)
    for _ in range(3):  # every later read and list: no second escalation, no second run
        clock.advance(minutes=30)
        await _status(client, aid)
        approvals.pending(store, clock())
    assert len(_runs(marker)) == 1
    ledger = store.ledger.path
    escalation = json.loads(next(ledger.glob(f"approvals/*/{aid}/escalation.json")).read_text())
    assert escalation["escalated_at"].startswith("2026-11-25T16:00")
    assert git(ledger, "log", "--format=%s").count(f"approval: escalated {aid}") == 1

    clock.now = datetime.fromisoformat(asked["expires_at"]) - timedelta(seconds=1)
    assert (await _status(client, aid))["status"] == "pending"
    clock.advance(seconds=1)
    st = await _status(client, aid)
    assert st["status"] == "denied" and st["reason"] == "timeout" and st["via"] == "timeout", st
    assert st["decided_by"] == "factorops" and "no decision within 24 h" in st["comment"]
    decision = json.loads(next(ledger.glob(f"approvals/*/{aid}/decision.json")).read_text())
    assert decision["decision"] == "denied" and decision["reason"] == "timeout"
    log = git(ledger, "log", "-1", "--format=%s%n%b")
    assert f"approval: denied (timeout) {aid}" in log and f"Approval: {aid}" in log
    with pytest.raises(DomainError, match="timed out"):
        approvals.decide(store, aid, True, Actor.cli("someone"), "", clock())
    assert len(_runs(marker)) == 1
    assert approvals.pending(store, clock()) == []

    # The index is derived: a rebuild from the ledger gives the same escalation and time-out.
    store.rebuild()
    again = approvals.status(store, aid, clock())
    assert again.reason == "timeout" and again.escalated_at is not None


async def test_a_request_past_its_time_is_timed_out_without_escalating(
    client: Client, project: Path, tmp_path: Path, clock: Clock
) -> None:
    marker = _configure(project, tmp_path)
    aid = (await client.call_tool("approval_request", {**REQ, "timeout_s": 3600})).structured_content["id"]  # type: ignore[index]
    clock.advance(hours=30)  # nobody looked for a day: it times out, and nobody is paged for it
    st = await _status(client, aid)
    assert st["status"] == "denied" and st["reason"] == "timeout" and "within 1 h" in st["comment"]
    assert _runs(marker) == []


async def test_a_decision_before_the_time_out_stands(
    client: Client, runtime: Runtime, project: Path, tmp_path: Path, clock: Clock
) -> None:
    _configure(project, tmp_path)
    aid = (await client.call_tool("approval_request", REQ)).structured_content["id"]  # type: ignore[index]
    store = await runtime.store(None)
    clock.advance(hours=5)
    approvals.decide(store, aid, True, Actor.cli("ops"), "fine", clock())
    clock.advance(days=2)
    st = await _status(client, aid)
    assert st["status"] == "approved" and "reason" not in st


# A notifier that must finish gets 30 s (a loaded machine can take over a second to start even a
# shell); the one that must be cut off sleeps far longer than its 1 s.
@pytest.mark.parametrize(
    ("argv", "timeout", "needle"),
    [
        (["/nonexistent/notifier"], 30, "could not run"),
        (["sh", "-c", "exit 3"], 30, "exited 3"),
        (["sleep", "60"], 1, "ran past 1 s"),
    ],
)
async def test_a_failing_notify_command_is_logged_and_the_escalation_stands(
    client: Client,
    project: Path,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    argv: list[str],
    timeout: int,
    needle: str,
) -> None:
    (project / ".agentops").mkdir(exist_ok=True)
    (project / ".agentops" / "config.toml").write_text(
        f"[approvals]\nnotify = {json.dumps(argv)}\nnotify_timeout_s = {timeout}\nescalate_after_s = 600\n"
    )
    aid = (await client.call_tool("approval_request", REQ)).structured_content["id"]  # type: ignore[index]
    clock.advance(minutes=10)
    with caplog.at_level(logging.WARNING, logger="factorops"):
        st = await _status(client, aid)
    assert st["status"] == "pending" and "escalated_at" in st
    assert any(needle in r.getMessage() and aid in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]


async def test_a_broken_approvals_table_gives_the_defaults_with_a_warning(
    client: Client, runtime: Runtime, project: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    (project / ".agentops").mkdir(exist_ok=True)
    (project / ".agentops" / "config.toml").write_text('[approvals]\nnotify = "notify-send hi"\n')
    with caplog.at_level(logging.WARNING, logger="factorops"):
        aid = (await client.call_tool("approval_request", REQ)).structured_content["id"]  # type: ignore[index]
        clock.advance(hours=4)
        st = await _status(client, aid)
    assert "escalated_at" in st  # the default 4 h still escalates
    assert any("approvals.notify: must be a list" in r.getMessage() for r in caplog.records)


async def test_cli_and_dashboard_show_escalation_and_time_out(
    client: Client, runtime: Runtime, project: Path, tmp_path: Path, clock: Clock
) -> None:
    marker = _configure(project, tmp_path)
    # `factorops approvals` runs on the real clock: requests are made relative to it, so the
    # pending one is 5 h old and far from its time-out whatever the date is.
    real = datetime.now(UTC)
    clock.now = real - timedelta(hours=30)
    old = (await client.call_tool("approval_request", {**REQ, "action": "old request"})).structured_content
    clock.now = real - timedelta(hours=5)
    new = (await client.call_tool("approval_request", REQ)).structured_content
    assert old is not None and new is not None
    clock.now = real
    assert (await _status(client, new["id"]))["escalated_at"]
    assert len(_runs(marker)) == 1

    out = subprocess.run(
        [sys.executable, "-m", "factorops", "approvals", "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    pending, _, closed = out.stdout.partition("recent decisions:")
    assert new["id"] in pending and "ESCALATED:" in pending and "restore from the nightly backup" in pending
    assert f"{old['id']}  denied (timeout) by factorops" in closed, out.stdout
    assert len(_runs(marker)) == 1  # the CLI's own sweep found nothing more to do

    store = await runtime.store(None)
    web = TestClient(build(store, TOKEN, now=clock), base_url="http://127.0.0.1:8766")
    web.get(f"/?token={TOKEN}")
    page = web.get("/approvals").text
    card = page.split(f'id="{new["id"]}"', 1)[1].split('class="card"', 1)[0]
    assert 'class="badge escalated"' in card
    table = page.split("Recent decisions", 1)[1]
    assert "old request" in table and "timeout" in table


def test_the_dashboard_sweeps_when_it_starts(store: Any, project: Path, tmp_path: Path, clock: Clock) -> None:
    marker = _configure(project, tmp_path)
    aid = approvals.create(store, approvals.ApprovalRequestInput(**REQ), clock()).id  # type: ignore[arg-type]
    clock.advance(hours=4)
    with TestClient(build(store, TOKEN, now=clock), base_url="http://127.0.0.1:8766"):
        pass  # start-up and shut-down only: no page is read
    assert len(_runs(marker)) == 1 and aid in _runs(marker)[0]
    assert approvals._status(store, aid, clock()).escalated_at == clock()


async def test_a_request_carries_risk_alternatives_and_rollback_and_people_see_them(
    client: Client, runtime: Runtime, project: Path, clock: Clock
) -> None:
    listed = {t.name: t for t in (await client.list_tools()).tools}
    props = listed["approval_request"].input_schema["properties"]
    assert props["alternatives"]["description"] and props["rollback"]["description"]
    assert set(props["risk"]["enum"]) == {"low", "medium", "high", "critical"}
    clock.now = datetime.now(UTC)  # `factorops approvals` below runs on the real clock
    full = (await client.call_tool("approval_request", REQ)).structured_content
    bare = (
        await client.call_tool(
            "approval_request", {"action": "bump a pin", "rationale": "cve", "risk": "low"}
        )
    ).structured_content
    assert full is not None and bare is not None

    out = subprocess.run(
        [sys.executable, "-m", "factorops", "approvals", "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split(bare["id"], 1)
    assert "    risk: critical" in first
    assert "    alternatives: a migration that renames the table" in first
    assert "    rollback: restore from the nightly backup" in first
    assert "    risk: low" in second and "    alternatives: (not given)" in second
    assert "    rollback: (not given)" in second

    store = await runtime.store(None)
    web = TestClient(build(store, TOKEN, now=clock), base_url="http://127.0.0.1:8766")
    web.get(f"/?token={TOKEN}")
    page = web.get("/approvals").text
    card = page.split(f'id="{full["id"]}"', 1)[1].split('class="card"', 1)[0]
    assert "<dt>risk</dt>" in card and ">critical</dd>" in card
    assert "<dt>alternatives considered</dt>" in card and "a migration that renames the table" in card
    assert "<dt>rollback</dt>" in card and "restore from the nightly backup" in card
    bare_card = page.split(f'id="{bare["id"]}"', 1)[1]
    assert bare_card.count("(not given)") >= 2


async def test_the_cli_reports_a_timed_out_or_unknown_request_in_one_line(
    client: Client, project: Path, clock: Clock
) -> None:
    clock.now = datetime.now(UTC) - timedelta(hours=2)  # the child runs on the real clock
    aid = (await client.call_tool("approval_request", {**REQ, "timeout_s": 3600})).structured_content["id"]  # type: ignore[index]
    for target, needle in ((aid, "timed out"), ("apr-nope", "no approval 'apr-nope'")):
        out = subprocess.run(
            [sys.executable, "-m", "factorops", "deny", target, "--project", str(project)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    log = git(project / ".agentops" / "ledger", "log", "--format=%s")
    assert f"approval: denied (timeout) {aid}" in log  # the CLI's own sweep recorded the time-out
