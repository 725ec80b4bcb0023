"""Several server processes on one project at once (each MCP client spawns its own server)."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.registry import components

from .stdio_server import server_params

PROCESSES = 4
CHECKPOINTS_EACH = 50


async def test_four_servers_save_fifty_checkpoints_each(project: Path) -> None:
    errors: list[str] = []
    acked: list[str] = []

    async def worker(i: int) -> None:
        async with Client(server_params(project), read_timeout_seconds=120) as c:
            r = await c.call_tool("session_start", {"goal": f"worker {i}"})
            sid = r.structured_content["session_id"]  # type: ignore[index]
            for n in range(CHECKPOINTS_EACH):
                r = await c.call_tool("checkpoint_save", {"session_id": sid, "summary": f"w{i} step {n}"})
                if r.is_error:
                    errors.append(r.content[0].text)  # type: ignore[union-attr]
                else:
                    acked.append(r.structured_content["checkpoint_id"])  # type: ignore[index]

    async with anyio.create_task_group() as tg:
        for i in range(PROCESSES):
            tg.start_soon(worker, i)

    assert errors == []  # in particular, no "database is locked"
    assert len(acked) == PROCESSES * CHECKPOINTS_EACH
    store = Store.open(DataDir.for_project(project), components())
    rows = {r[0] for r in store.db.execute("SELECT id FROM checkpoints")}
    assert rows == set(acked)
    per_session = store.db.execute(
        "SELECT COUNT(*), MAX(seq) FROM checkpoints GROUP BY session_id"
    ).fetchall()
    assert per_session == [(CHECKPOINTS_EACH, CHECKPOINTS_EACH)] * PROCESSES
    ok, _ = store.ledger.fsck()
    assert ok
    store.close()
