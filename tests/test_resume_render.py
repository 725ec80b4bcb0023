"""One rendering of the resume state (tools/sessions/render.py) for every face: the session resource
`agentops://sessions/{id}` read through the MCP client, and the dashboard's session page, both show
the whole handoff: decisions of every checkpoint, open questions, earlier checkpoints, and the code
state the work was saved at (HEAD moved since, with the commits and diff stat)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client
from starlette.testclient import TestClient

from factorops.server.web.app import build
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.registry import components

from .conftest import Clock, commit_files, git

TOKEN = "resume-render-token-0123456789"


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return r.structured_content


async def two_checkpoints_then_a_commit(client: Client, project: Path, clock: Clock) -> str:
    sid = str((await call(client, "session_start", {"goal": "rework the ledger writer"}))["session_id"])
    await call(
        client,
        "checkpoint_save",
        {
            "session_id": sid,
            "summary": "Mapped the writer's call sites.",
            "decisions": ["keep one writer per ledger"],
            "open_questions": ["does sync need the lock?"],
        },
    )
    clock.advance(minutes=5)
    (project / "notes.txt").write_text("draft\n")
    await call(
        client,
        "checkpoint_save",
        {
            "session_id": sid,
            "summary": "Writer split in two, tests green.",
            "next_steps": ["move the lock into the writer"],
            "decisions": ["savepoints instead of nested transactions"],
            "files_touched": ["store/ledger.py"],
        },
    )
    commit_files(project, {"store/ledger.py": "x = 1\n"}, "move the lock")
    return sid


def shows_the_whole_handoff(text: str, head_now: str) -> None:
    for part in (
        "Writer split in two, tests green.",
        "move the lock into the writer",
        "savepoints instead of nested transactions",  # the latest checkpoint's decision
        "keep one writer per ledger",  # and the earlier one's
        "does sync need the lock?",
        "Mapped the writer's call sites.",  # the earlier checkpoint in one line
        "Code state",
        "uncommitted file(s) then: notes.txt",
        f"HEAD has moved: now {head_now[:12]}, 1 commit(s) since",
        "store/ledger.py",
    ):
        assert part in text, (part, text)


async def test_the_session_resource_shows_decisions_and_code_state(
    client: Client, project: Path, clock: Clock
) -> None:
    sid = await two_checkpoints_then_a_commit(client, project, clock)
    r = await client.read_resource(f"agentops://sessions/{sid}")
    text = str(r.contents[0].text)  # type: ignore[union-attr]
    shows_the_whole_handoff(text, git(project, "rev-parse", "HEAD"))
    assert "## Decisions made" in text and "## Code state" in text and "## Timeline" in text


async def test_the_dashboard_session_page_shows_decisions_and_code_state(
    client: Client, project: Path, clock: Clock
) -> None:
    sid = await two_checkpoints_then_a_commit(client, project, clock)
    store = Store.open(DataDir.for_project(project), components())
    try:
        web = TestClient(
            build(store, TOKEN, now=clock, by="dashboard:tester"), base_url="http://127.0.0.1:8766"
        )
        assert web.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
        page = web.get(f"/sessions/{sid}")
    finally:
        store.close()
    assert page.status_code == 200
    shows_the_whole_handoff(page.text.replace("&#x27;", "'"), git(project, "rev-parse", "HEAD"))
    assert "<h3>Decisions made</h3>" in page.text and "<h3>Code state</h3>" in page.text
