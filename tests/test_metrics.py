"""The metrics event buffer and report: off the hot path, survives a rebuild, estimates tokens."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.store import Store
from factorops.tools.metrics import report as metrics

from .conftest import Clock


def _events(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def _wait_for(cond: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_full_batch_is_written_by_the_background_writer(store: Store, clock: Clock) -> None:
    try:
        for _ in range(metrics.FLUSH_EVERY):
            metrics.record_call(store, clock(), "count_tokens", 0.5, "ok", 10, 20, None)
        assert _wait_for(lambda: _events(store) == metrics.FLUSH_EVERY)
    finally:
        metrics.close(store)


def test_recording_never_waits_for_a_locked_database(store: Store, clock: Clock) -> None:
    """Another process holding the write lock must not stall a tool call that records an event."""
    other = sqlite3.connect(store.datadir.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def record() -> None:
        for _ in range(metrics.FLUSH_EVERY * 3):
            metrics.record_call(store, clock(), "session_resume", 1.0, "ok", 5, 5, None)
        done.set()

    try:
        threading.Thread(target=record, daemon=True).start()
        assert done.wait(30), "recording blocked on the SQLite write lock"
        assert _events(store) == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    metrics.flush(store)
    assert _events(store) == metrics.FLUSH_EVERY * 3
    metrics.close(store)


def test_close_writes_the_rest_and_rebuild_keeps_events(store: Store, clock: Clock) -> None:
    metrics.record_call(store, clock(), "route_task", 2.0, "error", 40, 400, "ses-1")
    metrics.record_context_use(store, clock(), "ses-1", 30_000, 100_000)
    metrics.close(store)
    assert _events(store) == 2
    store.rebuild()
    assert _events(store) == 2
    r = metrics.report(store, metrics.MetricsReportInput(period="all"), clock())
    route = next(t for t in r.tools if t.tool == "route_task")
    assert route.errors == 1 and route.avg_tokens_in == 10 and route.avg_tokens_out == 100
    assert r.context_loads == 1 and r.context_over_40pct == 0 and r.median_context_share == 0.3


async def test_metrics_can_be_switched_off(
    project: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTOROPS_METRICS", "0")
    rt = Runtime(project=project, clock=clock, use_roots=False)
    try:
        async with Client(build_app(rt)) as c:
            await c.call_tool("count_tokens", {"text": "hello"})
            r = (await c.call_tool("metrics_report", {"period": "all"})).structured_content
        assert r is not None and "tools" not in r
    finally:
        rt.close()


async def test_report_estimates_tokens_per_tool(client: Client, runtime: Runtime) -> None:
    await client.call_tool("count_tokens", {"text": "word " * 400})
    r = (await client.call_tool("metrics_report", {"period": "day"})).structured_content
    assert r is not None
    ct = next(t for t in r["tools"] if t["tool"] == "count_tokens")
    assert ct["calls"] == 1 and ct["avg_tokens_in"] >= 400
    text = (await client.read_resource("agentops://metrics")).contents[0].text  # type: ignore[union-attr]
    assert "~tokens in" in text


def test_rollup_matches_the_raw_events_and_backfills_old_ones(
    project: Path, store: Store, clock: Clock
) -> None:
    from factorops.store.datadir import DataDir
    from factorops.tools.metrics import rollup as metrics_rollup
    from factorops.tools.registry import components

    latencies = [0.2, 0.9, 4.0, 12.0, 18.0, 45.0, 300.0]
    for i, ms in enumerate(latencies):
        metrics.record_call(store, clock(), "context_load", ms, "error" if i == 0 else "ok", 8, 4000, None)
    metrics.close(store)
    before = metrics.report(store, metrics.MetricsReportInput(period="day"), clock()).tools[0]
    assert (before.tool, before.calls, before.errors, before.avg_tokens_out) == ("context_load", 7, 1, 1000)
    assert 10 <= before.p50_ms <= 15  # the true median, 12 ms, sits in the 10-15 ms bucket
    # A database from before roll-ups existed: the migration fills them from the raw events.
    with store.index.transaction() as db:
        db.execute("DROP TABLE call_rollup")
        db.execute("DELETE FROM schema_migrations WHERE id = 'metrics-002'")
    store.close()
    reopened = Store.open(DataDir.for_project(project), components())
    try:
        after = metrics.report(reopened, metrics.MetricsReportInput(period="day"), clock()).tools[0]
        assert after == before
        hist = metrics_rollup.per_tool(reopened.db.conn, "")[0][5]
        assert sum(hist) == len(latencies) and len(hist) == metrics_rollup.BUCKETS
    finally:
        reopened.close()


def test_p50_estimate_from_a_histogram() -> None:
    from factorops.tools.metrics import rollup as metrics_rollup

    assert metrics_rollup.p50([0] * metrics_rollup.BUCKETS) == 0.0
    hist = [0] * metrics_rollup.BUCKETS
    hist[metrics_rollup.EDGES.index(100) + 1] = 10  # ten calls between 100 and 150 ms
    assert 100 <= metrics_rollup.p50(hist) <= 150
    hist[-1] = 30  # most calls slower than the last edge
    assert metrics_rollup.p50(hist) >= metrics_rollup.EDGES[-1]
