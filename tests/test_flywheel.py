"""The knowledge flywheel: starter guardrails, success needs validation, collisions, inject-measure-
decay, and the opt-in transcript and .agents/ miners driven from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.store.store import Store
from factorops.tools.flywheel import inject as flywheel
from factorops.tools.kernel.actor import Actor
from factorops.tools.oversight import approvals
from factorops.tools.patterns import records as patterns

from .conftest import Clock
from .transcript_fixtures import NewFormat


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args, "--project", str(project)], capture_output=True, text=True
    )


async def ok(c: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await c.call_tool(name, args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    return r.structured_content  # type: ignore[return-value]


def test_init_installs_starter_guardrails_and_they_can_be_removed(project: Path) -> None:
    out = cli(project, "init")
    assert out.returncode == 0 and "starter guardrails installed" in out.stdout
    assert "starter guardrails" not in cli(project, "init").stdout  # idempotent: nothing new
    listed = cli(project, "patterns", "list", "--kind", "guardrail", "--status", "active").stdout
    assert "starter-force-push-default-branch" in listed
    removed = cli(project, "starter", "remove")
    assert removed.returncode == 0 and "starter guardrails retired" in removed.stdout
    assert "starter-" not in cli(project, "patterns", "list", "--status", "active").stdout
    assert "installed" in cli(project, "starter", "install").stdout
    assert cli(project, "init", "--no-starter").returncode == 0


async def test_starter_guardrails_catch_and_let_through(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    flywheel.install_starter(store, clock())
    cases = {
        "git push --force origin main": "block",
        "git push -f origin master": "block",
        "rm -rf /": "block",
        "git push origin feature/x": "allow",
        "rm -rf ./build": "allow",
        'echo "git push --force origin main"': "allow",
        "git clean -fdx": "warn",
    }
    for command, expected in cases.items():
        r = await ok(client, "guardrail_check", {"action": "run a shell command", "command": command})
        assert r["decision"] == expected, (command, r)


async def test_success_needs_a_passing_validation_or_a_person(
    client: Client, runtime: Runtime, project: Path, clock: Clock
) -> None:
    store = await runtime.store(None)
    flywheel.install_starter(store, clock())
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "ok"\ncommand = ["{sys.executable}", "-c", "print(1)"]\n'
    )
    s = await ok(client, "session_start", {"goal": "ship it"})
    sid = s["session_id"]
    clock.advance(minutes=1)
    await ok(client, "checkpoint_save", {"session_id": sid, "summary": "edited", "files_touched": ["a.py"]})
    r = await client.call_tool("session_end", {"session_id": sid, "outcome": "success"})
    assert r.is_error and "validation_run" in r.content[0].text  # type: ignore[union-attr]
    # A person approves the claim: it goes through, with the warning on the record.
    a = approvals.create(
        store,
        approvals.ApprovalRequestInput(
            action="end as success", rationale="verified by hand", risk="low", session_id=sid
        ),
        clock(),
    )
    bad = await client.call_tool(
        "session_end", {"session_id": sid, "outcome": "success", "approval_id": a.id}
    )
    assert bad.is_error and "approval_id" in bad.content[0].text  # type: ignore[union-attr]
    approvals.decide(store, a.id, True, Actor.cli("tester"), "", clock())
    done = await ok(client, "session_end", {"session_id": sid, "outcome": "success", "approval_id": a.id})
    assert done["warnings"] and "person overrode" in done["warnings"][0]
    # With a passing validation after the change, no override is needed.
    s2 = (await ok(client, "session_start", {"goal": "second"}))["session_id"]
    await ok(client, "checkpoint_save", {"session_id": s2, "summary": "edited", "files_touched": ["b.py"]})
    clock.advance(minutes=1)
    assert (await ok(client, "validation_run", {"session_id": s2}))["passed"]
    assert "warnings" not in await ok(client, "session_end", {"session_id": s2, "outcome": "success"})
    # Failure needs no validation.
    s3 = (await ok(client, "session_start", {"goal": "third"}))["session_id"]
    await ok(client, "checkpoint_save", {"session_id": s3, "summary": "x", "files_touched": ["c.py"]})
    await ok(client, "session_end", {"session_id": s3, "outcome": "failed"})


async def test_two_open_sessions_on_the_same_files_warn(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    flywheel.install_starter(await runtime.store(None), clock())
    a = (await ok(client, "session_start", {"goal": "a"}))["session_id"]
    b = (await ok(client, "session_start", {"goal": "b"}))["session_id"]
    first = await ok(
        client, "checkpoint_save", {"session_id": a, "summary": "x", "files_touched": ["src/app.py"]}
    )
    assert "warnings" not in first
    second = await ok(
        client,
        "checkpoint_save",
        {"session_id": b, "summary": "y", "files_touched": ["./src/app.py", "other.py"]},
    )
    assert any(a in w and "src/app.py" in w for w in second["warnings"])
    third = await ok(
        client, "checkpoint_save", {"session_id": b, "summary": "z", "files_touched": ["unrelated.py"]}
    )
    assert "warnings" not in third


async def test_inject_measure_and_decay(client: Client, runtime: Runtime, clock: Clock) -> None:
    store = await runtime.store(None)
    pid = patterns.record(
        store,
        patterns.PatternRecordInput(
            title="Retry payment calls with backoff",
            solution="Wrap provider calls in with_retries.",
            tags=["payments"],
        ),
        clock(),
    ).id
    other = patterns.record(
        store, patterns.PatternRecordInput(title="Unrelated rule about fonts", solution="x"), clock()
    ).id
    for x in (pid, other):
        patterns.set_status(store, x, "active", clock(), by="test")
    s = await ok(client, "session_start", {"goal": "payment retry bug in checkout"})
    assert [p["id"] for p in s["patterns"]] == [pid] and "with_retries" in s["patterns"][0]["advice"]
    before = patterns.get(store, pid)
    # Success needs a passing validation in the session (success-needs-validation).
    (store.datadir.config_path).write_text(
        f'[[gates]]\nname = "ok"\ncommand = ["{sys.executable}", "-c", "print(1)"]\n'
    )
    await ok(client, "validation_run", {"session_id": s["session_id"]})
    # Shown is not used: the session cites the pattern that helped (issue #18).
    await ok(client, "session_end", {"session_id": s["session_id"], "outcome": "success", "helped": [pid]})
    after = patterns.get(store, pid)
    assert after.times_used == before.times_used + 1 and after.times_helped == before.times_helped + 1
    assert after.confidence > before.confidence
    assert patterns.get(store, other).times_used == 0
    report = await ok(client, "metrics_report", {"period": "all"})
    assert report["patterns_shown_per_session"] == 1 and report["pattern_help_rate"] == 1.0
    # Unused for 90 days: the other rule fades below the threshold and is proposed for retirement.
    clock.advance(days=90)
    props = flywheel.retirement_proposals(store, clock())
    assert [p.id for p in props] == [other] or other in [p.id for p in props]
    assert all(p.faded < flywheel.RETIRE_BELOW for p in props)
    assert flywheel.faded(patterns.get(store, other), clock()) == pytest.approx(0.5 * 0.125, rel=0.01)


async def test_context_load_includes_learned_patterns(
    client: Client, runtime: Runtime, project: Path, clock: Clock
) -> None:
    store = await runtime.store(None)
    pid = patterns.record(
        store,
        patterns.PatternRecordInput(title="Readme sections stay short", solution="One screen each."),
        clock(),
    ).id
    patterns.set_status(store, pid, "active", clock(), by="test")
    s = (await ok(client, "session_start", {"goal": "docs"}))["session_id"]
    r = await ok(
        client,
        "context_load",
        {"task": "shorten the readme sections", "session_id": s, "budget_tokens": 2000},
    )
    assert r["patterns"] == [pid] and "=== learned patterns ===" in r["content"]
    shown = store.db.execute(
        "SELECT via FROM pattern_injections WHERE session_id = ? AND pattern_id = ?", [s, pid]
    ).fetchall()
    assert ("context_load",) in shown


def test_transcripts_and_agents_from_the_cli(project: Path, tmp_path: Path, store: Store) -> None:
    store.close()
    base = tmp_path / "claude-projects"
    folder = base / str(project.resolve()).replace("/", "-")
    w = NewFormat(folder / "sess-1.jsonl", "sess-1")
    w.user("make the tests pass")
    for i in range(4):
        w.bash(
            f"t{i}",
            "pytest tests/test_api.py",
            "FAILED tests/test_api.py::test_get - AssertionError",
            ok=False,
        )
    w.raw("{not json")
    w.save()
    out = cli(project, "mine-transcripts", "--base-dir", str(base))
    assert out.returncode == 0, out.stderr
    assert "1 transcripts (1 with new lines)" in out.stdout and "1 bad lines" in out.stdout
    assert "new " in out.stdout
    again = cli(project, "mine-transcripts", "--base-dir", str(base))
    assert (
        "0 with new lines" in again.stdout
        and "\nnew " not in again.stdout
        and not again.stdout.startswith("new")
    )
    agents = project / ".agents" / "learnings"
    agents.mkdir(parents=True)
    (agents / "retry.md").write_text(
        "---\ntype: learning\nmaturity: validated\nconfidence: 0.8\ndate: 2026-11-01\n---\n# Retry idempotent calls only\n\nNever retry a POST without an idempotency key.\n"
    )
    (agents / "broken.md").write_text("---\ntype: [oops\n---\n")
    imp = cli(project, "agents", "import")
    assert imp.returncode == 0 and "1 candidates stored" in imp.stdout and "broken.md" in imp.stdout
    listed = cli(project, "patterns", "list").stdout
    assert "Retry idempotent calls only" in listed
