"""Live context in the tools: once a hook has recorded a client session's transcript, the tools
that need the caller's context use (`context_load`, the session tools) measure it instead of
trusting `used_tokens` = 0, and name its band. Through the in-process MCP client; the hook side
(what a hook records) is set up in-process on the test's clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
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


# -- every context-aware reply names the band --------------------------------------------------------

BANDS = [
    # percent of a 200k window, band, soft warning's advice, checkpoint advice (40% and up)
    (10, "optimal", False, False),
    (30, "good", False, False),
    (36, "good", True, False),
    (50, "warning", False, True),
    (65, "critical", False, True),
]


@pytest.mark.parametrize(("pct", "band", "soft", "fresh"), BANDS)
async def test_each_band_in_every_context_aware_reply(
    client: Client, store: Store, clock: Clock, tmp_path: Path, pct: int, band: str, soft: bool, fresh: bool
) -> None:
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", pct * 2000))
    started = await call(client, "session_start", {"goal": "add retries"})
    sid = started["session_id"]
    replies = {
        "session_start": started,
        "context_load": await call(client, "context_load", {"task": "demo", "session_id": sid}),
        "checkpoint_save": await call(client, "checkpoint_save", {"session_id": sid, "summary": "halfway"}),
        "session_resume": await call(client, "session_resume", {"session_id": sid}),
    }
    for tool, reply in replies.items():
        ctx = reply["context"]
        assert (ctx["band"], ctx["percent"], ctx["source"]) == (band, pct, "transcript"), tool
        advice = ctx.get("advice", "")
        assert ("plan a checkpoint" in advice) == soft, tool
        assert ("checkpoint" in advice and "fresh session" in advice) == fresh, tool
    report = await call(client, "metrics_report", {"period": "day"})
    assert report["context_now"]["band"] == band
    assert report["context_bands"] == {band: 1} and report["context_band"] == band


async def test_thresholds_come_from_the_watch_table(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    store.datadir.config_path.write_text("[watch]\ngood_at = 10\nwarning_at = 25\ncritical_at = 50\n")
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", 60_000))  # 30%
    out = await call(client, "context_load", {"task": "demo"})
    assert out["context"]["band"] == "warning"


async def test_metrics_report_names_the_band_of_each_load(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    for used in (10_000, 70_000, 130_000):  # what each load starts from: optimal, good, critical
        await call(client, "context_load", {"task": "demo", "used_tokens": used, "budget_tokens": 10})
    report = await call(client, "metrics_report", {"period": "day"})
    assert sum(report["context_bands"].values()) == 3 and report["context_bands"].get("critical") == 1
    assert "context_now" not in report  # no hook recorded a client session
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "median band" in text


def test_the_session_start_hook_names_the_band(project: Path, tmp_path: Path) -> None:
    from .test_hooks_events import Hooks, cli

    home = tmp_path / "home"
    home.mkdir()
    assert cli("init", "--project", str(project), cwd=project, home=home).returncode == 0
    hooks = Hooks(project, home, "claude-code")
    write_transcript(hooks.transcript, 100_000)  # a resumed conversation at 50%
    answer, _ = hooks.run("SessionStart", source="resume")
    assert answer is not None
    text = answer["hookSpecificOutput"]["additionalContext"]
    assert "context 50% of 200k (warning)" in text and "fresh session" in text


async def test_thresholds_from_pyproject_when_there_is_no_config_toml(
    client: Client, store: Store, clock: Clock, tmp_path: Path
) -> None:
    assert not store.datadir.config_path.exists()
    (store.datadir.root / "pyproject.toml").write_text(
        "[tool.factorops.watch]\ngood_at = 10\nwarning_at = 25\ncritical_at = 50\n"
    )
    hook_saw(store, clock, write_transcript(tmp_path / "t.jsonl", 60_000))  # 30%
    out = await call(client, "context_load", {"task": "demo"})
    assert out["context"]["band"] == "warning"
