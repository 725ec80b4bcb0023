"""Spawning the real `factorops serve` over stdio, as MCP clients do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
