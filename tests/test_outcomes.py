"""Outcomes (issue #18): lead time, change failure rate (failed or reverted, from the project's real
git history), time to recover, throughput and the flywheel, in metrics_report and agentops://metrics.
Time is the test's clock: session and gate times through the server, commit dates set to match.
The dashboard's charts are checked in a real browser (tests/test_dashboard_browser_people.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.metrics import report as metrics
from factorops.tools.oversight import validation
from factorops.tools.patterns import records as patterns
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions

from .conftest import Clock, commit_files, git
from .test_dashboard_browser import CHROMIUM, dashboard
from .test_dashboard_browser_people import chromium


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(tool, args)
    assert not r.is_error, (tool, r.content)
    assert r.structured_content is not None
    return r.structured_content


def configure(project: Path) -> None:
    # The gate passes once the file `green` exists in the project.
    (project / ".agentops").mkdir(exist_ok=True)
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "tests"\ncommand = ["{sys.executable}", "-c", '
        "\"import pathlib, sys; sys.exit(0 if pathlib.Path('green').exists() else 1)\"]\n"
    )


async def start(client: Client, goal: str) -> str:
    return str((await call(client, "session_start", {"goal": goal}))["session_id"])


async def validate(client: Client, sid: str) -> bool:
    return bool((await call(client, "validation_run", {"session_id": sid}))["passed"])


async def end(client: Client, sid: str, outcome: str, **cite: list[str]) -> None:
    await call(client, "session_end", {"session_id": sid, "outcome": outcome, **cite})


async def test_lead_time_failures_recovery_throughput_and_flywheel(
    client: Client, project: Path, clock: Clock
) -> None:
    configure(project)
    good = (await call(client, "pattern_record", {"title": "Warm the cache before deploys"}))["id"]
    bad = (await call(client, "pattern_record", {"title": "Skip the smoke test"}))["id"]
    for q in ("deploy cache", "smoke test"):
        await call(client, "patterns_search", {"query": q})

    # A: fails its gate, recovers 30 min later, validated success after 2 h.
    a = await start(client, "speed up deploys")
    clock.advance(minutes=10)
    assert not await validate(client, a)
    clock.advance(minutes=30)
    (project / "green").write_text("")
    assert await validate(client, a)
    clock.advance(minutes=80)
    await end(client, a, "success", helped=[good])

    # B: a commit during the session, validated success after 1 h, reverted afterwards.
    clock.advance(hours=1)
    b = await start(client, "rename the cache flag")
    clock.advance(minutes=30)
    change = commit_files(project, {"flag.txt": "new\n"}, "rename the cache flag", when=clock())
    assert await validate(client, b)
    clock.advance(minutes=30)
    await end(client, b, "success")
    clock.advance(hours=1)
    commit_files(project, {"flag.txt": "old\n"}, f'Revert "x"\n\nThis reverts commit {change}.', when=clock())

    # C: failed.
    c = await start(client, "drop the smoke test")
    clock.advance(minutes=20)
    await end(client, c, "failed", hurt=[bad])

    # D: validated success whose commit was reverted, and the revert reverted: the change stands.
    clock.advance(hours=1)
    d = await start(client, "tune the cache size")
    clock.advance(minutes=15)
    kept = commit_files(project, {"size.txt": "64\n"}, "tune the cache size", when=clock())
    assert await validate(client, d)
    clock.advance(minutes=45)
    await end(client, d, "success", helped=[good])
    clock.advance(minutes=10)
    r1 = commit_files(project, {"size.txt": "32\n"}, f"Revert\n\nThis reverts commit {kept}.", when=clock())
    clock.advance(minutes=10)
    commit_files(project, {"size.txt": "64\n"}, f"Reapply\n\nThis reverts commit {r1[:12]}.", when=clock())

    r = (await call(client, "metrics_report", {"period": "all"}))["delivery"]
    assert r["validated_sessions"] == 3
    assert r["lead_time_hours"] == 1.0  # median of 2 h, 1 h, 1 h
    assert r["reverts_checked"] is True
    assert r["failed_sessions"] == 1 and r["reverted_sessions"] == 1
    assert r["change_failure_rate"] == 0.5  # B (reverted) and C (failed) of 4 ended
    assert r["recoveries"] == 1 and r["time_to_recover_minutes"] == 30.0
    assert r["throughput_per_week"] == 3.0  # all inside one week
    f = r["flywheel"]
    assert f["retrievals"] >= 2 and f["helpful"] == 2 and f["hurt"] == 1 and f["decayed"] == 0
    assert f["compounding"] is True and f["citation_rate"] == round(2 / f["retrievals"], 3)
    (week,) = r["weeks"]
    assert week["validated"] == 3 and week["ended"] == 4 and week["failed"] == 2 and week["helpful"] == 2

    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "- change failure rate: 50% (1 failed, 1 reverted); time to recover: 30 min median over 1" in text
    assert "helpful uses vs decay 1 (1 harmful citations, 0 decayed patterns): compounding" in text

    # A week later, the week's report has none of it; the flywheel no longer counts those citations.
    clock.advance(days=8)
    later = (await call(client, "metrics_report", {"period": "week"}))["delivery"]
    assert later.get("validated_sessions", 0) == 0 and "change_failure_rate" not in later
    assert later["flywheel"]["helpful"] == 0 and later["flywheel"]["compounding"] is False


async def test_without_git_history_only_failed_sessions_count(
    client: Client, project: Path, clock: Clock
) -> None:
    configure(project)
    shutil.rmtree(project / ".git")
    s = await start(client, "no history here")
    clock.advance(minutes=5)
    await end(client, s, "failed")
    r = (await call(client, "metrics_report", {"period": "all"}))["delivery"]
    assert r.get("reverts_checked", False) is False and r["change_failure_rate"] == 1.0
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "no git history: reverts not checked" in text
    assert git(project.parent, "--version")  # git itself is there; the project has no history


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
async def test_metrics_page_shows_the_alert_banner_and_outcome_charts(project: Path, tmp_path: Path) -> None:
    """In a real browser against a real `factorops dashboard` (records on the real clock, which
    the dashboard process uses): the alert banner and the outcome charts on the metrics page."""
    subprocess.run(
        [sys.executable, "-m", "factorops", "init", "--no-starter", "--project", str(project)],
        check=True,
        capture_output=True,
    )
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "tests"\ncommand = ["{sys.executable}", "-c", "0"]\n'
        f'[[gates]]\nname = "e2e"\ntimeout_s = 1\ncommand = ["{sys.executable}", "-c", "import time; time.sleep(30)"]\n'
    )
    now = datetime.now(UTC)
    store = Store.open(DataDir.for_project(project), components())
    try:
        pid = patterns.record(store, patterns.PatternRecordInput(title="Warm the cache first"), now).id
        for i, (hours, outcome) in enumerate(((5, "success"), (3, "success"), (2, "failed"))):
            t0 = now - timedelta(hours=hours)
            sid = sessions.start(store, sessions.SessionStartInput(goal=f"deploy change {i}"), t0).session_id
            if i == 1:
                change = commit_files(project, {"f.txt": "x\n"}, "change", when=t0 + timedelta(minutes=10))
            if outcome == "success":
                validation.run(
                    store,
                    validation.ValidationRunInput(session_id=sid, gate="tests"),
                    t0 + timedelta(minutes=20),
                )
            sessions.end(
                store,
                sessions.SessionEndInput(session_id=sid, outcome=outcome, helped=[pid] if i == 0 else []),
                t0 + timedelta(minutes=40 + 30 * i),
            )
        commit_files(
            project,
            {"f.txt": "y\n"},
            f"Revert\n\nThis reverts commit {change}.",
            when=now - timedelta(hours=1),
        )
        validation.run(store, validation.ValidationRunInput(gate="e2e"), now - timedelta(minutes=30))
        for i in range(10):
            metrics.record_call(
                store, now, "session_resume", 3.0 + i, "error" if i < 2 else "ok", 40, 400, None
            )
        metrics.record_context_use(store, now, None, 6_000, 10_000)
        metrics.close(store)
    finally:
        store.close()
    with dashboard(project) as url:
        base, token = url.split("/?token=")
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1100, "height": 800})
            await page.goto(f"{base}/?token={token}")
            await page.goto(f"{base}/metrics")
            shot = tmp_path / "metrics-alerts-outcomes.png"
            await page.screenshot(path=str(shot), full_page=True)
            scratch = Path("/work/scratch")
            if scratch.is_dir():
                shutil.copy(shot, scratch / "metrics_page.png")
            banner = page.locator("[role=alert].alerts")
            assert await banner.is_visible()
            kinds = set(await banner.locator("li").evaluate_all("els => els.map(e => e.dataset.kind)"))
            assert kinds == {"error_rate", "context", "gate"}, kinds
            text = await banner.inner_text()
            assert "session_resume: 2 of 10 calls failed (20% > 5%)" in text and "> 40%" in text
            assert "gate e2e timed out" in text
            captions = await page.locator("figure.delivery figcaption").all_inner_texts()
            assert captions[:3] == [
                "Throughput: validated sessions per week",
                "Lead time per week (median hours)",
                "Change failure rate per week (%)",
            ]
            assert "Flywheel: helpful uses vs decay" in captions
            for fig in await page.locator("figure.delivery").all():
                assert await fig.locator("svg rect").count() >= 1
            legend = await page.locator("figure.flywheel .legend li").all_inner_texts()
            assert "helpful uses: 1" in [x.strip() for x in legend]
            outcomes = await page.inner_text("h2:has-text('Outcomes') + p")
            assert "change failure rate 67% (1 failed, 1 reverted)" in outcomes
            assert "flywheel compounding" in outcomes
            signals = await page.locator("table.signals tr").all_inner_texts()
            assert any(r.startswith("session_resume") and "20.0%" in r for r in signals)


async def test_decay_counts_uncited_patterns_faded_past_the_half_life(client: Client, clock: Clock) -> None:
    # Confidence 0.5 halves every 30 days; below 0.2 it has decayed: after log2(2.5) * 30 = 39.7 days.
    await call(client, "pattern_record", {"title": "Never cited", "confidence": 0.5})
    await call(client, "pattern_record", {"title": "Weak from the start", "confidence": 0.1})

    async def decayed() -> int:
        return int(
            (await call(client, "metrics_report", {"period": "all"}))["delivery"]["flywheel"]["decayed"]
        )

    assert await decayed() == 1  # 0.1 < 0.2 already
    clock.advance(days=39)
    assert await decayed() == 1
    clock.advance(days=1)
    assert await decayed() == 2
