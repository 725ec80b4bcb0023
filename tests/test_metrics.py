"""The metrics event buffer and report: off the hot path, survives a rebuild, estimates tokens."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.app import build_app
from factorops.server.runtime import Runtime
from factorops.store.store import Store
from factorops.tools import metrics

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
