"""Read-only counts of the watch's own tables, for metrics and the faces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factorops.store.store import Store


@dataclass(frozen=True)
class WatchCounts:
    spirals: int
    breakers_opened: int
    breakers_open_now: int
    failed_runs: int


def counts(store: Store, since: str) -> WatchCounts:
    """Spirals called, breakers opened and failed shell runs at or after `since` (ISO text; "" for
    all), and the breakers open now."""
    db = store.db
    by_kind = dict(
        db.execute("SELECT kind, COUNT(*) FROM watch_events WHERE at >= ? GROUP BY kind", [since]).fetchall()
    )
    failed = db.execute("SELECT COUNT(*) FROM watch_runs WHERE ok = 0 AND at >= ?", [since]).fetchone()[0]
    open_now = db.execute("SELECT COUNT(*) FROM watch_breakers WHERE state != 'closed'").fetchone()[0]
    return WatchCounts(
        spirals=int(by_kind.get("spiral", 0)),
        breakers_opened=int(by_kind.get("breaker_open", 0)),
        breakers_open_now=int(open_now),
        failed_runs=int(failed),
    )
