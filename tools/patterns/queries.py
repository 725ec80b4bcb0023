"""Read-only queries on the patterns component's own table, for metrics and other capabilities."""

from __future__ import annotations

from factorops.store.store import Store


def active_count(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM patterns WHERE status = 'active'").fetchone()[0])


def usage_totals(store: Store) -> tuple[int, int]:
    """(times used, times helped) summed over every pattern."""
    used, helped = store.db.execute(
        "SELECT COALESCE(SUM(times_used), 0), COALESCE(SUM(times_helped), 0) FROM patterns"
    ).fetchone()
    return int(used), int(helped)
