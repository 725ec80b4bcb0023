"""Stale sessions (issue #18): an open session idle for more than 4 hours (configurable) is stale.
session_start and the session-start briefing say so, and the file-collision warnings ignore it.
Through the in-process MCP client on the settable clock, and the real hook command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.flywheel import inject as flywheel
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions

from .conftest import Clock
from .test_hooks_events import Hooks, cli


async def ok(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def test_session_start_names_stale_sessions(client: Client, clock: Clock) -> None:
    a = (await ok(client, "session_start", {"goal": "old work"}))["session_id"]
    await ok(client, "checkpoint_save", {"session_id": a, "summary": "half way"})
    clock.advance(hours=3, minutes=59)
    fresh = await ok(client, "session_start", {"goal": "new work"})
    assert fresh["briefing"]["session_id"] == a and "stale" not in fresh["briefing"]
    assert "stale_sessions" not in fresh
    clock.advance(hours=4, minutes=1)  # a: 8 h idle; the second session: 4 h 1 min
    later = await ok(client, "session_start", {"goal": "third"})
    assert later["briefing"]["stale"] is True
    assert len(later["stale_sessions"]) == 2 and any(
        a in s and "old work" in s for s in later["stale_sessions"]
    )
    resumed = await ok(client, "session_resume", {"session_id": a})
    assert resumed["stale"] is True
    await ok(client, "checkpoint_save", {"session_id": a, "summary": "back at it"})
    assert "stale" not in await ok(client, "session_resume", {"session_id": a})


async def test_collision_warnings_ignore_stale_sessions(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    flywheel.install_starter(await runtime.store(None), clock())
    a = (await ok(client, "session_start", {"goal": "a"}))["session_id"]
    await ok(client, "checkpoint_save", {"session_id": a, "summary": "x", "files_touched": ["src/app.py"]})
    clock.advance(hours=5)
    b = (await ok(client, "session_start", {"goal": "b"}))["session_id"]
    quiet = await ok(
        client, "checkpoint_save", {"session_id": b, "summary": "y", "files_touched": ["src/app.py"]}
    )
    assert "warnings" not in quiet  # a is stale: abandoned work does not block anyone
    await ok(
        client, "checkpoint_save", {"session_id": a, "summary": "resumed", "files_touched": ["other.py"]}
    )
    loud = await ok(
        client, "checkpoint_save", {"session_id": b, "summary": "z", "files_touched": ["src/app.py"]}
    )
    assert any(a in w and "src/app.py" in w for w in loud["warnings"])


async def test_the_stale_threshold_is_configurable(client: Client, project: Path, clock: Clock) -> None:
    config = project / ".agentops" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text("[sessions]\nstale_after_hours = 1\n")
    a = (await ok(client, "session_start", {"goal": "a"}))["session_id"]
    clock.advance(hours=1, minutes=1)
    assert (await ok(client, "session_resume", {"session_id": a}))["stale"] is True
    config.write_text("[sessions]\nstale_after_hours = -1\n")  # invalid: the default, 4 h
    assert "stale" not in await ok(client, "session_resume", {"session_id": a})
    config.write_text("[sessions]\nstale_after_hour = 1\n")  # a typo is not silently the default
    r = await client.call_tool("session_resume", {"session_id": a})
    assert not r.is_error
    assert "stale" not in (r.structured_content or {})


def test_the_session_start_hook_says_a_session_is_stale(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert cli("init", "--project", str(project), cwd=project, home=home).returncode == 0
    hooks = Hooks(project, home, "claude-code")
    # The child works on the real clock: the record is made 6 hours before it.
    then = datetime.now(UTC) - timedelta(hours=6)
    with Store.open(DataDir.for_project(project), components()) as store:
        sid = sessions.start(store, sessions.SessionStartInput(goal="Fix the parser bug"), then).session_id
    answer, _ = hooks.run("SessionStart")
    assert answer is not None
    text = answer["hookSpecificOutput"]["additionalContext"]
    assert sid in text and "stale" in text


async def test_the_collision_check_asks_only_for_the_paths_it_checks(
    client: Client, runtime: Runtime, clock: Clock, project: Path
) -> None:
    """Issue #19: the check must not read and decode every checkpoint of every open session. The
    other session's older checkpoint rows are made undecodable in the index: a check that reads
    them fails, one that asks the session_files index for the paths it checks does not."""
    store = await runtime.store(None)
    flywheel.install_starter(store, clock())
    a = (await ok(client, "session_start", {"goal": "a"}))["session_id"]
    for i in range(5):
        await ok(
            client,
            "checkpoint_save",
            {"session_id": a, "summary": f"s{i}", "files_touched": [f"src/f{i}.py"]},
        )
    b = (await ok(client, "session_start", {"goal": "b"}))["session_id"]
    with store.index.transaction() as db:
        db.execute("UPDATE checkpoints SET files_touched = 'not json' WHERE session_id = ? AND seq < 5", [a])
    hit = await ok(
        client, "checkpoint_save", {"session_id": b, "summary": "x", "files_touched": ["./src/f3.py"]}
    )
    assert any(a in w and "src/f3.py" in w for w in hit["warnings"])
    # The index is rebuilt from the ledger like every other table.
    runtime.close()
    r = cli("rebuild", "--project", str(project), cwd=project, home=project)
    assert r.returncode == 0, r.stderr
    rt = Runtime(project=project, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(rt)) as again:
            got = await ok(
                again, "checkpoint_save", {"session_id": a, "summary": "y", "files_touched": ["src/f3.py"]}
            )
    finally:
        rt.close()
    assert any(b in w and "src/f3.py" in w for w in got["warnings"])
