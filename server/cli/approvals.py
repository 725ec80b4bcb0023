"""`factorops approvals`, `approve ID`, `deny ID`: how a person decides what an assistant asked."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from .base import command, no_args, opened_store


def _now() -> datetime:
    return datetime.now(UTC)


@command(
    "approvals",
    "list pending approvals (decide with approve/deny)",
    "List approvals assistants are waiting for, oldest first, with their risk, reason, alternatives "
    "considered and rollback, and whether they were escalated; then the latest decisions, time-outs "
    "included. Escalation (after 4 h) and time-out (after 24 h, a denial with reason timeout) are "
    "applied first.",
)(no_args)
def approvals_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.oversight import approvals

    with opened_store(args) as store:
        now = _now()
        rows = approvals.pending(store, now)
        closed = [r for r in approvals.recent(store, 10, now) if r["status"] != "pending"]
    if not rows:
        print("no pending approvals")
    for r in rows:
        print(_shown(r))
    if closed:
        print("\nrecent decisions:")
    for r in closed:
        print(_closed(r))
    return 0


def _closed(r: dict[str, object]) -> str:
    from factorops.tools.kernel.display import one_line

    reason = f" ({one_line(str(r['reason']))})" if r.get("reason") else ""
    by = one_line(str(r.get("decided_by") or ""))
    return (
        f"{one_line(str(r['id']))}  {r['status']}{reason} by {by} at {r.get('decided_at')}  "
        f"[{one_line(str(r['risk']))}] {one_line(str(r['action']), limit=120)}"
    )


def _shown(r: dict[str, object]) -> str:
    """Every field the assistant wrote, with control characters made visible (an escape sequence in
    an action must not hide what is being approved)."""
    from factorops.tools.kernel.display import one_line, visible

    lines = [
        f"{one_line(str(r['id']))}  [{one_line(str(r['risk']))}] {one_line(str(r['action']), limit=500)}"
    ]
    lines.append(f"    risk: {one_line(str(r['risk']))}")
    for label, key in (
        ("why", "rationale"),
        ("details", "details"),
        ("alternatives", "alternatives"),
        ("rollback", "rollback"),
    ):
        text = str(r.get(key) or "")
        if text or key in ("alternatives", "rollback"):  # their absence is worth knowing too
            body = visible(text).replace("\n", "\n      ") if text else "(not given)"
            lines.append(f"    {label}: {body}")
    lines.append(f"    session: {one_line(str(r.get('session_id') or 'none'))}")
    lines.append(f"    requested: {r['requested_at']}  times out: {r['expires_at']}")
    if r.get("escalated_at"):
        lines.append(f"    ESCALATED: {r['escalated_at']} (no decision yet)")
    for n in json.loads(str(r.get("notes") or "[]")):
        lines.append(f"    note by {one_line(str(n['by']))}: {one_line(str(n['note']), limit=500)}")
    return "\n".join(lines)


def _decide_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="the approval id (see `factorops approvals`)")
    p.add_argument("--comment", default="", help="why; recorded in the ledger with your decision")


def _decide(args: argparse.Namespace, approve: bool) -> int:
    from factorops.tools.kernel.actor import Actor
    from factorops.tools.oversight import approvals

    with opened_store(args) as store:
        a = approvals.decide(store, args.id, approve, Actor.cli(), args.comment, _now())
    print(f"{a.id} {a.status}")
    return 0


@command("approve", "approve a pending request", "Approve a pending approval; recorded in the ledger.")(
    _decide_args
)
def approve_cmd(args: argparse.Namespace) -> int:
    return _decide(args, True)


@command("deny", "deny a pending request", "Deny a pending approval; recorded in the ledger.")(_decide_args)
def deny_cmd(args: argparse.Namespace) -> int:
    return _decide(args, False)
