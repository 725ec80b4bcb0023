"""Hourly per-tool roll-ups of call events, so a report never scans every call ever made.

A year of heavy use is a few hundred thousand call events; reading them all took the metrics page
past 400 ms. The event writer adds each batch into one row per (hour, tool): calls, errors, sizes,
and a latency histogram with 1-2-3-5 style bucket edges. A report sums those rows (a few thousand
at most) and estimates p50 and p95 by interpolating inside the bucket that holds them. Periods are
therefore counted in whole UTC hours. Raw events stay in `events` for anyone who wants detail.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

# Upper edges (ms) of the latency buckets; the last bucket is everything above the last edge.
EDGES: tuple[float, ...] = (
    0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000,
    10_000, 30_000,
)  # fmt: skip
BUCKETS = len(EDGES) + 1
_H = [f"h{i:02d}" for i in range(BUCKETS)]


def _bucket_case(col: str) -> list[str]:
    """SQL expressions (one per bucket) that are 1 when `col` falls in that bucket."""
    out = []
    for i in range(BUCKETS):
        lo = f"{col} >= {EDGES[i - 1]}" if i else "1"
        hi = f"{col} < {EDGES[i]}" if i < len(EDGES) else "1"
        out.append(f"({lo} AND {hi})")
    return out


MIGRATION_SQL = (
    "CREATE TABLE call_rollup (hour TEXT NOT NULL, name TEXT NOT NULL, calls INTEGER NOT NULL, "
    "errors INTEGER NOT NULL, chars_in INTEGER NOT NULL, chars_out INTEGER NOT NULL, "
    + ", ".join(f"{h} INTEGER NOT NULL DEFAULT 0" for h in _H)
    + ", PRIMARY KEY (hour, name));\n"
    # Backfill from the events recorded before roll-ups existed.
    + f"INSERT INTO call_rollup (hour, name, calls, errors, chars_in, chars_out, {', '.join(_H)}) "
    "SELECT substr(ts, 1, 13), name, COUNT(*), SUM(outcome != 'ok'), SUM(COALESCE(n1, 0)), "
    "SUM(COALESCE(n2, 0)), "
    + ", ".join(f"SUM({c})" for c in _bucket_case("COALESCE(latency_ms, 0)"))
    + " FROM events WHERE kind = 'call' GROUP BY 1, 2;\n"
)

_UPSERT = (
    f"INSERT INTO call_rollup (hour, name, calls, errors, chars_in, chars_out, {', '.join(_H)}) "
    f"VALUES ({', '.join('?' * (6 + BUCKETS))}) ON CONFLICT (hour, name) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in ["calls", "errors", "chars_in", "chars_out", *_H])
)


def hour_of(ts_iso: str) -> str:
    """`2026-11-25T12:34:56+00:00` -> `2026-11-25T12` (timestamps are stored as UTC ISO strings)."""
    return ts_iso[:13]


def add_batch(conn: sqlite3.Connection, calls: Iterable[tuple[str, str, float, str, int, int]]) -> None:
    """Add (ts, tool, latency_ms, outcome, chars_in, chars_out) calls to their hourly rows."""
    acc: dict[tuple[str, str], list[int]] = {}
    for ts, name, latency, outcome, chars_in, chars_out in calls:
        row = acc.setdefault((hour_of(ts), name), [0] * (4 + BUCKETS))
        row[0] += 1
        row[1] += outcome != "ok"
        row[2] += chars_in
        row[3] += chars_out
        row[4 + bisect.bisect_right(EDGES, latency)] += 1
    conn.executemany(_UPSERT, [[hour, name, *vals] for (hour, name), vals in acc.items()])


def p50(hist: Sequence[int]) -> float:
    """The median latency estimated from a histogram: linear inside the bucket that holds it."""
    return quantile(hist, 0.5)


def p95(hist: Sequence[int]) -> float:
    return quantile(hist, 0.95)


def quantile(hist: Sequence[int], q: float) -> float:
    """The q-quantile (0 < q < 1) estimated from a histogram: linear inside its bucket."""
    total = sum(hist)
    if not total:
        return 0.0
    target = total * q
    seen = 0
    for i, n in enumerate(hist):
        if n and seen + n >= target:
            lo = EDGES[i - 1] if i else 0.0
            hi = EDGES[i] if i < len(EDGES) else EDGES[-1] * 2
            return lo + (hi - lo) * (target - seen) / n
        seen += n
    return EDGES[-1]


def per_tool(conn: sqlite3.Connection, since_hour: str) -> list[tuple[str, int, int, int, int, list[int]]]:
    """(tool, calls, errors, chars_in, chars_out, histogram) summed over hours >= since_hour."""
    rows = conn.execute(
        f"SELECT name, SUM(calls), SUM(errors), SUM(chars_in), SUM(chars_out), {', '.join(f'SUM({h})' for h in _H)} "
        "FROM call_rollup WHERE hour >= ? GROUP BY name",
        [since_hour],
    ).fetchall()
    return [(r[0], r[1], r[2], r[3], r[4], list(r[5:])) for r in rows]
