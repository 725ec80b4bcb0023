"""Ledger write cost and disk as records pile up (issue #19): `pattern_record` and `checkpoint_save`
p50 with 100 vs 10,000 records stored (target: ≤ 1.3×), and the ledger's disk against its packed
size (target: ≤ 2× at any time).

Data, generated (the shapes users' ledgers have, not real users' records):
- patterns: real pattern files written through `records.save_many` (the write path
  `pattern_record` and mining use, so they land wherever the code under test files them), 500 per
  commit to fill fast; then `records.record` (what the `pattern_record` tool calls) is timed.
- checkpoints: one commit per checkpoint (as the server writes them), spread over 100 open
  sessions, generated with `git fast-import` and indexed with `Store.rebuild`; then
  `sessions.checkpoint` (what `checkpoint_save` calls) is timed. No guardrails are installed, so
  the file-collision check (its own item of issue #19, `bench_checkpoint.py`) stays out of this.

The ledgers take turns of PER_TURN (4) writes, small and full alternating, so a busy machine's
drift hits both alike (turns of 40 writes gave ratios that swung 1.2-1.5x from run to run).
The timed rounds start BENCH_LEDGER_SETTLE (60) seconds after the fills, once `sync` has flushed
them. The fill is far faster than any user: in seconds the packer deletes the 10,000-record
ledger's ~40,000 loose objects, and on this machine's ext4 a file created in the same block group
for a while after such a mass delete cost 1.2-1.6 ms instead of 0.05 ms (a plain loop reproduced
it: a directory elsewhere on the disk and a hard link were not slowed; it was not seen every time).
A write creates about ten files (objects, the record, git's lock files), so the first writes
after the fill pay that, which says nothing about the ledger's size. They are still measured:
the first BENCH_LEDGER_EARLY (20) writes of each ledger right after its fill are reported on
their own line, without a target.
Disk: what `.git/objects` plus the git index files take on disk (allocated blocks, as `du` counts:
a loose object takes a whole 4 KiB block however small it is; earlier versions of this script
summed file sizes, which made loose objects look 4-8x cheaper), against the same of a copy packed with
`git gc --prune=now`: right after the bulk fill (the worst moment: the fill's commits come faster
than any packer, and the sample is taken before waiting for it) and once the background packer is
done; then sampled after every 10th timed write on the full ledgers, and at rest at the end.
Run it against another checkout with `PYTHONPATH=<dir holding that checkout's factorops/>`.
BENCH_LEDGER_RECORDS (10000), BENCH_LEDGER_SMALL (100), BENCH_SAMPLES (120) change the sizes
(`run_all.py --quick`: 1000, 50, 12, no settling).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import pct, quick, result  # noqa: E402

import factorops.store.ledger as ledger_module  # noqa: E402
from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.kernel.ids import new_id  # noqa: E402
from factorops.tools.patterns import records  # noqa: E402
from factorops.tools.patterns.model import Pattern  # noqa: E402
from factorops.tools.registry import components  # noqa: E402
from factorops.tools.sessions import lifecycle as sessions  # noqa: E402

QUICK = quick()  # run_all.py --quick: small sizes, no settling, same code paths
LARGE = int(os.environ.get("BENCH_LEDGER_RECORDS", "1000" if QUICK else "10000"))
SMALL = int(os.environ.get("BENCH_LEDGER_SMALL", "50" if QUICK else "100"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "12" if QUICK else "120"))
SETTLE = float(os.environ.get("BENCH_LEDGER_SETTLE", "0" if QUICK else "60"))
EARLY = int(os.environ.get("BENCH_LEDGER_EARLY", "4" if QUICK else "20"))
PER_TURN = 4  # writes a ledger gets before the next one's turn (small, full, small, full, ...)
SESSIONS = 100
BATCH = 500


def _disk_kib(ledger: Path) -> int:
    gitdir = ledger / ".git"
    total = 0
    paths = [Path(root) / f for root, _dirs, files in os.walk(gitdir / "objects") for f in files]
    paths += [f for f in gitdir.iterdir() if f.name == "index" or f.name.startswith("sharedindex.")]
    for path in paths:
        with suppress(FileNotFoundError):  # the background packer removed it meanwhile
            total += path.stat().st_blocks * 512  # what the disk holds (`du`), blocks and all
    return total // 1024


def _packed_kib(ledger: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="factorops-bench-packed-") as tmp:
        copy = Path(tmp) / "ledger"
        shutil.copytree(ledger / ".git", copy / ".git")
        subprocess.run(["git", "gc", "-q", "--prune=now"], cwd=copy, check=True)
        return _disk_kib(copy)


def _pattern(i: int, now: datetime) -> Pattern:
    return Pattern(
        id=new_id("pat", now),
        title=f"Retry the flaky network call {i} with backoff",
        kind="pattern",
        status="candidate",
        problem=f"Calls to service {i % 37} time out under load; " + "the client gives up too early. " * 4,
        solution="Wrap the call in a retry with exponential backoff and jitter; cap it at 5 tries. " * 2,
        tags=["network", f"svc-{i % 37}"],
        scope=[f"src/client/svc_{i % 37}.py"],
        confidence=0.5,
        source="assistant",
        created=now,
        updated=now,
    )


def _fill_patterns(store: Store, n: int) -> None:
    now = datetime.now(UTC)
    for start in range(0, n, BATCH):
        batch = [_pattern(i, now + timedelta(microseconds=i)) for i in range(start, min(n, start + BATCH))]
        records.save_many(store, batch, f"bench: {len(batch)} patterns", {"Factor": "IX"})


def _fill_checkpoints(store: Store, n: int) -> list[str]:
    """n checkpoint commits over SESSIONS open sessions; returns the session ids."""
    ledger = store.ledger.path
    base = datetime.now(UTC) - timedelta(hours=1)
    parent = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ledger, capture_output=True, text=True).stdout
    lines: list[bytes] = []
    first = True

    def commit(path: str, data: dict[str, object], when: datetime) -> None:
        nonlocal first
        body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
        msg = b"bench record\n\nFactor: VI\n"
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer factorops <factorops@localhost> {int(when.timestamp())} +0000\n".encode())
        lines.append(f"data {len(msg)}\n".encode() + msg)
        if first:
            lines.append(f"from {parent.strip()}\n".encode())
            first = False
        lines.append(f"M 100644 inline {path}\n".encode())
        lines.append(f"data {len(body)}\n".encode() + body + b"\n")

    sids, dirs = [], {}
    for s in range(SESSIONS):
        when = base + timedelta(seconds=s)
        sid = f"ses-bench-{s:05d}"
        sids.append(sid)
        dirs[s] = f"sessions/{when:%Y-%m}/{sid}"
        started: dict[str, object] = {
            "id": sid,
            "goal": f"goal {s}",
            "tags": [],
            "started_at": when.isoformat(),
        }
        commit(f"{dirs[s]}/session.json", started, when)
    for i in range(n):
        s = i % SESSIONS
        when = base + timedelta(seconds=SESSIONS + i * 0.2)
        cid = f"ckp-bench-{i:06d}"
        data: dict[str, object] = {
            "id": cid,
            "session_id": sids[s],
            "summary": f"checkpoint {i}: " + "refactored the parser and ran the tests. " * 5,
            "next_steps": ["wire the CLI", "update the docs"],
            "decisions": ["keep the old format readable"],
            "open_questions": [],
            "files_touched": [f"src/mod_{(i * 7 + k * 13) % 400}.py" for k in range(5)],
            "created_at": when.isoformat(),
        }
        commit(f"{dirs[s]}/checkpoints/{cid}.json", data, when)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=ledger, input=b"".join(lines), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=ledger, check=True)
    store.rebuild()
    return sids


class Subject:
    """One ledger under test: its store, what to time on it, and its disk samples."""

    def __init__(self, root: Path, fill: Callable[[Store], object]) -> None:
        self.store = Store.open(DataDir.for_project(root), components())
        self.filled = fill(self.store)
        # The worst moment: right after the bulk fill, before any background packer caught up.
        self.after_fill = _disk_kib(self.store.ledger.path)
        _wait_packer(self.store)
        self.after_fill_rest = _disk_kib(self.store.ledger.path)
        self.after_fill_packed = _packed_kib(self.store.ledger.path)
        self.times: list[float] = []
        self.disk: list[int] = []
        self.writes = 0


def _wait_packer(store: Store) -> None:
    wait = getattr(store.ledger, "wait_packer", None)  # absent in older checkouts
    if wait is not None:
        wait()


def _time_patterns(sub: Subject, n: int, stamp: datetime) -> None:
    for _ in range(n):
        inp = records.PatternRecordInput(
            title=f"Measured pattern {sub.writes}",
            solution="Run the migrations before the tests; the fixtures assume the latest schema.",
            tags=["tests"],
        )
        t = time.perf_counter()
        records.record(sub.store, inp, stamp + timedelta(seconds=sub.writes))
        sub.times.append((time.perf_counter() - t) * 1000)
        sub.writes += 1
        if sub.writes % 10 == 0:
            sub.disk.append(_disk_kib(sub.store.ledger.path))


def _time_checkpoints(sub: Subject, n: int, stamp: datetime) -> None:
    sids = sub.filled
    assert isinstance(sids, list)
    for _ in range(n):
        inp = sessions.CheckpointInput(
            session_id=sids[sub.writes % len(sids)],
            summary=f"sample {sub.writes}",
            next_steps=["next"],
            files_touched=[f"src/mod_{(sub.writes + k) % 400}.py" for k in range(5)],
        )
        t = time.perf_counter()
        sessions.checkpoint(sub.store, inp, stamp + timedelta(seconds=sub.writes))
        sub.times.append((time.perf_counter() - t) * 1000)
        sub.writes += 1
        if sub.writes % 10 == 0:
            sub.disk.append(_disk_kib(sub.store.ledger.path))


def _report(what: str, small: Subject, large: Subject) -> None:
    p50_small, p50 = pct(small.times, 50), pct(large.times, 50)
    print(f"{what} with {SMALL} stored: p50 {p50_small:.1f} ms, p95 {pct(small.times, 95):.1f} ms")
    print(f"{what} with {LARGE} stored: p50 {p50:.1f} ms, p95 {pct(large.times, 95):.1f} ms")
    print(f"{what} ratio p50 {LARGE}/{SMALL}: {p50 / p50_small:.2f}x (target <= 1.3x)")
    fill, fill_rest, fill_packed = large.after_fill, large.after_fill_rest, large.after_fill_packed
    print(
        f"{what} ledger of {LARGE}, right after the bulk fill: disk {fill} KiB "
        f"({fill_rest} KiB once the packer finished); packed {fill_packed} KiB -> "
        f"{fill / fill_packed:.2f}x worst, {fill_rest / fill_packed:.2f}x at rest (target <= 2x)"
    )
    _wait_packer(large.store)
    packed = _packed_kib(large.store.ledger.path)
    now = _disk_kib(large.store.ledger.path)
    worst = max(large.disk) if large.disk else now
    print(
        f"{what} ledger of {LARGE}, after the timed writes: disk {now} KiB at rest, at most {worst} KiB "
        f"while writing; packed {packed} KiB -> {now / packed:.2f}x at rest, {worst / packed:.2f}x while "
        "writing (target <= 2x)"
    )
    result(f"{what}_p50_{LARGE}_vs_{SMALL}", p50, p50_small, "ms", "<=1.3x")
    result(f"{what}_disk_after_fill_vs_packed_{LARGE}", fill, fill_packed, "KiB", "<=2x")
    result(f"{what}_disk_max_vs_packed_{LARGE}", max(worst, now), packed, "KiB", "<=2x")
    result(f"{what}_disk_at_rest_vs_packed_{LARGE}", now, packed, "KiB", "<=2x")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-bench-ledger-"))
    print(f"code under test: {ledger_module.__file__}")
    t = time.perf_counter()
    pat_small = Subject(tmp / "pat-small", lambda s: _fill_patterns(s, SMALL))
    pat_large = Subject(tmp / "pat-large", lambda s: _fill_patterns(s, LARGE))
    ckp_small = Subject(tmp / "ckp-small", lambda s: _fill_checkpoints(s, SMALL))
    ckp_large = Subject(tmp / "ckp-large", lambda s: _fill_checkpoints(s, LARGE))
    print(f"filled 2 x {LARGE} + 2 x {SMALL} records in {time.perf_counter() - t:.0f}s")
    stamp = datetime.now(UTC)
    early: dict[str, list[float]] = {}
    for name, sub, timer in (
        ("pattern_record_small", pat_small, _time_patterns),
        ("pattern_record_large", pat_large, _time_patterns),
        ("checkpoint_save_small", ckp_small, _time_checkpoints),
        ("checkpoint_save_large", ckp_large, _time_checkpoints),
    ):
        timer(sub, EARLY, stamp)
        early[name], sub.times = sub.times, []
    for what in ("pattern_record", "checkpoint_save"):
        small, large = pct(early[f"{what}_small"], 50), pct(early[f"{what}_large"], 50)
        print(
            f"{what}, first {EARLY} writes right after the fills (no target): p50 {small:.1f} ms with "
            f"{SMALL}, {large:.1f} ms with {LARGE} -> {large / small:.2f}x"
        )
    os.sync()
    print(f"waiting {SETTLE:.0f} s for the disk to settle after the fills (see the docstring)", flush=True)
    time.sleep(SETTLE)
    per_round = PER_TURN
    for _ in range(max(1, SAMPLES // PER_TURN)):
        _time_patterns(pat_small, per_round, stamp)
        _time_patterns(pat_large, per_round, stamp)
        _time_checkpoints(ckp_small, per_round, stamp)
        _time_checkpoints(ckp_large, per_round, stamp)
    _report("pattern_record", pat_small, pat_large)
    _report("checkpoint_save", ckp_small, ckp_large)
    for sub in (pat_small, pat_large, ckp_small, ckp_large):
        sub.store.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
