"""`factorops hooks install|uninstall|status` through the CLI: merged into settings that hold other
tools' hooks and the person's permissions, idempotent, backed up, removing only ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

THEIRS_CLAUDE = {
    "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./.env)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "/opt/lint-hook.sh"}]}],
        "Notification": [{"hooks": [{"type": "command", "command": "notify-send claude"}]}],
    },
    "model": "opus",
}
THEIRS_CURSOR = {"version": 1, "hooks": {"afterFileEdit": [{"command": "./format.sh"}]}}


def cli(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTOROPS_")}
    env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "factorops", "hooks", *args, "--project", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
    )


def test_claude_code_install_keeps_theirs_is_idempotent_and_uninstalls_only_ours(
    project: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    original = json.dumps(THEIRS_CLAUDE, indent=4) + "\n"
    settings.write_text(original)

    r = cli(project, home, "install", "--client", "claude-code")
    assert r.returncode == 0, r.stderr
    assert "installed" in r.stdout
    data = json.loads(settings.read_text())
    assert data["permissions"] == THEIRS_CLAUDE["permissions"] and data["model"] == "opus"
    assert data["hooks"]["Notification"] == THEIRS_CLAUDE["hooks"]["Notification"]
    pre = data["hooks"]["PreToolUse"]
    assert pre[0] == THEIRS_CLAUDE["hooks"]["PreToolUse"][0]
    assert pre[1]["matcher"].startswith("Bash|") and pre[1]["hooks"][0]["command"].endswith(
        " hook claude-code"
    )
    assert (project / ".claude" / "settings.json.factorops-backup").read_text() == original

    installed = settings.read_bytes()
    again = cli(project, home, "install", "--client", "claude-code")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert settings.read_bytes() == installed

    status = cli(project, home, "status", "--client", "claude-code")
    assert "PreToolUse" in status.stdout and "runs: " in status.stdout

    r = cli(project, home, "uninstall", "--client", "claude-code")
    assert r.returncode == 0 and "removed" in r.stdout
    assert json.loads(settings.read_text()) == THEIRS_CLAUDE
    assert "nothing changed" in cli(project, home, "uninstall", "--client", "claude-code").stdout


def test_local_and_user_scopes_write_their_own_files(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert cli(project, home, "install", "--client", "claude-code", "--scope", "local").returncode == 0
    assert (project / ".claude" / "settings.local.json").is_file()
    assert not (project / ".claude" / "settings.json").exists()
    assert cli(project, home, "install", "--client", "claude-code", "--scope", "user").returncode == 0
    assert "SessionStart" in json.loads((home / ".claude" / "settings.json").read_text())["hooks"]


def test_cursor_install_merges_version_1_and_uninstalls_only_ours(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    hooks = project / ".cursor" / "hooks.json"
    hooks.parent.mkdir()
    hooks.write_text(json.dumps(THEIRS_CURSOR))
    assert cli(project, home, "install", "--client", "cursor").returncode == 0
    data = json.loads(hooks.read_text())
    assert data["version"] == 1
    assert data["hooks"]["afterFileEdit"][0] == {"command": "./format.sh"}
    assert set(data["hooks"]) == {"afterFileEdit", "beforeShellExecution", "beforeMCPExecution", "stop"}
    before = hooks.read_bytes()
    assert cli(project, home, "install", "--client", "cursor").returncode == 0
    assert hooks.read_bytes() == before
    assert cli(project, home, "uninstall", "--client", "cursor").returncode == 0
    assert json.loads(hooks.read_text()) == THEIRS_CURSOR


def test_a_broken_settings_file_is_refused_and_left_alone(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text("{ not json")
    r = cli(project, home, "install", "--client", "claude-code")
    assert r.returncode == 2 and "settings.json is not valid JSON" in r.stderr
    assert settings.read_text() == "{ not json"
    cursor = project / ".cursor" / "hooks.json"
    cursor.parent.mkdir()
    cursor.write_text('{"version": 2, "hooks": {}}')
    r = cli(project, home, "install", "--client", "cursor")
    assert r.returncode == 2 and "version 2" in r.stderr
