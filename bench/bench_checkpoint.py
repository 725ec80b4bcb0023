"""checkpoint_save latency as the ledger grows: 100 vs 5,000 checkpoints in 50 open sessions.

Issue #19: the file-collision check must not grow with the other open sessions' checkpoints
(target: p50 at 5,000 ≤ 1.3× p50 at 100, both measured in this one process, same data shape).
Every stored checkpoint touches 5 files of a 400-file project, as real sessions do, and the
file-collision starter guardrail is active, so the check runs on every save. The history is
generated with `git fast-import` (one commit per checkpoint, as the server writes them) and
indexed with `Store.rebuild`, which also times a full rebuild. (Issue #3's absolute limit, a
commit well under 100 ms p95, is printed too.)
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
from factorops.tools.flywheel import inject as flywheel  # noqa: E402
from factorops.tools.registry import components  # noqa: E402
from factorops.tools.sessions import lifecycle as sessions  # noqa: E402

SMALL = int(os.environ.get("BENCH_CHECKPOINTS_SMALL", "100"))
STORED = int(os.environ.get("BENCH_CHECKPOINTS", "5000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "150"))
SESSIONS = 50


def _files(i: int) -> list[str]:
    return [f"src/mod_{(i * 7 + k * 13) % 400}.py" for k in range(5)]


def _fast_import(ledger: Path, n: int) -> None:
    """Append n checkpoint commits (spread over SESSIONS sessions and several months)."""
    # Recent, so no session is stale (idle sessions are left out of the collision check).
    base = datetime.now(UTC) - timedelta(hours=1)
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
        when = base + timedelta(seconds=s)
        sid = f"ses-bench-{s:05d}"
        dirs[s] = f"sessions/{when:%Y-%m}/{sid}"
        commit(
            f"{dirs[s]}/session.json",
            {"id": sid, "goal": f"goal {s}", "tags": [], "started_at": when.isoformat()},
            when,
        )
    for i in range(n):
        s = i % SESSIONS
        when = base + timedelta(seconds=SESSIONS + i * 0.5)
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
                "files_touched": _files(i),
                "created_at": when.isoformat(),
            },
            when,
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=ledger, input=b"".join(lines), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=ledger, check=True)


def _measure(store: Store, sid: str) -> list[float]:
    now = datetime.now(UTC)
    times = []
    for i in range(SAMPLES // 3):
        t = time.perf_counter()
        sessions.checkpoint(
            store,
            sessions.CheckpointInput(
                session_id=sid, summary=f"sample {i}", next_steps=["next"], files_touched=_files(i)
            ),
            now + timedelta(seconds=i),
        )
        times.append((time.perf_counter() - t) * 1000)
    return times


def _measure_check(store: Store, sid: str) -> list[float]:
    """The file-collision check alone (what issue #19 found growing), in the same data."""
    now = datetime.now(UTC)
    times = []
    for i in range(SAMPLES):
        inp = sessions.CheckpointInput(session_id=sid, summary="x", files_touched=_files(i))
        t = time.perf_counter()
        sessions._collisions(store, inp, now)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _filled(root: Path, n: int) -> tuple[Store, float]:
    store = Store.open(DataDir.for_project(root), components())
    flywheel.install_starter(store, datetime.now(UTC))  # the file-collision check runs on every save
    _fast_import(store.ledger.path, n)
    t = time.perf_counter()
    store.rebuild()
    rebuild_s = time.perf_counter() - t
    count = store.db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    assert count == n, count
    return store, rebuild_s


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-bench-"))
    small, _ = _filled(tmp / "small", SMALL)
    full, rebuild_s = _filled(tmp / "full", STORED)
    sid = "ses-bench-00007"
    # Interleaved rounds, so drift on a shared machine hits both sizes alike.
    small_times: list[float] = []
    times: list[float] = []
    for _ in range(3):
        small_times += _measure(small, sid)
        times += _measure(full, sid)
    check_small, check = _measure_check(small, sid), _measure_check(full, sid)
    p50_small, p50 = pct(small_times, 50), pct(times, 50)
    print(f"{SESSIONS} open sessions, file-collision check active; rebuild of {STORED}: {rebuild_s:.1f}s")
    print(f"checkpoint_save with {SMALL} stored: p50 {p50_small:.1f} ms, p95 {pct(small_times, 95):.1f} ms")
    print(f"checkpoint_save with {STORED} stored: p50 {p50:.1f} ms, p95 {pct(times, 95):.1f} ms")
    print(f"ratio p50 {STORED}/{SMALL}: {p50 / p50_small:.2f}x (target <= 1.3x)")
    c50_small, c50 = pct(check_small, 50), pct(check, 50)
    print(f"the collision check alone: p50 {c50_small:.2f} ms with {SMALL}, {c50:.2f} ms with {STORED}")
    result(f"checkpoint_save_p50_{STORED}_vs_{SMALL}", p50, p50_small, "ms", "<=1.3x")
    result(f"collision_check_p50_{STORED}_vs_{SMALL}", c50, c50_small, "ms", "flat")
    result(f"checkpoint_save_p95_{STORED}", pct(times, 95), None, "ms", "<100ms abs")
    result(f"rebuild_{STORED}_checkpoints", rebuild_s * 1000, None, "ms", "report")


if __name__ == "__main__":
    main()
