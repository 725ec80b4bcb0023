"""Dashboard page render time with 10,000 sessions and 100,000 patterns (issue #6: <= 200 ms).

Rows are inserted straight into the schema (the ledger is not involved in rendering). Each page is
requested in-process through Starlette's test client, so the time is the server's own work; the
baseline is the same page on an empty store, measured in the same run.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import pct, result  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from factorops.server.webui.app import build  # noqa: E402
from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

SESSIONS = 10_000
PATTERNS = 100_000
TOKEN = "bench-token"
PAGES = ["/approvals", "/patterns", "/patterns?q=retry+backoff", "/sessions", "/metrics?period=all"]


def fill(store: Store) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    words = [
        "retry",
        "backoff",
        "cache",
        "index",
        "parser",
        "render",
        "config",
        "queue",
        "worker",
        "billing",
        "refund",
        "discount",
    ]
    with store.index.transaction() as db:
        db.conn.executemany(
            "INSERT INTO sessions (id, goal, tags, status, outcome, started_at, updated_at, ledger_dir, commit_sha, checkpoint_count)"
            " VALUES (?, ?, '[]', ?, ?, ?, ?, 'x', 'x', 0)",
            [
                (
                    f"ses-{i:06d}",
                    f"goal {i} {words[i % len(words)]}",
                    "ended" if i % 3 else "open",
                    "success" if i % 3 == 1 else ("failed" if i % 3 == 2 else None),
                    (base + timedelta(minutes=i)).isoformat(),
                    (base + timedelta(minutes=i)).isoformat(),
                )
                for i in range(SESSIONS)
            ],
        )
        rows = []
        for i in range(PATTERNS):
            w = words[i % len(words)], words[(i * 7) % len(words)]
            rows.append(
                (
                    f"pat-{i:06d}",
                    f"Pattern {i}: {w[0]} with {w[1]}",
                    "pattern",
                    "active" if i % 5 == 0 else "candidate",
                    f"problem about {w[0]}",
                    f"use {w[1]}",
                    json.dumps([w[0]]),
                    "[]",
                    0.5,
                    0,
                    0,
                    '{"sessions":[],"checkpoints":[],"commits":[],"transcripts":[]}',
                    None,
                    "bench",
                    (base + timedelta(seconds=i)).isoformat(),
                    (base + timedelta(seconds=i)).isoformat(),
                    "x",
                )
            )
        db.conn.executemany(
            "INSERT INTO patterns (id, title, kind, status, problem, solution, tags, scope, confidence, times_used, times_helped,"
            " evidence, rule, source, created, updated, commit_sha) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.execute(
            "INSERT INTO patterns_fts (rowid, title, problem, solution, tags) SELECT rowid, title, problem, solution, tags FROM patterns"
        )


def measure(store: Store, reps: int = 15) -> dict[str, list[float]]:
    client = TestClient(build(store, TOKEN))
    client.get(f"/?token={TOKEN}")
    out: dict[str, list[float]] = {}
    for page in PAGES:
        client.get(page)  # warm
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            r = client.get(page)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (page, r.status_code)
        out[page] = times
    return out


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-dash-"))
    empty = Store.open(DataDir.for_project(tmp / "empty"), components())
    full = Store.open(DataDir.for_project(tmp / "full"), components())
    t = time.perf_counter()
    fill(full)
    print(f"inserted {SESSIONS} sessions and {PATTERNS} patterns in {time.perf_counter() - t:.1f}s")
    base = measure(empty)
    big = measure(full)
    for page in PAGES:
        print(
            f"{page:<28} p50 {pct(big[page], 50):6.1f} ms  p95 {pct(big[page], 95):6.1f} ms   (empty store p50 {pct(base[page], 50):.1f} ms)"
        )
    worst = max(PAGES, key=lambda p: pct(big[p], 95))
    result("dashboard_worst_page_p95_ms", pct(big[worst], 95), pct(base[worst], 95), "ms", "<=200ms")


if __name__ == "__main__":
    main()
