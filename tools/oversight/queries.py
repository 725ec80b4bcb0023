"""Read-only queries on the oversight component's own tables (approvals, validations), for metrics
and the faces: nobody else writes SQL on them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel

from factorops.store.store import Store


class ValidationCounts(BaseModel):
    runs: int
    passed: int


class ApprovalCounts(BaseModel):
    requested: int
    minutes_to_decide: list[float]


def validation_counts(store: Store, since: str) -> ValidationCounts:
    """Gate runs started at or after `since` (ISO text; "" for all) and how many passed."""
    n, ok = store.db.execute(
        "SELECT COUNT(*), COALESCE(SUM(passed), 0) FROM validations WHERE started_at >= ?", [since]
    ).fetchone()
    return ValidationCounts(runs=n, passed=ok)


def approval_counts(store: Store, since: str) -> ApprovalCounts:
    """Requests made at or after `since`, and the minutes each decided one waited for a person."""
    waits = [
        (datetime.fromisoformat(dec) - datetime.fromisoformat(req)).total_seconds() / 60
        for req, dec in store.db.execute(
            "SELECT requested_at, decided_at FROM approvals WHERE decided_at IS NOT NULL AND requested_at >= ?",
            [since],
        ).fetchall()
    ]
    n = store.db.execute("SELECT COUNT(*) FROM approvals WHERE requested_at >= ?", [since]).fetchone()[0]
    return ApprovalCounts(requested=n, minutes_to_decide=waits)


class RoutingDecision(BaseModel):
    ts: str
    session_id: str | None
    recommended: str  # "workflow/tier"
    chosen: str | None
    mode: str
    confidence: float


def routing_decisions(store: Store, since: str) -> list[RoutingDecision]:
    """route_task's decisions made at or after `since`, oldest first."""
    return [
        RoutingDecision(ts=ts, session_id=sid, recommended=f"{wf}/{tier}", chosen=ch, mode=mode, confidence=c)
        for ts, sid, wf, tier, ch, mode, c in store.db.execute(
            "SELECT ts, session_id, workflow, tier, chosen, mode, confidence FROM routing_decisions "
            "WHERE ts >= ? ORDER BY ts",
            [since],
        ).fetchall()
    ]


class SlowGate(BaseModel):
    gate: str
    seconds: float
    timed_out: bool
    started_at: str


def slow_gates(store: Store, since: str, over_s: float) -> list[SlowGate]:
    """Gate runs at or after `since` that ran past `over_s` seconds or timed out, newest first."""
    return [
        SlowGate(gate=g, seconds=sec, timed_out=bool(t), started_at=st)
        for g, sec, t, st in store.db.execute(
            "SELECT gate, seconds, timed_out, started_at FROM validations "
            "WHERE started_at >= ? AND (seconds > ? OR timed_out) ORDER BY started_at DESC",
            [since, over_s],
        ).fetchall()
    ]


class GateRun(NamedTuple):
    gate: str
    started_at: str  # ISO text, UTC
    passed: bool


def gate_runs(store: Store, since: str) -> list[GateRun]:
    """Every gate run at or after `since`, oldest first: for time to recover. Plain tuples: a
    report may read tens of thousands."""
    return [
        GateRun(g, st, bool(ok))
        for g, st, ok in store.db.execute(
            "SELECT gate, started_at, passed FROM validations WHERE started_at >= ? ORDER BY started_at, gate",
            [since],
        ).fetchall()
    ]


def validated_sessions(store: Store) -> set[str]:
    """Sessions with a validation run whose gates all passed."""
    return {
        sid
        for (sid,) in store.db.execute(
            "SELECT session_id FROM validations WHERE session_id IS NOT NULL GROUP BY run_id, session_id "
            "HAVING MIN(passed) = 1"
        ).fetchall()
    }
