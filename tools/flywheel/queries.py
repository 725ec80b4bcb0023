"""Read-only queries on the flywheel's own table (pattern_injections), for metrics."""

from __future__ import annotations

from factorops.store.store import Store


def injections(store: Store, since: str) -> tuple[int, int]:
    """(patterns shown, sessions they were shown in) at or after `since` (ISO text; "" for all)."""
    shown, sessions = store.db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT session_id) FROM pattern_injections WHERE shown_at >= ?", [since]
    ).fetchone()
    return int(shown), int(sessions)
