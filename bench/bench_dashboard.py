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

from factorops.server.web.app import build  # noqa: E402
from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.metrics import rollup as metrics_rollup
from factorops.tools.patterns import records as patterns  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

SESSIONS = 10_000
PATTERNS = 100_000
EVENTS = 200_000  # tool calls recorded by metrics: the metrics page reads them
APPROVALS = 2_000  # 50 of them pending
VALIDATIONS = 10_000
TOKEN = "bench-token"
PAGES = [
    "/approvals",
    "/patterns",
    "/patterns?q=retry+backoff",
    "/patterns/{real}",  # one pattern written through patterns.record: its page reads the ledger file
    "/sessions",
    "/sessions/ses-005000",
    "/metrics?period=all",
]


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
        db.conn.executemany(
            "INSERT INTO checkpoints (id, session_id, seq, summary, next_steps, decisions, open_questions, files_touched,"
            " created_at, commit_sha) VALUES (?, 'ses-005000', ?, ?, '[\"next\"]', '[]', '[]', '[\"a.py\"]', ?, 'x')",
            [
                (f"cp-{seq}", seq, f"step {seq} done", (base + timedelta(minutes=seq)).isoformat())
                for seq in range(1, 41)
            ],
        )
        tools = [
            "session_start",
            "checkpoint_save",
            "context_load",
            "patterns_search",
            "count_tokens",
            "route_task",
        ]
        calls = [
            (
                (base + timedelta(seconds=i * 3)).isoformat(),
                tools[i % len(tools)],
                1.0 + i % 97,
                "error" if i % 50 == 0 else "ok",
                120,
                900,
            )
            for i in range(EVENTS)
        ]
        db.conn.executemany("INSERT INTO events VALUES (?, 'call', ?, NULL, ?, ?, ?, ?)", calls)
        metrics_rollup.add_batch(db.conn, calls)  # what the event writer does with each batch
        db.conn.executemany(
            "INSERT INTO approvals (id, action, rationale, risk, details, requested_at, expires_at, status, decided_at,"
            " decided_by, via, comment, ledger_dir, commit_sha) VALUES (?, ?, 'why', 'high', '', ?, ?, ?, ?, ?, ?, '', 'x', 'x')",
            [
                (
                    f"apr-{i:06d}",
                    f"deploy build {i}",
                    (base + timedelta(minutes=i)).isoformat(),
                    "2099-01-01T00:00:00+00:00",
                    "pending" if i >= APPROVALS - 50 else "approved",
                    None if i >= APPROVALS - 50 else (base + timedelta(minutes=i + 3)).isoformat(),
                    None if i >= APPROVALS - 50 else "cli:bench",
                    None if i >= APPROVALS - 50 else "cli",
                )
                for i in range(APPROVALS)
            ],
        )
        db.conn.executemany(
            "INSERT INTO validations (run_id, gate, session_id, passed, exit_code, timed_out, seconds, started_at, commit_sha)"
            " VALUES (?, ?, NULL, ?, ?, 0, 1.5, ?, 'x')",
            [
                (
                    f"val-{i:06d}",
                    "tests",
                    i % 4 != 0,
                    0 if i % 4 else 1,
                    (base + timedelta(minutes=i)).isoformat(),
                )
                for i in range(VALIDATIONS)
            ],
        )


def measure(store: Store, real: str, reps: int = 15) -> dict[str, list[float]]:
    client = TestClient(build(store, TOKEN), base_url="http://127.0.0.1:8766")
    client.get(f"/?token={TOKEN}")
    out: dict[str, list[float]] = {}
    for template in PAGES:
        page = template.format(real=real)
        if client.get(page).status_code == 404:  # a detail page of the full store, on the empty one
            continue
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            r = client.get(page)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (page, r.status_code)
        out[template] = times
    return out


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-dash-"))
    empty = Store.open(DataDir.for_project(tmp / "empty"), components())
    full = Store.open(DataDir.for_project(tmp / "full"), components())
    t = time.perf_counter()
    fill(full)
    print(
        f"inserted {SESSIONS} sessions, {PATTERNS} patterns, {EVENTS} events, {APPROVALS} approvals and "
        f"{VALIDATIONS} validations in {time.perf_counter() - t:.1f}s"
    )
    real = [
        patterns.record(
            st,
            patterns.PatternRecordInput(title="Retry with backoff", solution="Jitter the delay."),
            datetime.now(UTC),
        ).id
        for st in (empty, full)
    ]
    base = measure(empty, real[0])
    big = measure(full, real[1])
    for page in PAGES:
        empty_p50 = f"{pct(base[page], 50):.1f} ms" if page in base else "n/a"
        print(
            f"{page:<28} p50 {pct(big[page], 50):6.1f} ms  p95 {pct(big[page], 95):6.1f} ms   (empty store p50 {empty_p50})"
        )
    worst = max(PAGES, key=lambda p: pct(big[p], 95))
    baseline = pct(base[worst], 95) if worst in base else pct(base["/approvals"], 95)
    print(f"slowest page: {worst}")
    result("dashboard_worst_page_p95_ms", pct(big[worst], 95), baseline, "ms", "<=200ms")


if __name__ == "__main__":
    main()
