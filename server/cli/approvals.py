"""`factorops approvals`, `approve ID`, `deny ID`: how a person decides what an assistant asked."""

from __future__ import annotations

import argparse
import getpass

from .base import CliError, command, no_args, open_store


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


@command(
    "approvals",
    "list pending approvals (decide with approve/deny)",
    "List approvals assistants are waiting for, oldest first, with their risk and reason.",
)(no_args)
def approvals_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.oversight import approvals

    store = open_store(args)
    try:
        rows = approvals.pending(store, _now())
    finally:
        store.close()
    if not rows:
        print("no pending approvals")
    for r in rows:
        print(
            f"{r['id']}  [{r['risk']}] {r['action']}\n    why: {r['rationale']}\n    expires: {r['expires_at']}"
        )
    return 0


def _decide_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="the approval id (see `factorops approvals`)")
    p.add_argument("--comment", default="", help="why; recorded in the ledger with your decision")


def _decide(args: argparse.Namespace, approve: bool) -> int:
    from factorops.tools.kernel.errors import DomainError
    from factorops.tools.oversight import approvals

    store = open_store(args)
    try:
        a = approvals.decide(store, args.id, approve, f"cli:{getpass.getuser()}", "cli", args.comment, _now())
    except DomainError as exc:
        raise CliError(exc.message) from None
    finally:
        store.close()
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
