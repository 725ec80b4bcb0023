"""Every hook event, through the installed command exactly as `factorops hooks install` wrote it.

The command is read back from the client's settings file and run the way the client runs it: a
shell command with the event JSON on stdin (fixtures in tests/fixtures/hooks/, shaped after the
clients' published types). Records are made on the real clock by the child; nothing here depends
on it (the time-dependent breaker transitions are tested in-process in test_hooks_watch.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"


def cli(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTOROPS_")}
    env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_transcript(path: Path, used: int, model: str = "claude-sonnet-4-5-20250929") -> None:
    """A Claude Code transcript whose latest assistant turn held `used` tokens of context."""
    lines = [
        {
            "type": "user",
            "sessionId": "s",
            "message": {"role": "user", "content": "Fix the parser bug in src/app.py"},
        },
        {
            "type": "assistant",
            "sessionId": "s",
            "message": {
                "role": "assistant",
                "model": model,
                "content": [
                    {"type": "text", "text": "Looking at it."},
                    {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "pytest -q"}},
                    {"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "src/app.py"}},
                ],
                "usage": {
                    "input_tokens": 10,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 5,
                    "output_tokens": 9,
                },
            },
        },
        {
            "type": "assistant",
            "sessionId": "s",
            "message": {
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "The parser handles empty input now."}],
                "usage": {
                    "input_tokens": used // 4,
                    "cache_creation_input_tokens": used // 4,
                    "cache_read_input_tokens": used - 2 * (used // 4),
                    "output_tokens": 300,
                },
            },
        },
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


class Hooks:
    """A project with factorops data and the hooks installed for one client."""

    def __init__(self, project: Path, home: Path, client: str) -> None:
        self.project, self.home, self.client = project, home, client
        self.transcript = project.parent / "transcript.jsonl"
        r = cli("hooks", "install", "--client", client, "--project", str(project), cwd=project, home=home)
        assert r.returncode == 0, r.stderr
        settings = project / (".claude/settings.json" if client == "claude-code" else ".cursor/hooks.json")
        data = json.loads(settings.read_text())
        if client == "claude-code":
            self.commands = {e: g[0]["hooks"][0]["command"] for e, g in data["hooks"].items()}
        else:
            self.commands = {e: g[0]["command"] for e, g in data["hooks"].items()}

    def event(self, fixture: str, **override: Any) -> dict[str, Any]:
        text = (FIXTURES / f"{self.client}.{fixture}.json").read_text()
        text = text.replace("{cwd}", str(self.project)).replace("{transcript}", str(self.transcript))
        return {**json.loads(text), **override}

    def run(
        self, fixture: str, *, raw: str | None = None, **override: Any
    ) -> tuple[dict[str, Any] | None, str]:
        ev = self.event(fixture, **override)
        name = ev["hook_event_name"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACTOROPS_")}
        env["HOME"] = str(self.home)
        proc = subprocess.run(
            self.commands[name],
            shell=True,
            input=json.dumps(ev) if raw is None else raw,
            capture_output=True,
            text=True,
            cwd=self.project,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return (json.loads(proc.stdout) if proc.stdout.strip() else None), proc.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def claude(project: Path, home: Path) -> Hooks:
    r = cli("init", "--project", str(project), cwd=project, home=home)  # with the starter guardrails
    assert r.returncode == 0, r.stderr
    return Hooks(project, home, "claude-code")


@pytest.fixture
def cursor(project: Path, home: Path) -> Hooks:
    r = cli("init", "--project", str(project), cwd=project, home=home)
    assert r.returncode == 0, r.stderr
    return Hooks(project, home, "cursor")


def test_installed_command_is_one_entry_point(claude: Hooks) -> None:
    assert set(claude.commands) == {
        "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
        "PreCompact", "Stop", "SessionEnd",
    }  # fmt: skip
    assert len(set(claude.commands.values())) == 1
    assert next(iter(claude.commands.values())).endswith(" hook claude-code")


def test_pre_tool_use_denies_a_force_push_with_the_reason(claude: Hooks) -> None:
    answer, _ = claude.run("PreToolUse.force_push")
    assert answer is not None
    out = answer["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == "deny"
    assert "force-push" in out["permissionDecisionReason"].lower()


def test_pre_tool_use_denies_the_persons_commands(claude: Hooks) -> None:
    answer, _ = claude.run("PreToolUse.person_only")
    assert answer is not None
    out = answer["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny"
    assert "factorops approve" in out["permissionDecisionReason"]


@pytest.mark.parametrize("fixture", ["PreToolUse.harmless", "PreToolUse.write", "PreToolUse.mcp"])
def test_pre_tool_use_never_answers_allow(claude: Hooks, fixture: str) -> None:
    answer, err = claude.run(fixture)
    assert err == ""
    assert answer is None or "permissionDecision" not in answer.get("hookSpecificOutput", {})


def test_three_failures_in_a_row_are_a_spiral_and_five_open_the_breaker(claude: Hooks) -> None:
    answers = [claude.run("PostToolUseFailure.pytest")[0] for _ in range(3)]
    assert answers[0] is None and answers[1] is None
    third = answers[2]
    assert third is not None
    ctx = third["hookSpecificOutput"]
    assert ctx["hookEventName"] == "PostToolUseFailure"
    assert "Debug spiral" in ctx["additionalContext"] and "3 times in a row" in ctx["additionalContext"]
    assert "checkpoint" in ctx["additionalContext"]
    # still allowed before the breaker opens
    answer, _ = claude.run("PreToolUse.pytest")
    assert answer is None
    claude.run("PostToolUseFailure.pytest")
    fifth, _ = claude.run("PostToolUseFailure.pytest")
    assert fifth is not None and "circuit breaker" in fifth["hookSpecificOutput"]["additionalContext"]
    denied, _ = claude.run("PreToolUse.pytest")
    assert denied is not None
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "circuit breaker open" in denied["hookSpecificOutput"]["permissionDecisionReason"]
    # the spiral and the breaker are in the ledger
    with Store.open(DataDir.for_project(claude.project), components()) as store:
        kinds = [r[0] for r in store.db.execute("SELECT kind FROM watch_events ORDER BY at").fetchall()]
        assert kinds.count("spiral") == 1 and kinds.count("breaker_open") == 1
        store.rebuild()
        assert store.db.execute("SELECT COUNT(*) FROM watch_events").fetchone()[0] == len(kinds)


def test_a_success_resets_the_count(claude: Hooks) -> None:
    claude.run("PostToolUseFailure.pytest")
    claude.run("PostToolUseFailure.pytest")
    claude.run("PostToolUse.bash_ok")
    answer, _ = claude.run("PostToolUseFailure.pytest")
    assert answer is None


@pytest.mark.parametrize(
    ("percent", "band"), [(10, "optimal"), (30, "good"), (50, "warning"), (65, "critical")]
)
def test_each_prompt_reports_the_context_band(claude: Hooks, percent: int, band: str) -> None:
    write_transcript(claude.transcript, percent * 2000)
    answer, _ = claude.run("UserPromptSubmit")
    assert answer is not None
    text = answer["hookSpecificOutput"]["additionalContext"]
    assert f"context {percent}% of 200k ({band})" in text
    assert ("start a fresh session" in text) == (percent >= 40)


def test_session_start_briefs_the_last_unfinished_session_fenced(claude: Hooks) -> None:
    with Store.open(DataDir.for_project(claude.project), components()) as store:
        now = datetime.now(UTC)
        sid = sessions.start(store, sessions.SessionStartInput(goal="Fix the parser bug"), now).session_id
        sessions.checkpoint(
            store,
            sessions.CheckpointInput(
                session_id=sid, summary="Parser fails on empty input", next_steps=["add a test for ''"]
            ),
            now,
        )
    answer, _ = claude.run("SessionStart")
    assert answer is not None
    text = answer["hookSpecificOutput"]["additionalContext"]
    assert answer["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert "reference data" in text and "not instructions" in text
    assert "Fix the parser bug" in text and "add a test for ''" in text and sid in text
    from factorops.tools.kernel.tokens import count_tokens

    assert count_tokens(text) <= 1500


def test_session_start_with_nothing_to_brief_says_nothing(claude: Hooks) -> None:
    answer, err = claude.run("SessionStart")
    assert answer is None and err == ""


def test_pre_compact_saves_a_checkpoint_from_the_transcript(claude: Hooks) -> None:
    write_transcript(claude.transcript, 130_000)
    answer, _ = claude.run("PreCompact")
    assert answer is not None and "saved checkpoint ckp-" in answer["systemMessage"]
    with Store.open(DataDir.for_project(claude.project), components()) as store:
        state = sessions.resume(store, sessions.SessionResumeInput(), datetime.now(UTC))
    assert state.goal == "Fix the parser bug in src/app.py"
    assert state.files_touched == ["src/app.py"]
    assert state.summary is not None and "pytest -q" in state.summary
    assert "handles empty input now" in state.summary


def test_stop_after_an_unvalidated_edit_says_so_once(claude: Hooks) -> None:
    assert claude.run("Stop")[0] is None  # no edit yet
    claude.run("PostToolUse.edit")
    answer, _ = claude.run("Stop")
    assert answer is not None and answer["decision"] == "block"
    assert "no validation ran since your last edit" in answer["reason"]
    assert claude.run("Stop")[0] is None  # once per edit: no loop
    assert claude.run("Stop", stop_hook_active=True)[0] is None


def test_session_end_is_quiet(claude: Hooks) -> None:
    answer, err = claude.run("SessionEnd")
    assert answer is None and err == ""


@pytest.mark.parametrize("raw", ["", "   \n", "{not json", "[1, 2]", '{"hook_event_name": "Nope"}'])
def test_a_malformed_or_empty_event_exits_0_with_a_message(claude: Hooks, raw: str) -> None:
    answer, err = claude.run("PreToolUse.harmless", raw=raw)
    assert answer is None
    assert err.startswith("factorops hook claude-code: ") and "nothing checked" in err


def test_a_project_without_factorops_data_still_denies_the_persons_commands(
    project: Path, home: Path
) -> None:
    hooks = Hooks(project, home, "claude-code")
    answer, _ = hooks.run("PreToolUse.person_only")
    assert answer is not None and answer["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert hooks.run("PreToolUse.force_push")[0] is None  # no guardrails here: nothing to enforce
    start, _ = hooks.run("SessionStart")
    assert start is not None and "factorops init" in start["systemMessage"]


# -- Cursor ----------------------------------------------------------------------------------------


def test_cursor_denies_a_force_push(cursor: Hooks) -> None:
    answer, _ = cursor.run("beforeShellExecution.force_push")
    assert answer is not None and answer["permission"] == "deny"
    assert "force-push" in answer["agentMessage"].lower() and answer["userMessage"].startswith(
        "factorops refused"
    )


def test_cursor_denies_the_persons_commands_and_never_allows(cursor: Hooks) -> None:
    answer, _ = cursor.run("beforeShellExecution.person_only")
    assert answer is not None and answer["permission"] == "deny"
    assert "patterns promote" in answer["agentMessage"]
    mcp, _ = cursor.run("beforeMCPExecution")
    assert mcp == {}
    ok, _ = cursor.run("beforeShellExecution.force_push", command="ls")
    assert ok == {}


def test_cursor_stop_after_an_edit_asks_for_validation_once(cursor: Hooks) -> None:
    assert cursor.run("afterFileEdit")[0] == {}
    answer, _ = cursor.run("stop")
    assert answer is not None and "no validation ran" in answer["followup_message"]
    assert cursor.run("stop")[0] == {}
