"""Read-only queries on the sessions component's own tables, for the faces and other capabilities.

Nobody else writes SQL on `sessions` or `checkpoints`: the dashboard, resources and metrics ask here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel

from factorops.store.store import Store


class CheckpointView(BaseModel):
    seq: int
    created_at: datetime
    summary: str
    next_steps: list[str]
    files_touched: list[str]


class SessionDetail(BaseModel):
    id: str
    goal: str
    status: str
    outcome: str | None
    checkpoints: list[CheckpointView]


def detail(store: Store, session_id: str) -> SessionDetail | None:
    """One session with its checkpoints in order, or None when there is no such session."""
    row = store.db.execute("SELECT goal, status, outcome FROM sessions WHERE id = ?", [session_id]).fetchone()
    if row is None:
        return None
    cps = store.db.execute(
        "SELECT seq, created_at, summary, next_steps, files_touched FROM checkpoints"
        " WHERE session_id = ? ORDER BY seq",
        [session_id],
    ).fetchall()
    return SessionDetail(
        id=session_id,
        goal=row[0],
        status=row[1],
        outcome=row[2],
        checkpoints=[
            CheckpointView(
                seq=seq,
                created_at=created,
                summary=summary,
                next_steps=json.loads(nxt),
                files_touched=json.loads(files),
            )
            for seq, created, summary, nxt, files in cps
        ],
    )


def outcome_counts(store: Store, since: str) -> dict[str, int]:
    """Sessions started at or after `since` (ISO text; "" for all) by outcome, "open" while open."""
    rows = store.db.execute(
        "SELECT COALESCE(outcome, 'open'), COUNT(*) FROM sessions WHERE started_at >= ? GROUP BY 1", [since]
    ).fetchall()
    return {outcome: n for outcome, n in rows}


def failed_goals(store: Store) -> list[tuple[str, str]]:
    """(goal, started_at) of every failed or abandoned session, oldest first."""
    return [
        (goal, started)
        for goal, started in store.db.execute(
            "SELECT goal, started_at FROM sessions WHERE outcome IN ('failed', 'abandoned') ORDER BY started_at"
        ).fetchall()
    ]


class SessionTimes(NamedTuple):
    id: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None  # None while open


def timeline(store: Store, since: str = "") -> list[SessionTimes]:
    """Every session started at or after `since` (ISO text; "" for all), oldest first: for metrics'
    lead time, change failure rate and throughput. Plain tuples: a report may read 10,000."""
    iso = datetime.fromisoformat
    return [
        SessionTimes(i, iso(s), iso(e) if e else None, o)
        for i, s, e, o in store.db.execute(
            "SELECT id, started_at, ended_at, outcome FROM sessions WHERE started_at >= ? ORDER BY started_at",
            [since],
        ).fetchall()
    ]


def outcomes(store: Store, ids: list[str]) -> dict[str, str | None]:
    """The outcome of each of these sessions that exists (None while it is open)."""
    out: dict[str, str | None] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        out.update(
            store.db.execute(
                f"SELECT id, outcome FROM sessions WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall()
        )
    return out
