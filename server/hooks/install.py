"""`factorops hooks install|uninstall|status`: our entries in the clients' hook settings, merged.

Claude Code reads hooks from `settings.json` files (`{"hooks": {EVENT: [{"matcher": ..., "hooks":
[{"type": "command", "command": ..., "timeout": ...}]}]}}`); Cursor from `hooks.json` (`{"version":
1, "hooks": {EVENT: [{"command": ...}]}}`). Such files hold the person's own settings and other
tools' hooks, so the installer:

- changes only our entries: a hook whose command runs `factorops hook <client>`;
- is idempotent: a second install writes nothing (the file's bytes stay the same);
- copies the file to `<name>.factorops-backup` before it changes an existing file;
- writes through a temporary file and a rename, so a crash never leaves half a settings file;
- refuses a file that is not a JSON object (or a Cursor file of another version), naming it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Client = Literal["claude-code", "cursor"]
Scope = Literal["project", "local", "user"]
BACKUP_SUFFIX = ".factorops-backup"

_TOOL_MATCH = "Bash|Edit|Write|MultiEdit|NotebookEdit"
# Claude Code: event -> (matcher or None, timeout in seconds)
CLAUDE_EVENTS: dict[str, tuple[str | None, int]] = {
    "SessionStart": (None, 30),
    "UserPromptSubmit": (None, 10),
    "PreToolUse": (f"{_TOOL_MATCH}|mcp__.*", 10),
    "PostToolUse": (_TOOL_MATCH, 10),
    "PostToolUseFailure": ("Bash", 10),
    "PreCompact": (None, 60),
    "Stop": (None, 10),
    "SessionEnd": (None, 10),
}
CURSOR_EVENTS = ("beforeShellExecution", "beforeMCPExecution", "afterFileEdit", "stop")


class InstallError(Exception):
    """A settings file we must not touch; the message names it and says why."""


def hook_command(executable: str, client: Client) -> str:
    """Exactly the command the installer writes, which the client runs through a shell."""
    return f"{shlex.quote(executable)} hook {client}"


def _ours(command: object, client: Client) -> bool:
    return (
        isinstance(command, str) and re.search(rf"factorops['\"]?\s+hook\s+{client}\b", command) is not None
    )


def settings_path(client: Client, scope: Scope, project: Path, home: Path | None = None) -> Path:
    home = home or Path.home()
    if client == "claude-code":
        if scope == "user":
            return home / ".claude" / "settings.json"
        return project / ".claude" / ("settings.local.json" if scope == "local" else "settings.json")
    if scope == "local":
        raise InstallError("Cursor has no local scope: use --scope project (.cursor/hooks.json) or user")
    return (home if scope == "user" else project) / ".cursor" / "hooks.json"


def _load(path: Path, client: Client) -> tuple[dict[str, Any], bytes | None]:
    if not path.exists():
        return ({"version": 1} if client == "cursor" else {}), None
    raw = path.read_bytes()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise InstallError(f"{path} is not valid JSON ({exc}); fix or move it, then install again") from None
    if not isinstance(data, dict):
        raise InstallError(f"{path} must hold a JSON object; fix or move it, then install again")
    if client == "cursor" and data.setdefault("version", 1) != 1:
        raise InstallError(f"{path} has version {data['version']!r}; factorops writes version 1 hooks only")
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict) or any(not isinstance(v, list) for v in hooks.values()):
        raise InstallError(f'{path}: "hooks" must map event names to lists; fix it, then install again')
    return data, raw


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def _strip(hooks: dict[str, list[Any]], client: Client) -> dict[str, list[Any]]:
    """`hooks` without our entries; groups and events left empty by that removal are dropped."""
    out: dict[str, list[Any]] = {}
    for event, entries in hooks.items():
        kept: list[Any] = []
        for entry in entries:
            if client == "cursor":
                if not (isinstance(entry, dict) and _ours(entry.get("command"), client)):
                    kept.append(entry)
                continue
            inner = entry.get("hooks") if isinstance(entry, dict) else None
            if not isinstance(inner, list):
                kept.append(entry)
                continue
            rest = [h for h in inner if not (isinstance(h, dict) and _ours(h.get("command"), client))]
            if len(rest) == len(inner):
                kept.append(entry)
            elif rest:
                kept.append({**entry, "hooks": rest})
        if kept or not entries:
            out[event] = kept
    return out


def _our_entries(client: Client, command: str) -> dict[str, dict[str, Any]]:
    if client == "cursor":
        return {e: {"command": command} for e in CURSOR_EVENTS}
    out = {}
    for event, (matcher, timeout) in CLAUDE_EVENTS.items():
        group: dict[str, Any] = {"matcher": matcher} if matcher else {}
        group["hooks"] = [{"type": "command", "command": command, "timeout": timeout}]
        out[event] = group
    return out


def _write(path: Path, data: bytes, old: bytes | None) -> Path | None:
    """Replace `path` atomically; back up the old bytes first. Returns the backup's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if old is not None:
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        backup.write_bytes(old)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup


@dataclass
class Change:
    path: Path
    changed: bool
    backup: Path | None = None
    events: list[str] = field(default_factory=list)


def install(client: Client, path: Path, command: str) -> Change:
    data, raw = _load(path, client)
    hooks: dict[str, list[Any]] = data.get("hooks", {})
    wanted = _our_entries(client, command)
    new_hooks: dict[str, list[Any]] = {}
    stripped = _strip(hooks, client)
    for event in [*hooks, *[e for e in wanted if e not in hooks]]:
        current = hooks.get(event, [])
        others = stripped.get(event, [])
        if event not in wanted:
            if event in stripped:
                new_hooks[event] = others
        elif current.count(wanted[event]) == 1 and [e for e in current if e != wanted[event]] == others:
            new_hooks[event] = current  # exactly our entry is there already: leave it where it is
        else:
            new_hooks[event] = [*others, wanted[event]]
    data["hooks"] = new_hooks
    new = _dump(data)
    if raw is not None and json.loads(raw) == data:
        return Change(path, False, events=list(wanted))
    return Change(path, True, _write(path, new, raw), list(wanted))


def uninstall(client: Client, path: Path) -> Change:
    if not path.exists():
        return Change(path, False)
    data, raw = _load(path, client)
    hooks = data.get("hooks", {})
    stripped = _strip(hooks, client)
    removed = [e for e in hooks if stripped.get(e) != hooks[e]]
    if not removed:
        return Change(path, False)
    if stripped:
        data["hooks"] = stripped
    else:
        data.pop("hooks", None)
    return Change(path, True, _write(path, _dump(data), raw), removed)


@dataclass
class Status:
    path: Path
    events: list[str]  # events with our entry
    missing: list[str]  # events we install that are not there
    commands: list[str]
    runs: str | None = None  # None: not checked (nothing installed); else "ok" or what went wrong


def status(client: Client, path: Path, check: bool = True) -> Status:
    data, _ = _load(path, client)
    hooks = data.get("hooks", {})
    events, commands = [], []
    for event, entries in hooks.items():
        for entry in entries:
            inner = (
                [entry] if client == "cursor" else (entry.get("hooks") if isinstance(entry, dict) else None)
            )
            for h in inner if isinstance(inner, list) else []:
                if isinstance(h, dict) and _ours(h.get("command"), client):
                    events.append(event)
                    commands.append(h["command"])
    wanted = list(_our_entries(client, ""))
    st = Status(path, events, [e for e in wanted if e not in events], sorted(set(commands)))
    if check and st.commands:
        st.runs = probe(client, st.commands[0], path.parent.parent)
    return st


def probe(client: Client, command: str, cwd: Path) -> str:
    """Run the installed command on a harmless event, as the client would (through a shell)."""
    event: dict[str, Any] = (
        {
            "hook_event_name": "PreToolUse",
            "tool_name": "Read",
            "tool_input": {},
            "session_id": "status",
            "transcript_path": "",
            "cwd": str(cwd),
            "tool_use_id": "status",
        }
        if client == "claude-code"
        else {"hook_event_name": "afterFileEdit", "conversation_id": "status", "workspace_roots": [str(cwd)]}
    )
    try:
        proc = subprocess.run(
            command, shell=True, input=json.dumps(event), capture_output=True, text=True, timeout=60, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"does not run: {exc}"
    if proc.returncode != 0:
        return f"exits {proc.returncode}: {proc.stderr.strip()[:300]}"
    if proc.stderr.strip():
        return f"runs, but says: {proc.stderr.strip()[:300]}"
    return "ok"
