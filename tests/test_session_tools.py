"""Session tools, resources and the resume prompt, through the in-process MCP client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.runtime import Runtime

from .conftest import Clock, git


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def error(client: Client, name: str, args: dict[str, Any]) -> str:
    r = await client.call_tool(name, args)
    assert r.is_error
    text: str = r.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


async def test_save_and_resume_round_trip(client: Client, clock: Clock) -> None:
    start = await call(client, "session_start", {"goal": "add retries to the HTTP client"})
    sid = start["session_id"]
    assert "briefing" not in start  # nothing unfinished before
    clock.advance(minutes=30)
    ck = await call(
        client,
        "checkpoint_save",
        {
            "session_id": sid,
            "summary": "Retry wrapper written; tests pending",
            "next_steps": ["write tests for backoff"],
            "decisions": ["exponential backoff, max 5 tries"],
            "open_questions": ["retry on 429?"],
            "files_touched": ["src/http.py"],
        },
    )
    assert ck["seq"] == 1 and len(ck["commit"]) == 40
    clock.advance(hours=3)
    state = await call(client, "session_resume", {})
    assert state["session_id"] == sid
    assert state["summary"] == "Retry wrapper written; tests pending"
    assert state["next_steps"] == ["write tests for backoff"]
    assert state["decisions"] == ["exponential backoff, max 5 tries"]
    assert state["open_questions"] == ["retry on 429?"]
    assert state["files_touched"] == ["src/http.py"]
    assert state["age"] == "3h 0m"
    assert state["checkpoints"] == 1


async def test_start_briefs_from_the_latest_unfinished_session(client: Client, clock: Clock) -> None:
    first = await call(client, "session_start", {"goal": "first goal"})
    await call(
        client,
        "checkpoint_save",
        {"session_id": first["session_id"], "summary": "half way", "next_steps": ["b"]},
    )
    clock.advance(hours=1)
    second = await call(client, "session_start", {"goal": "second goal"})
    assert second["briefing"]["session_id"] == first["session_id"]
    assert second["briefing"]["summary"] == "half way"
    assert second["briefing"]["next_steps"] == ["b"]


async def test_end_then_resume_picks_another_open_session(client: Client, clock: Clock) -> None:
    a = await call(client, "session_start", {"goal": "a"})
    clock.advance(minutes=1)
    b = await call(client, "session_start", {"goal": "b"})
    ended = await call(
        client, "session_end", {"session_id": b["session_id"], "outcome": "partial", "learnings": ["use X"]}
    )
    assert ended == {
        "session_id": b["session_id"],
        "outcome": "partial",
        "checkpoints": 0,
        "commit": ended["commit"],
    }
    assert (await call(client, "session_resume", {}))["session_id"] == a["session_id"]
    # An ended session can still be read by id.
    assert (await call(client, "session_resume", {"session_id": b["session_id"]}))["status"] == "ended"


async def test_resources_and_prompt(client: Client) -> None:
    s = await call(client, "session_start", {"goal": "document the API"})
    sid = s["session_id"]
    await call(
        client, "checkpoint_save", {"session_id": sid, "summary": "outlined docs", "next_steps": ["write"]}
    )
    listing = (await client.read_resource("agentops://sessions")).contents[0].text  # type: ignore[union-attr]
    assert sid in listing and "document the API" in listing
    detail = (await client.read_resource(f"agentops://sessions/{sid}")).contents[0].text  # type: ignore[union-attr]
    assert "outlined docs" in detail and "## Timeline" in detail
    templates = await client.list_resource_templates()
    assert any(t.uri_template == "agentops://sessions/{session_id}" for t in templates.resource_templates)
    prompt = await client.get_prompt("resume", {})
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "document the API" in text and "- write" in text and sid in text


async def test_resource_for_unknown_session_is_an_error(client: Client) -> None:
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError, match="no session"):
        await client.read_resource("agentops://sessions/ses-nope")


async def test_prompt_without_any_session_explains(client: Client) -> None:
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError, match="no unfinished session in this project; call session_start"):
        await client.get_prompt("resume", {})


# -- bad input ---------------------------------------------------------------------------------------


async def test_unknown_session_id(client: Client) -> None:
    msg = await error(client, "checkpoint_save", {"session_id": "ses-missing", "summary": "x"})
    assert "session_id" in msg and "session_start" in msg
    msg = await error(client, "session_end", {"session_id": "ses-missing", "outcome": "success"})
    assert "session_id" in msg
    msg = await error(client, "session_resume", {"session_id": "ses-missing"})
    assert "session_id" in msg


async def test_resume_with_nothing_open(client: Client) -> None:
    msg = await error(client, "session_resume", {})
    assert "session_start" in msg


async def test_ending_twice_and_checkpointing_an_ended_session(client: Client) -> None:
    s = await call(client, "session_start", {"goal": "g"})
    await call(client, "session_end", {"session_id": s["session_id"], "outcome": "partial"})
    assert "already ended" in await error(
        client, "session_end", {"session_id": s["session_id"], "outcome": "success"}
    )
    assert "has ended" in await error(
        client, "checkpoint_save", {"session_id": s["session_id"], "summary": "x"}
    )


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("session_start", {"goal": ""}, "goal"),
        ("session_start", {"goal": "   "}, "goal"),
        ("session_start", {"goal": "x" * 501}, "goal"),
        ("session_start", {}, "goal"),
        ("session_start", {"goal": 42}, "goal"),
        ("session_start", {"goal": "g", "tags": "not-a-list"}, "tags"),
        ("checkpoint_save", {"session_id": "s", "summary": "y" * 4001}, "summary"),
        ("checkpoint_save", {"session_id": "s", "summary": "ok", "next_steps": ["a"] * 31}, "next_steps"),
        ("checkpoint_save", {"session_id": "s", "summary": "ok", "decisions": [""]}, "decisions.0"),
        (
            "checkpoint_save",
            {"session_id": "s", "summary": "ok", "files_touched": [{"a": 1}]},
            "files_touched.0",
        ),
        ("checkpoint_save", {"summary": "ok"}, "session_id"),
        ("session_end", {"session_id": "s", "outcome": "great"}, "outcome"),
        ("session_end", {"session_id": "s", "outcome": "success", "learnings": ["z" * 1001]}, "learnings.0"),
        ("session_resume", {"session_id": ["a"]}, "session_id"),
    ],
)
async def test_bad_arguments_name_the_field(
    client: Client, runtime: Runtime, tool: str, args: dict[str, Any], field: str
) -> None:
    store = await runtime.store(None)
    head = store.ledger.head()
    msg = await error(client, tool, args)
    assert msg.startswith(f"Invalid arguments for {tool}: {field}:"), msg
    assert "errors.pydantic.dev" not in msg
    # Nothing half-written: no commit, clean ledger, and the server keeps serving.
    assert store.ledger.head() == head
    assert git(store.ledger.path, "status", "--porcelain") == ""
    assert not (await client.call_tool("session_start", {"goal": "still serving"})).is_error
