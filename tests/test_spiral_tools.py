"""`validation_run` as a run for the debug-spiral detector and the circuit breaker, and the counts
in `metrics_report`: through the in-process MCP client, with real gate subprocesses, on the test's
settable clock."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.store.store import Store
from factorops.tools.watch import activity, before

from .conftest import Clock

# Passes once the file `ok` exists in the project, fails before.
GATE = [sys.executable, "-c", "import pathlib, sys; sys.exit(0 if pathlib.Path('ok').exists() else 1)"]


def configure(project: Path) -> None:
    (project / ".agentops").mkdir(exist_ok=True)
    argv = ", ".join(f'"{a}"' for a in GATE).replace("\\", "\\\\")
    (project / ".agentops" / "config.toml").write_text(
        f'[[gates]]\nname = "tests"\ncommand = [{argv}]\ntimeout_s = 60\n'
    )


async def run(client: Client, args: dict[str, Any] | None = None) -> tuple[bool, dict[str, Any] | str]:
    r = await client.call_tool("validation_run", args or {})
    if r.is_error:
        return False, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return True, r.structured_content


async def test_three_failing_runs_are_a_debug_spiral(client: Client, project: Path, clock: Clock) -> None:
    configure(project)
    replies = []
    for _ in range(3):
        ok, out = await run(client)
        assert ok and isinstance(out, dict) and out["passed"] is False
        replies.append(out)
        clock.advance(seconds=30)
    assert "spiral" not in replies[0] and "spiral" not in replies[1]
    call = replies[2]["spiral"]
    assert "debug spiral" in call.lower() and "failed 3 times in a row" in call
    assert "checkpoint_save" in call and "fresh session" in call and "ask a person" in call


async def test_a_pass_ends_the_spiral(client: Client, project: Path, clock: Clock) -> None:
    configure(project)
    for _ in range(2):
        await run(client)
    (project / "ok").write_text("")
    ok, out = await run(client)
    assert ok and isinstance(out, dict) and out["passed"] and "spiral" not in out
    (project / "ok").unlink()
    ok, out = await run(client)
    assert ok and isinstance(out, dict) and "spiral" not in out  # one failure after the pass


async def test_the_breaker_refuses_the_gate_then_half_opens(
    client: Client, project: Path, clock: Clock, store: Store
) -> None:
    configure(project)
    for _ in range(5):
        ok, out = await run(client)
        assert ok and isinstance(out, dict)
        clock.advance(seconds=10)
    assert "circuit breaker" in out["spiral"] and "is now open" in out["spiral"]
    ok, refused = await run(client)
    assert not ok and isinstance(refused, str)
    assert "gate 'tests' is refused" in refused and "circuit breaker open" in refused
    # The same command typed in a shell is refused by the hooks too: one breaker per command.
    verdict = before.before(store, clock.now, command=shlex.join(GATE))
    assert verdict.effect == "deny" and "circuit breaker open" in verdict.reason
    clock.advance(seconds=301)  # the cool-down (300 s) is over: one try goes through
    (project / "ok").write_text("")
    ok, out = await run(client)
    assert ok and isinstance(out, dict) and out["passed"]
    ok, out = await run(client)
    assert ok and isinstance(out, dict) and out["passed"]  # closed again
    report = await client.call_tool("metrics_report", {"period": "day"})
    assert report.structured_content is not None
    counts = {
        k: report.structured_content.get(k) for k in ("spirals", "breakers_opened", "breakers_open_now")
    }
    assert counts == {"spirals": 1, "breakers_opened": 1, "breakers_open_now": 0}
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "debug spirals: 1; circuit breakers opened: 1 (open now: 0)" in text


async def test_the_half_open_try_failing_opens_the_breaker_again(
    client: Client, project: Path, clock: Clock
) -> None:
    configure(project)
    for _ in range(5):
        await run(client)
    clock.advance(seconds=301)
    ok, out = await run(client)
    assert ok and isinstance(out, dict) and "is now open" in out["spiral"]
    ok, refused = await run(client)
    assert not ok and "circuit breaker open" in str(refused)


async def test_gate_failures_join_the_callers_shell_spiral(
    client: Client, project: Path, clock: Clock, store: Store
) -> None:
    """Two failures of the command in the shell (the hooks) and one through validation_run, in the
    same client session: a spiral."""
    from factorops.tools.watch import spiral

    configure(project)
    activity.note_session(store, "claude-code", "cc-1", None, clock.now)
    for _ in range(2):
        spiral.record_run(store, "cc-1", shlex.join(GATE), False, clock.now, "exit 1")
        clock.advance(seconds=5)
    ok, out = await run(client)
    assert ok and isinstance(out, dict) and "failed 3 times in a row" in out["spiral"]


async def test_an_unknown_gate_is_still_named(client: Client, project: Path) -> None:
    configure(project)
    ok, text = await run(client, {"gate": "nope"})
    assert not ok and "no gate 'nope'" in str(text)


def test_cursor_is_told_of_a_spiral_before_the_next_try(project: Path, tmp_path: Path) -> None:
    """Cursor's events never say how a command ended, so its beforeShellExecution answer calls the
    spiral the command is in (failures recorded in the project), through the installed command."""
    from factorops.store.datadir import DataDir
    from factorops.tools.registry import components
    from factorops.tools.watch import spiral

    from .test_hooks_events import Hooks, cli

    home = tmp_path / "home"
    home.mkdir()
    assert cli("init", "--project", str(project), cwd=project, home=home).returncode == 0
    cursor = Hooks(project, home, "cursor")
    quiet, _ = cursor.run("beforeShellExecution.force_push", command="pytest -q tests")
    assert quiet == {}
    s = Store.open(DataDir.for_project(project), components())
    try:
        now = Clock().now
        for _ in range(3):
            spiral.record_run(s, "mcp:ses-1", "pytest -q tests", False, now, "1 failed")
    finally:
        s.close()
    answer, _ = cursor.run("beforeShellExecution.force_push", command="pytest  -q 'tests'")
    assert answer is not None and "permission" not in answer  # advice only: never an allow
    assert "Debug spiral" in answer["agentMessage"] and "failed its last 3 runs" in answer["agentMessage"]
    other, _ = cursor.run("beforeShellExecution.force_push", command="ls")
    assert other == {}
