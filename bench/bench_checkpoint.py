"""checkpoint_save latency with 10,000 checkpoints already stored, vs. on a fresh store.

Issue #3 asks for p50 and p95 with 10,000 stored checkpoints, a git commit per checkpoint staying
well under 100 ms p95. The history is generated with `git fast-import` (one commit per checkpoint,
as the server writes them) and indexed with `Store.rebuild`, which also times a full rebuild.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import pct, result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.registry import components  # noqa: E402
from factorops.tools.sessions import lifecycle as sessions  # noqa: E402

STORED = int(os.environ.get("BENCH_CHECKPOINTS", "10000"))
SAMPLES = 200
SESSIONS = 200


def _fast_import(ledger: Path, n: int) -> None:
    """Append n checkpoint commits (spread over SESSIONS sessions and several months)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    parent = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ledger, capture_output=True, text=True
    ).stdout.strip()
    lines: list[bytes] = []
    mark = 0

    def commit(path: str, data: dict[str, object], when: datetime) -> None:
        nonlocal mark, parent
        body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
        msg = b"bench record\n\nFactor: VI\n"
        ts = int(when.timestamp())
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer factorops <factorops@localhost> {ts} +0000\n".encode())
        lines.append(f"data {len(msg)}\n".encode() + msg)
        if mark == 0:
            lines.append(f"from {parent}\n".encode())
        lines.append(f"M 100644 inline {path}\n".encode())
        lines.append(f"data {len(body)}\n".encode() + body + b"\n")
        mark += 1

    dirs = {}
    for s in range(SESSIONS):
        when = base + timedelta(days=s)
        sid = f"ses-bench-{s:05d}"
        dirs[s] = f"sessions/{when:%Y-%m}/{sid}"
        commit(
            f"{dirs[s]}/session.json",
            {"id": sid, "goal": f"goal {s}", "tags": [], "started_at": when.isoformat()},
            when,
        )
    for i in range(n):
        s = i % SESSIONS
        when = base + timedelta(days=s, seconds=i + 1)
        cid = f"ckp-bench-{i:06d}"
        commit(
            f"{dirs[s]}/checkpoints/{cid}.json",
            {
                "id": cid,
                "session_id": f"ses-bench-{s:05d}",
                "summary": f"checkpoint {i} " + "x" * 200,
                "next_steps": ["a", "b"],
                "decisions": ["c"],
                "open_questions": [],
                "files_touched": ["src/x.py"],
                "created_at": when.isoformat(),
            },
            when,
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=ledger, input=b"".join(lines), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=ledger, check=True)


def _measure(store: Store, sid: str) -> list[float]:
    now = datetime.now(UTC)
    times = []
    for i in range(SAMPLES):
        t = time.perf_counter()
        sessions.checkpoint(
            store,
            sessions.CheckpointInput(
                session_id=sid, summary=f"sample {i}", next_steps=["next"], files_touched=["a.py"]
            ),
            now + timedelta(seconds=i),
        )
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-bench-"))
    fresh = Store.open(DataDir.for_project(tmp / "fresh"), components())
    sid = sessions.start(fresh, sessions.SessionStartInput(goal="fresh"), datetime.now(UTC)).session_id
    base_times = _measure(fresh, sid)

    full = Store.open(DataDir.for_project(tmp / "full"), components())
    t = time.perf_counter()
    _fast_import(full.ledger.path, STORED)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    rebuilt = full.rebuild()
    rebuild_s = time.perf_counter() - t
    count = full.db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    assert count == STORED, count
    sid = "ses-bench-00007"
    times = _measure(full, sid)

    print(
        f"generated {STORED} checkpoint commits in {gen_s:.1f}s; rebuild indexed {rebuilt.files} records "
        f"in {rebuild_s:.1f}s"
    )
    print(
        f"checkpoint_save on a fresh store: p50 {pct(base_times, 50):.1f} ms, p95 {pct(base_times, 95):.1f} ms"
    )
    print(
        f"checkpoint_save with {count} stored: p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms "
        "(each = one git commit + one SQLite transaction)"
    )
    result("checkpoint_save_p50_10k", pct(times, 50), pct(base_times, 50), "ms", "report")
    result("checkpoint_save_p95_10k", pct(times, 95), pct(base_times, 95), "ms", "<100ms abs")
    result("rebuild_10k_checkpoints", rebuild_s * 1000, None, "ms", "report")


if __name__ == "__main__":
    main()
