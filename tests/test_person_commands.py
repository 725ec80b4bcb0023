"""The person's own `factorops` commands (approve, deny, patterns promote|retire, token) are one
definition (tools/guardrails/checks.person_only): the `person-only-commands` starter rule behind the
MCP `guardrail_check` and the client hook (`factorops hook claude-code`) deny the same spellings and
let the same look-alikes through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

from .conftest import Clock

PERSON_ONLY = [
    "factorops approve apr-1",
    "python -m factorops approve apr-1",
    "python3 -X utf8 -u -m factorops approve apr-1",
    "/path/.venv/bin/factorops deny apr-1",
    "factorops patterns promote pat-1",
    "factorops patterns --proj . retire pat-1",
    "factorops token",
    "factorops token list",
    "sh -c 'factorops approve apr-1'",
    "cd /tmp && factorops approve apr-1",
    "python -m factorops.server.cli deny apr-1",
    "factorops.exe approve apr-1",
    "uvx --from factorops factorops approve apr-1",
    "uv run factorops patterns promote pat-1",
    "timeout 5 factorops deny apr-1",
    "F=factorops; $F approve apr-1",
    "factorops $WHAT apr-1",
    # docs/authority.md: installing starters and importing over active rules are a person's too.
    "factorops starter install",
    "factorops starter uninstall",
    "factorops bundle import --replace-active team.tgz",
    "factorops bundle import --replace team.tgz",
]
# Listing approvals (`factorops approvals`) is how a person and an assistant see what waits: allowed.
LOOK_ALIKES = [
    "echo factorops approve",
    "factorops approvals",
    "factorops approvals --project .",
    "factorops patterns list",
    "factorops patterns search token",
    "git commit -m 'factorops deny'",
    "grep -r 'factorops approve' docs/",
    "python3 -c 'import factorops'",
    "uv pip install factorops",
    "factorops starter install --dry-run",
    "factorops bundle import team.tgz",
]


@pytest.fixture
async def guarded(project: Path, clock: Clock) -> AsyncIterator[Client]:
    """An MCP client on a project with the starter guardrails, as a server's first use leaves it."""
    rt = Runtime(project=project, clock=clock, use_roots=False, starters=True)
    try:
        async with Client(build_app(rt)) as c:
            yield c
    finally:
        rt.close()


async def mcp_decision(c: Client, command: str) -> str:
    r = await c.call_tool("guardrail_check", {"command": command})
    assert not r.is_error, r.content
    out = r.structured_content or {}
    person = [
        m
        for m in out.get("matches", [])
        if m.get("id") == "person-only-commands" or "person" in m.get("title", "").lower()
    ]
    return "deny" if out.get("decision") == "block" and person else "allow"


def hook_decision(project: Path, home: Path, command: str) -> str:
    """The Claude Code PreToolUse hook, run as the client runs it, in a project without factorops
    data (so only the person-only rule of the hook itself can deny)."""
    event = {
        "session_id": "s-1",
        "transcript_path": str(project.parent / "none.jsonl"),
        "cwd": str(project),
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_use_id": "toolu_1",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTOROPS_")}
    env["HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-m", "factorops", "hook", "claude-code"],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout) if proc.stdout.strip() else {}
    out = answer.get("hookSpecificOutput", {})
    if out.get("permissionDecision") == "deny":
        assert "person's decision" in out["permissionDecisionReason"], out
        return "deny"
    return "allow"


async def test_guardrail_check_and_the_hook_deny_the_same_person_only_spellings(
    guarded: Client, project: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    hook_project = tmp_path / "bare"
    hook_project.mkdir()
    got = {
        command: (await mcp_decision(guarded, command), hook_decision(hook_project, home, command))
        for command in PERSON_ONLY + LOOK_ALIKES
    }
    want = {c: ("deny", "deny") for c in PERSON_ONLY} | {c: ("allow", "allow") for c in LOOK_ALIKES}
    assert got == want
