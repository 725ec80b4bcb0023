"""Read-only queries on the patterns component's own table, for metrics and other capabilities."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from factorops.store.store import Store


def active_count(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM patterns WHERE status = 'active'").fetchone()[0])


def usage_totals(store: Store) -> tuple[int, int]:
    """(times used, times helped) summed over every pattern."""
    used, helped = store.db.execute(
        "SELECT COALESCE(SUM(times_used), 0), COALESCE(SUM(times_helped), 0) FROM patterns"
    ).fetchone()
    return int(used), int(helped)


def cited_ids(store: Store) -> list[str]:
    """Candidate and active patterns cited at least once (`times_used` counts citations): the only
    ones whose helped_in / hurt_in lists can hold anything, so metrics reads just these files."""
    return [
        str(r[0])
        for r in store.db.execute(
            "SELECT id FROM patterns WHERE status != 'retired' AND times_used > 0 ORDER BY id"
        ).fetchall()
    ]


def uncited_updated_before(store: Store, cutoff: Callable[[float], datetime]) -> int:
    """How many never-cited candidate and active patterns (starters aside) were last updated before
    `cutoff(confidence)`: with the decay's cut-off for each confidence, the ones faded past it.
    Counted in SQL (timestamps are UTC ISO text), so a large library costs a scan, not a file each."""
    db = store.db
    where = "p.status != 'retired' AND p.times_used = 0"
    confs = [c for (c,) in db.execute(f"SELECT DISTINCT confidence FROM patterns p WHERE {where}").fetchall()]
    if not confs:
        return 0
    n = 0
    for i in range(0, len(confs), 400):
        chunk = confs[i : i + 400]
        values = ", ".join("(?, ?)" for _ in chunk)
        args: list[object] = []
        for c in chunk:
            args += [c, cutoff(c).astimezone(UTC).isoformat()]
        n += db.execute(
            f"WITH cut(c, t) AS (VALUES {values}) SELECT COUNT(*) FROM patterns p JOIN cut ON p.confidence = cut.c "
            f"WHERE {where} AND p.updated < cut.t AND p.tags NOT LIKE '%\"starter\"%'",
            args,
        ).fetchone()[0]
    return int(n)
