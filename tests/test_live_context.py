"""Live context in the tools: once a hook has recorded a client session's transcript, the tools
that need the caller's context use (`context_load`, the session tools) measure it instead of
trusting `used_tokens` = 0, and name its band. Through the in-process MCP client; the hook side
(what a hook records) is set up in-process on the test's clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.store.store import Store
from factorops.tools.watch import activity

from .conftest import Clock


def write_transcript(path: Path, used: int, model: str = "claude-sonnet-4-5-20250929") -> Path:
    """A Claude Code transcript whose latest main-thread assistant turn held `used` tokens."""
    turn = {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Working on it."}],
            "usage": {
                "input_tokens": 7,
                "cache_creation_input_tokens": used // 3,
                "cache_read_input_tokens": used - 7 - used // 3,
                "output_tokens": 120,
            },
        },
    }
    path.write_text(
        json.dumps({"type": "user", "message": {"content": "fix it"}}) + "\n" + json.dumps(turn) + "\n"
    )
    return path


def hook_saw(store: Store, clock: Clock, transcript: Path, client_session: str = "cc-1") -> None:
    """What Claude Code's UserPromptSubmit hook records: the transcript and its measured use."""
    activity.measure_context(store, "claude-code", client_session, str(transcript), clock.now)


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def test_context_load_uses_the_measured_context(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", 60_000))  # 30% of 200k
    out = await call(client, "context_load", {"task": "demo project readme", "budget_tokens": 30_000})
    assert out["context"]["source"] == "transcript"
    assert out["context"]["used_tokens"] == 60_000 and out["context"]["band"] == "good"
    # the 40% rule, counted from the measured use: 60k + 30k is past 80k
    assert any("takes total use past 40%" in w for w in out["warnings"])


async def test_the_transcript_is_read_again_at_each_call(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    t = write_transcript(tmp_path / "t.jsonl", 20_000)
    hook_saw(store, clock, t)
    write_transcript(t, 90_000)  # the conversation went on since the hook ran
    out = await call(client, "context_load", {"task": "demo"})
    assert out["context"]["used_tokens"] == 90_000 and out["context"]["band"] == "warning"
    assert out["budget_tokens"] == 0 and any("already 45% full" in w for w in out["warnings"])


async def test_a_larger_used_tokens_from_the_caller_wins(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", 20_000))
    args = {"task": "demo", "budget_tokens": 35_000}
    out = await call(client, "context_load", {**args, "used_tokens": 50_000})
    assert out["context"]["source"] == "caller" and out["context"]["used_tokens"] == 50_000
    assert any("takes total use past 40%" in w for w in out.get("warnings", []))
    low = await call(client, "context_load", {**args, "used_tokens": 5_000})
    assert low["context"]["source"] == "transcript" and low["context"]["used_tokens"] == 20_000
    assert not any("past 40%" in w for w in low.get("warnings", []))


async def test_the_callers_window_wins_over_the_guessed_one(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", 100_000))
    out = await call(client, "context_load", {"task": "demo", "window_tokens": 1_000_000})
    assert out["context"] == {
        "band": "optimal",
        "percent": 10.0,
        "used_tokens": 100_000,
        "window_tokens": 1_000_000,
        "source": "transcript",
    }


async def test_without_hooks_the_callers_numbers_are_used(client: Client) -> None:
    out = await call(client, "context_load", {"task": "demo", "budget_tokens": 30_000})
    assert out["context"]["source"] == "caller" and out["context"]["used_tokens"] == 0
    assert out["context"]["band"] == "optimal" and not out.get("warnings")


async def test_a_client_session_idle_for_hours_is_not_the_caller(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", 100_000))
    clock.advance(hours=5)
    out = await call(client, "context_load", {"task": "demo", "budget_tokens": 30_000})
    assert out["context"]["source"] == "caller" and out["context"]["used_tokens"] == 0
    assert not out.get("warnings")


async def test_session_start_links_the_client_session_and_names_its_band(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    hook_saw(store, clock, write_transcript(tmp_path / "a.jsonl", 30_000), "cc-a")
    clock.advance(minutes=1)
    hook_saw(store, clock, write_transcript(tmp_path / "b.jsonl", 130_000), "cc-b")
    started = await call(client, "session_start", {"goal": "add retries"})
    assert started["context"]["band"] == "critical" and started["context"]["source"] == "transcript"
    assert activity.factorops_session(store, "cc-b") == started["session_id"]
    # Later, the other conversation is the more recently active one; the linked session still
    # finds its own client session by id.
    clock.advance(minutes=1)
    hook_saw(store, clock, tmp_path / "a.jsonl", "cc-a")
    sid = started["session_id"]
    mine = await call(client, "context_load", {"task": "demo", "session_id": sid})
    assert mine["context"]["used_tokens"] == 130_000
    other = await call(client, "context_load", {"task": "demo"})
    assert other["context"]["used_tokens"] == 30_000


async def test_session_start_without_hooks_has_no_band(client: Client) -> None:
    started = await call(client, "session_start", {"goal": "add retries"})
    assert "context" not in started
