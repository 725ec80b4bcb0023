"""The watch's domain in-process, on the test's settable clock: bands from transcripts, the spiral
detector's time window, the breaker opening and half-opening, the person's commands, settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factorops.store.store import Store
from factorops.tools.watch import bands, before, commands, records, settings, spiral, transcript_usage
from factorops.tools.watch import queries as watch_queries

from .conftest import Clock


def transcript(path: Path, used: int, model: str = "claude-opus-4-1") -> Path:
    msg = {
        "type": "assistant",
        "message": {
            "model": model,
            "usage": {
                "input_tokens": 3,
                "cache_creation_input_tokens": used // 2,
                "cache_read_input_tokens": used - 3 - used // 2,
                "output_tokens": 50,
            },
        },
    }
    side = {**msg, "isSidechain": True, "message": {**msg["message"], "usage": {"input_tokens": 1}}}
    path.write_text(json.dumps(msg) + "\n" + json.dumps(side) + "\n" + '{"type": "assistant", "mess')
    return path


@pytest.mark.parametrize(("pct", "band"), [(10, "optimal"), (30, "good"), (50, "warning"), (65, "critical")])
def test_transcript_at_each_band(tmp_path: Path, pct: int, band: str) -> None:
    usage = transcript_usage.measure(transcript(tmp_path / "t.jsonl", pct * 2000))
    assert usage is not None and usage.used == pct * 2000 and usage.window == 200_000
    b = bands.classify(usage.used, usage.window)
    assert b.name == band
    assert ("checkpoint" in b.advice) == (pct >= 40)


def test_soft_warning_at_35_percent() -> None:
    assert bands.classify(70_000, 200_000).soft_warning
    assert not bands.classify(68_000, 200_000).soft_warning


def test_one_million_window_when_the_model_says_so(tmp_path: Path) -> None:
    u = transcript_usage.measure(transcript(tmp_path / "t.jsonl", 300_000, "claude-sonnet-4-5[1m]"))
    assert u is not None and u.window == 1_000_000
    assert transcript_usage.window_for("claude-sonnet-4-5-20250929") == 200_000


def test_no_usage_yet_and_unreadable_transcripts_measure_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text('{"type": "user", "message": {"content": "hi"}}\n')
    assert transcript_usage.measure(tmp_path / "empty.jsonl") is None
    assert transcript_usage.measure(tmp_path / "missing.jsonl") is None


def test_the_breaker_opens_refuses_then_half_opens_for_one_try(store: Store, clock: Clock) -> None:
    cmd = "npm   test"
    for _ in range(4):
        spiral.record_run(store, "s1", cmd, False, clock())
        clock.advance(seconds=1)
    assert spiral.gate(store, cmd, clock()).allowed
    out = spiral.record_run(store, "s1", cmd, False, clock())
    assert out.breaker == "open" and [e.kind for e in out.events][-1] == "breaker_open"
    refused = spiral.gate(store, "npm test", clock())
    assert not refused.allowed and "circuit breaker open for `npm test`" in refused.reason
    clock.advance(seconds=299)
    assert not spiral.gate(store, cmd, clock()).allowed
    clock.advance(seconds=2)
    trial = spiral.gate(store, cmd, clock())
    assert trial.allowed and "half-open" in trial.reason
    assert not spiral.gate(store, cmd, clock()).allowed  # only one try while it runs
    again = spiral.record_run(store, "s1", cmd, False, clock())  # the try failed: open again
    assert again.breaker == "open"
    assert not spiral.gate(store, cmd, clock()).allowed
    clock.advance(seconds=301)
    assert spiral.gate(store, cmd, clock()).allowed
    closed = spiral.record_run(store, "s1", cmd, True, clock())
    assert [e.kind for e in closed.events] == ["breaker_closed"]
    assert spiral.breaker_state(store, cmd) == "closed"
    assert spiral.gate(store, cmd, clock()).allowed
    records.log_events(store, [*out.events, *again.events, *closed.events])
    c = watch_queries.counts(store, "")
    assert c.breakers_opened == 2 and c.breakers_open_now == 0 and c.failed_runs == 6


def test_five_similar_failures_within_ten_minutes_are_a_spiral(store: Store, clock: Clock) -> None:
    for i in range(4):
        out = spiral.record_run(store, "s1", f"pytest tests/test_{i}.py", False, clock())
        assert out.spiral is None
        clock.advance(minutes=2)
    out = spiral.record_run(store, "s1", "pytest tests/test_9.py -x", False, clock())
    assert out.spiral == "5 failures of `pytest` commands within 10 minutes"
    clock.advance(minutes=30)
    assert spiral.record_run(store, "s1", "pytest tests/test_10.py", False, clock()).spiral is None


def test_other_sessions_failures_are_not_this_sessions_spiral(store: Store, clock: Clock) -> None:
    spiral.record_run(store, "a", "make", False, clock())
    spiral.record_run(store, "b", "make", False, clock())
    assert spiral.record_run(store, "a", "make", False, clock()).spiral is None


@pytest.mark.parametrize(
    "command",
    [
        "factorops approve apr-1",
        "factorops --project . deny apr-1",
        "cd x && factorops patterns promote pat-1",
        "python3 -m factorops patterns retire pat-1 --project /p",
        "bash -c 'factorops token rotate'",
        "FOO=1 factorops token",
    ],
)
def test_person_only_commands_are_recognised(command: str) -> None:
    assert commands.person_only(command) is not None


@pytest.mark.parametrize(
    "command",
    [
        "factorops approvals",
        "factorops patterns list",
        "echo factorops approve",
        "git commit -m 'factorops deny'",
    ],
)
def test_other_commands_are_not_person_only(command: str) -> None:
    assert commands.person_only(command) is None


def test_the_persons_commands_are_denied_before_any_store(clock: Clock) -> None:
    v = before.before(None, clock(), command="factorops approve apr-1")
    assert v.effect == "deny" and "person's decision" in v.reason


def test_normalise_ignores_spacing_quoting_and_env() -> None:
    assert commands.normalise("A=1  git   push 'origin'") == commands.normalise('git push "origin"')
    assert commands.family("python3 -m pytest -q tests/a.py") == "python -m pytest"
    assert commands.family("git push --force") == "git push"


def test_settings_from_the_watch_table(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[watch]\nspiral_repeats = 4\nbreaker_cooldown_s = 60\ntypo = 1\ngood_at = 'x'\n")
    s = settings.load(cfg)
    assert s.spiral_repeats == 4 and s.breaker_cooldown_s == 60.0 and s.good_at == 20.0
    assert settings.load(tmp_path / "none.toml") == settings.DEFAULTS
