"""Load and fault suite over the real HTTP server: bounded, loopback only, stops by itself.

- Load: 8 concurrent clients x 500 mixed calls (writes and reads) -> 0 failed calls; prints p50/p95.
- kill -9: 50 trials, each killing the server while two clients write -> integrity_check ok, git
  fsck clean, every acknowledged write in both the index and the ledger, and the server serves on.
- Full disk (a small tmpfs) and a read-only data dir (tmpfs remounted ro) -> clear "storage:" tool
  errors or a clear CLI refusal, never corruption; once space is back, writing works again.

Sizes can be lowered for a quick local run: FACTOROPS_LOAD_CALLS, FACTOROPS_KILL_TRIALS.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

from .conftest import commit_files, git, tmpfs
from .spawn import http_client, start_http_server

pytestmark = pytest.mark.slow

LOAD_CLIENTS = 8
LOAD_CALLS = int(os.environ.get("FACTOROPS_LOAD_CALLS", "500"))
KILL_TRIALS = int(os.environ.get("FACTOROPS_KILL_TRIALS", "50"))


def new_project(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    files = {f"src/mod_{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(20)}
    files["README.md"] = "# load target\n\nA small project the load test reads.\n"
    commit_files(root, files, "initial layout")
    return root


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def checkpoint_ids_in_ledger(ledger: Path) -> set[str]:
    names = git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    return {Path(p).stem for p in names if "/checkpoints/" in p}


def assert_storage_clean(data: Path) -> set[str]:
    """integrity_check and fsck clean; returns the checkpoint ids the index holds."""
    conn = sqlite3.connect(data / "agentops.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_db = {r[0] for r in conn.execute("SELECT id FROM checkpoints")}
    finally:
        conn.close()
    fsck = subprocess.run(
        ["git", "fsck", "--no-dangling"], cwd=data / "ledger", capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    return in_db


# -- load --------------------------------------------------------------------------------------------


def mixed_call(rng: random.Random, sid: str, n: int) -> tuple[str, dict[str, Any]]:
    roll = rng.random()
    if roll < 0.25:
        return "checkpoint_save", {"session_id": sid, "summary": f"step {n}", "next_steps": [f"step {n + 1}"]}
    if roll < 0.45:
        return "session_resume", {"session_id": sid}
    if roll < 0.60:
        return "patterns_search", {"query": rng.choice(["tests", "retry", "lint", "deploy"])}
    if roll < 0.70:
        return "count_tokens", {"text": "the quick brown fox " * rng.randint(1, 50)}
    if roll < 0.80:
        return "guardrail_check", {
            "action": "run the tests",
            "command": "pytest -x",
            "paths": ["src/mod_1.py"],
        }
    if roll < 0.88:
        return "route_task", {"task": rng.choice(["fix the flaky test", "refactor the parser into modules"])}
    if roll < 0.93:
        return "metrics_report", {"period": "day"}
    return "context_load", {"task": "change f3 in mod_3", "paths": ["src/mod_3.py"], "budget_tokens": 2000}


async def test_load_8_clients_x_500_mixed_calls(tmp_path: Path) -> None:
    project = new_project(tmp_path / "load")
    srv = start_http_server(project)
    latencies: dict[str, list[float]] = {}
    failures: list[str] = []
    try:
        async with http_client(srv.url, srv.token) as c:
            seeded = await c.call_tool(
                "pattern_record", {"title": "Run the tests first", "solution": "pytest -x"}
            )
            assert not seeded.is_error, seeded.content

        async def one_client(i: int) -> None:
            rng = random.Random(i)
            async with http_client(srv.url, srv.token, read_timeout_seconds=120) as c:
                sid = (await c.call_tool("session_start", {"goal": f"load client {i}"})).structured_content[
                    "session_id"
                ]  # type: ignore[index]
                for n in range(LOAD_CALLS):
                    name, args = mixed_call(rng, sid, n)
                    t0 = time.perf_counter()
                    try:
                        r = await c.call_tool(name, args)
                    except Exception as exc:
                        failures.append(f"{name}: {type(exc).__name__}: {exc}")
                        continue
                    latencies.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
                    if r.is_error:
                        failures.append(f"{name}: {r.content[0].text[:200]}")  # type: ignore[union-attr]

        t0 = time.perf_counter()
        with anyio.fail_after(900):
            async with anyio.create_task_group() as tg:
                for i in range(LOAD_CLIENTS):
                    tg.start_soon(one_client, i)
        wall = time.perf_counter() - t0
    finally:
        code = srv.stop()
    assert not failures, failures[:10]
    assert code == 0
    every = [x for v in latencies.values() for x in v]
    assert len(every) == LOAD_CLIENTS * LOAD_CALLS
    print(
        f"\nload: {LOAD_CLIENTS} clients x {LOAD_CALLS} calls = {len(every)} calls in {wall:.1f} s "
        f"({len(every) / wall:.0f} calls/s), 0 failed; p50 {pct(every, 50):.1f} ms, p95 {pct(every, 95):.1f} ms"
    )
    for name in sorted(latencies):
        v = latencies[name]
        print(f"  {name:16} n={len(v):4}  p50 {pct(v, 50):7.1f} ms  p95 {pct(v, 95):7.1f} ms")
    in_db = assert_storage_clean(project / ".agentops")
    assert len(in_db) == len(latencies["checkpoint_save"])


# -- kill -9 -----------------------------------------------------------------------------------------


async def test_kill_9_during_http_writes_50_trials(tmp_path: Path) -> None:
    project = new_project(tmp_path / "crash")
    data = project / ".agentops"
    rng = random.Random(7)
    acked: list[str] = []
    sid: str | None = None
    kills = 0
    for _ in range(KILL_TRIALS):
        srv = start_http_server(project)
        if sid is None:
            async with http_client(srv.url, srv.token) as c:
                sid = (await c.call_tool("session_start", {"goal": "kill -9"})).structured_content[
                    "session_id"
                ]  # type: ignore[index]
        assert sid is not None

        first_ack = anyio.Event()

        async def writer(w: int, session_id: str, url: str, token: str, first_ack: anyio.Event) -> None:
            try:
                async with http_client(url, token, read_timeout_seconds=30) as c:
                    n = 0
                    while True:
                        r = await c.call_tool(
                            "checkpoint_save", {"session_id": session_id, "summary": f"w{w} {n}"}
                        )
                        if r.is_error:
                            raise AssertionError(r.content[0].text)  # type: ignore[union-attr]
                        acked.append(r.structured_content["checkpoint_id"])  # type: ignore[index]
                        first_ack.set()
                        n += 1
            except AssertionError:
                raise
            except Exception:  # noqa: S110 - the connection dies with the server: the point of the test
                pass

        async with anyio.create_task_group() as tg:
            for w in range(2):
                tg.start_soon(writer, w, sid, srv.url, srv.token, first_ack)
            # A random moment while writes flow: after the first acknowledged write, however long a
            # loaded machine takes to answer, not after a fixed time spent starting up.
            with anyio.move_on_after(60):
                await first_ack.wait()
            await anyio.sleep(rng.uniform(0.0, 0.5))
            os.kill(srv.proc.pid, signal.SIGKILL)
            kills += 1
            with anyio.move_on_after(10):
                srv.proc.wait()
            await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        assert srv.proc.poll() == -signal.SIGKILL
    assert kills == KILL_TRIALS and len(acked) >= KILL_TRIALS  # every trial wrote before its kill

    in_db = assert_storage_clean(data)
    in_ledger = checkpoint_ids_in_ledger(data / "ledger")
    assert not set(acked) - in_ledger, "acknowledged writes missing from the ledger"
    # The index may be behind until the next open catches it up; it must never hold what git lacks.
    assert in_db <= in_ledger
    srv = start_http_server(project)
    try:
        async with http_client(srv.url, srv.token) as c:
            r = await c.call_tool("session_resume", {"session_id": sid})
            assert not r.is_error and r.structured_content["checkpoints"] == len(in_ledger)  # type: ignore[index]
    finally:
        assert srv.stop() == 0
    assert set(acked) <= assert_storage_clean(data)
    print(
        f"\nkill -9: {KILL_TRIALS} trials, {len(acked)} acknowledged writes, all present; {len(in_ledger)} in ledger"
    )


# -- full disk and read-only data dir ----------------------------------------------------------------


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


async def test_full_disk_gives_clear_errors_and_no_corruption(tmp_path: Path) -> None:
    project = new_project(tmp_path / "full")
    # 2 MiB: a new store (index tables, the ledger with its split git index) takes about 0.55 MiB,
    # so 1 MiB was full before the first checkpoint and nothing was ever acknowledged.
    with tmpfs(tmp_path / "disk", "2m") as disk:
        data = disk / "data"
        runtime = Runtime(project=project, data_dir=data, use_roots=False)
        acked: list[str] = []
        errors: list[str] = []
        try:
            async with Client(build_app(runtime)) as c:
                sid = (await c.call_tool("session_start", {"goal": "fill the disk"})).structured_content[
                    "session_id"
                ]  # type: ignore[index]
                for n in range(400):
                    r = await c.call_tool(
                        "checkpoint_save", {"session_id": sid, "summary": f"{n} " + "x" * 3000}
                    )
                    if r.is_error:
                        errors.append(r.content[0].text)  # type: ignore[union-attr]
                    else:
                        acked.append(r.structured_content["checkpoint_id"])  # type: ignore[index]
                assert acked and errors, "the disk never filled up"
                for text in errors:
                    assert "storage:" in text and ("No space left" in text or "full" in text), text
                # Reads still answer on a full disk.
                resumed = await c.call_tool("session_resume", {"session_id": sid})
                assert not resumed.is_error, resumed.content
                in_db = assert_storage_clean(data)
                assert set(acked) <= in_db and set(acked) <= checkpoint_ids_in_ledger(data / "ledger")
                # Space comes back: the same running server writes again.
                remount(disk, "size=64m")
                again = await c.call_tool("checkpoint_save", {"session_id": sid, "summary": "after"})
                assert not again.is_error, again.content
                acked.append(again.structured_content["checkpoint_id"])  # type: ignore[index]
        finally:
            runtime.close()
        in_db = assert_storage_clean(data)
        assert set(acked) <= in_db and set(acked) <= checkpoint_ids_in_ledger(data / "ledger")
    print(f"\nfull disk: {len(acked)} writes acknowledged, {len(errors)} refused with a clear storage error")


async def test_read_only_data_dir_is_refused_clearly_and_left_intact(tmp_path: Path) -> None:
    project = new_project(tmp_path / "ro")
    with tmpfs(tmp_path / "disk", "32m") as disk:
        data = disk / "data"
        runtime = Runtime(project=project, data_dir=data, use_roots=False)
        async with Client(build_app(runtime)) as c:
            sid = (await c.call_tool("session_start", {"goal": "read-only"})).structured_content["session_id"]  # type: ignore[index]
            acked = [
                (
                    await c.call_tool("checkpoint_save", {"session_id": sid, "summary": f"s{i}"})
                ).structured_content["checkpoint_id"]  # type: ignore[index]
                for i in range(5)
            ]
        runtime.close()
        remount(disk, "ro")
        try:
            # The HTTP server refuses to start, saying why.
            out = subprocess.run(
                [sys.executable, "-m", "factorops", "serve", "--http", "--port", "0", "--project", str(project),
                 "--data-dir", str(data)],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert out.returncode == 2
            assert "Read-only file system" in out.stderr and str(data) in out.stderr
            # A server started on it answers every tool call with a clear storage error.
            ro_runtime = Runtime(project=project, data_dir=data, use_roots=False)
            async with Client(build_app(ro_runtime)) as c:
                for name, args in (
                    ("checkpoint_save", {"session_id": sid, "summary": "nope"}),
                    ("session_resume", {"session_id": sid}),
                ):
                    r = await c.call_tool(name, args)
                    assert r.is_error and "storage:" in r.content[0].text  # type: ignore[union-attr]
                    assert "Read-only file system" in r.content[0].text  # type: ignore[union-attr]
            ro_runtime.close()
        finally:
            remount(disk, "rw")
        in_db = assert_storage_clean(data)
        assert set(acked) <= in_db and set(acked) <= checkpoint_ids_in_ledger(data / "ledger")
