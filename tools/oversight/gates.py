"""Running one validation gate as a child process that cannot outlive its time limit.

The gate runs in a new session (its own process group), so on a time-out the whole group, grand-
children included, is terminated and then killed; after a normal exit the group is cleared too, so
no stray watcher or server started by a test suite survives it. Output is read as it comes and
kept bounded (the head and a rolling tail), so a gate printing gigabytes cannot exhaust memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 512 * 1024


@dataclass
class GateRun:
    exit_code: int | None
    timed_out: bool
    duration_s: float
    head: str
    tail: str
    dropped_bytes: int
    error: str | None = None


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.2 if sig == signal.SIGTERM else 0)


def run(
    argv: list[str], cwd: Path, timeout_s: float, heartbeat: Callable[[float], None] | None = None
) -> GateRun:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        return GateRun(None, False, 0.0, "", "", 0, error=f"could not start {argv[0]!r}: {exc}")
    head = bytearray()
    tail: deque[bytes] = deque()
    tail_size = 0
    dropped = 0

    def reader() -> None:
        nonlocal tail_size, dropped
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read1(65536), b""):  # type: ignore[union-attr,attr-defined]
            if len(head) < HEAD_BYTES:
                take = HEAD_BYTES - len(head)
                head.extend(chunk[:take])
                chunk = chunk[take:]
            if chunk:
                tail.append(chunk)
                tail_size += len(chunk)
                while tail_size > TAIL_BYTES and len(tail) > 1:
                    old = tail.popleft()
                    tail_size -= len(old)
                    dropped += len(old)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    timed_out = False
    while True:
        try:
            proc.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - start
            if heartbeat:
                heartbeat(elapsed)
            if elapsed > timeout_s:
                timed_out = True
                _kill_group(proc.pid)
                proc.wait()
                break
    _kill_group(proc.pid)  # children left behind by a gate that exited
    t.join(timeout=5)
    return GateRun(
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        duration_s=time.monotonic() - start,
        head=head.decode("utf-8", errors="replace"),
        tail=b"".join(tail).decode("utf-8", errors="replace"),
        dropped_bytes=dropped,
    )
