"""Telling a person that an approval has waited too long: the configured notify command.

`[approvals] notify` in the settings is an argv list, run without a shell (a desktop notification,
a script posting to a chat webhook). It gets the request in its environment
(`FACTOROPS_APPROVAL_ID`, `_SUMMARY`, `_LINK`, `_RISK`, `_REQUESTED_AT`) and in its arguments:
`{id}`, `{summary}`, `{link}` and `{risk}` inside an argument are replaced (plain text replacement,
so nothing the assistant wrote can reach a shell or a format string). It runs for at most
`notify_timeout_s` seconds with no stdin and its output captured (over stdio our stdout is the
protocol); a failure, a missing program or a time-out is logged and never stops the caller: the
escalation itself is already in the ledger.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from factorops.tools.kernel.display import one_line

log = logging.getLogger("factorops.approvals")
PLACEHOLDERS = ("id", "summary", "link", "risk")


def summary(risk: str, action: str) -> str:
    """One line a notification can show: risk and action, invisible characters made visible."""
    return f"[{risk}] {one_line(action, limit=200)}"


def notify(
    argv: Sequence[str],
    request: Mapping[str, str],
    timeout_s: float,
    cwd: Path,
) -> bool:
    """Run the notify command once for `request` (keys: id, summary, link, risk, requested_at).
    True when it ran and exited 0; every other outcome is logged and returns False."""
    if not argv:
        return False
    args = []
    for arg in argv:
        for key in PLACEHOLDERS:
            arg = arg.replace("{" + key + "}", request.get(key, ""))
        args.append(arg)
    env = {
        **os.environ,
        **{f"FACTOROPS_APPROVAL_{k.upper()}": v for k, v in request.items()},
    }
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning(
            "approval %s: the notify command %s ran past %g s and was stopped",
            request["id"],
            argv[0],
            timeout_s,
        )
        return False
    except OSError as exc:
        log.warning("approval %s: the notify command %s could not run: %s", request["id"], argv[0], exc)
        return False
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-500:]
        log.warning(
            "approval %s: the notify command %s exited %d: %s", request["id"], argv[0], done.returncode, err
        )
        return False
    log.info("approval %s: escalated, %s notified", request["id"], argv[0])
    return True
