"""kill -9 the real server while it writes checkpoints, again and again: nothing acknowledged is lost.

Each trial starts `factorops serve` over stdio, writes checkpoints as fast as it answers, and kills
the process with SIGKILL at a random moment. Afterwards the raw files must be healthy (SQLite
integrity_check, git fsck) and every checkpoint whose call returned must be in both stores.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
from pathlib import Path

import anyio
from mcp import Client

from .stdio_server import kill_after_first_ack, server_params

TRIALS = 20


async def _trial(
    project: Path, sid: str | None, acked: list[str], refused: list[str], rng: random.Random
) -> str:
    first_ack = anyio.Event()

    async def writer(c: Client, session_id: str) -> None:
        n = 0
        while True:
            r = await c.call_tool("checkpoint_save", {"session_id": session_id, "summary": f"step {n}"})
            if r.is_error:  # a domain error is a finding, never part of the crash
                refused.append(r.content[0].text)  # type: ignore[union-attr]
                return
            acked.append(r.structured_content["checkpoint_id"])  # type: ignore[index]
            first_ack.set()
            n += 1

    try:
        async with Client(server_params(project), read_timeout_seconds=30) as c:
            if sid is None:
                r = await c.call_tool("session_start", {"goal": "crash test"})
                sid = r.structured_content["session_id"]  # type: ignore[index]
            assert sid is not None
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer, c, sid)
                await kill_after_first_ack(project, first_ack, rng, 0.5)
                tg.cancel_scope.cancel()
    except Exception:  # noqa: S110 - the connection dies with the server; that is the point
        pass
    assert sid is not None
    return sid


async def test_kill_9_during_writes_loses_nothing_acknowledged(project: Path) -> None:
    rng = random.Random(1234)
    acked: list[str] = []
    refused: list[str] = []
    sid: str | None = None
    for _ in range(TRIALS):
        sid = await _trial(project, sid, acked, refused, rng)
    assert not refused, refused  # no write was refused: only the kills interrupted them
    assert len(acked) >= TRIALS  # every trial acknowledged writes before its kill

    data = project / ".agentops"
    conn = sqlite3.connect(data / "agentops.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    in_db = {r[0] for r in conn.execute("SELECT id FROM checkpoints")}
    conn.close()
    fsck = subprocess.run(
        ["git", "fsck", "--no-dangling"], cwd=data / "ledger", capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    # What HEAD holds: a writer killed after `git add` leaves a staged file that is not a record.
    tracked = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD"],
        cwd=data / "ledger",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    in_ledger = {Path(p).stem for p in tracked.splitlines() if "/checkpoints/" in p}
    missing_db = set(acked) - in_db
    missing_ledger = set(acked) - in_ledger
    assert not missing_db and not missing_ledger
    # And the server still works on what the crashes left behind.
    async with Client(server_params(project)) as c:
        r = await c.call_tool("session_resume", {"session_id": sid})
        assert not r.is_error
        assert r.structured_content["checkpoints"] == len(in_ledger)  # type: ignore[index]
