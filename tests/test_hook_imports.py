"""Issue #16 cost: `factorops hook` runs before every tool call as a fresh process, so it must not
import the MCP SDK, pydantic or the CLI's command modules. The real command is run in a subprocess
with FACTOROPS_DEBUG_MODULES=1, which makes it list `sys.modules` on stderr when it is done (no
timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_hook(root: Path, command: str) -> tuple[dict[str, object], set[str]]:
    event = {
        "session_id": "imports",
        "transcript_path": str(root / "transcript.jsonl"),
        "cwd": str(root),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "x"},
        "tool_use_id": "toolu_imports",
    }
    env = {**os.environ, "FACTOROPS_DEBUG_MODULES": "1"}
    env.pop("FACTOROPS_PROJECT", None)
    env.pop("FACTOROPS_DATA_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "factorops", "hook", "claude-code"],
        input=json.dumps(event).encode(),
        capture_output=True,
        cwd=root,
        env=env,
        check=True,
    )
    line = next(x for x in proc.stderr.decode().splitlines() if x.startswith("factorops hook modules: "))
    modules = set(line.split(": ", 1)[1].split())
    return (json.loads(proc.stdout) if proc.stdout.strip() else {}), modules


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hookimports") / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(
        [sys.executable, "-m", "factorops", "init", "--project", str(root)], check=True, capture_output=True
    )
    run_hook(root, "ls")  # the first hook may migrate the store (a full open); measure the next ones
    return root


def heavy(modules: set[str]) -> list[str]:
    bad_roots = ("pydantic", "pydantic_core", "mcp", "sqlite_utils", "starlette", "uvicorn")
    return sorted(
        m
        for m in modules
        if m.split(".")[0] in bad_roots
        or (
            m.startswith("factorops.server.cli.")
            and m not in ("factorops.server.cli.main", "factorops.server.cli.base")
        )
        or m.startswith("factorops.server.mcp")
    )


def test_force_push_denied_without_pydantic_mcp_or_cli_commands(project: Path) -> None:
    answer, modules = run_hook(project, "git push --force origin main")
    out = answer["hookSpecificOutput"]
    assert isinstance(out, dict) and out["permissionDecision"] == "deny", answer
    assert "factorops.tools.guardrails.match" in modules  # the guardrails really ran
    assert heavy(modules) == []


def test_allowed_command_without_pydantic_mcp_or_cli_commands(project: Path) -> None:
    answer, modules = run_hook(project, "ls -la")
    assert "permissionDecision" not in json.dumps(answer)
    assert "factorops.tools.guardrails.match" in modules
    assert heavy(modules) == []
