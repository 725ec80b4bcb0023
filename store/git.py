"""The one way factorops runs git commands: the ledger, sync, the project's files and mining.

Every call gets the same environment rules: git never prompts (a remote asking for a password
fails instead of hanging on a terminal nobody sees), ssh runs in batch mode, and the caller's
extra variables (the ledger's commit identity) come last. Errors stay the caller's to word: this
returns the finished process and raises only for a missing git or a timeout.

The ledger also keeps a GitPython `Repo` for one thing a one-shot runner does badly: reading many
objects through one long-lived `git cat-file --batch` process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}
LEDGER_IDENTITY = {
    "GIT_AUTHOR_NAME": "factorops",
    "GIT_AUTHOR_EMAIL": "factorops@localhost",
    "GIT_COMMITTER_NAME": "factorops",
    "GIT_COMMITTER_EMAIL": "factorops@localhost",
}
# For repositories whose content we do not control (a fetched ledger): no hooks, no signing.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **NO_PROMPT, **(extra or {})}


def run(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS` in `cwd` and return the finished process (stdout and stderr as bytes)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, env=environment(env), capture_output=True, timeout=timeout, input=input
    )


def run_text(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`run` with text output (undecodable bytes replaced: commit messages are not always UTF-8)."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=environment(env),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        input=input,
    )


def popen(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `git ARGS` with stdout piped as text, for output too large to hold (a long history)."""
    return subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        env=environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        errors="replace",
    )
