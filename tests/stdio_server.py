"""Spawning the real `factorops serve` over stdio, as MCP clients do."""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

import anyio
from mcp import StdioServerParameters


def server_params(project: Path, *extra: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "factorops", "serve", "--project", str(project), *extra],
        env={**os.environ, **(env or {})},
    )


def server_pids(project: Path) -> list[int]:
    """PIDs of running `factorops serve` processes for this project (read from /proc)."""
    pids = []
    needle = f"serve\0--project\0{project}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


async def kill_after_first_ack(
    project: Path, first_ack: anyio.Event, rng: random.Random, within: float
) -> None:
    """kill -9 every server of `project` at a random moment (up to `within` s) after the first
    acknowledged write: while writes are flowing, however slow the machine is to start the
    server, not after a fixed time that a loaded machine spends starting up."""
    with anyio.move_on_after(60):
        await first_ack.wait()
    await anyio.sleep(rng.uniform(0.0, within))
    for pid in server_pids(project):
        os.kill(pid, signal.SIGKILL)
    await anyio.sleep(0.3)
