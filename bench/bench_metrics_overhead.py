"""What recording a metric costs on the cheapest tool call over stdio (issue #6: <= 5%).

Two real servers on the same project, one with FACTOROPS_METRICS=0; their calls are interleaved so
machine noise hits both alike. The tool is count_tokens on a tiny text: almost no work of its own,
so the recording cost is as visible as it can be.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_startup import Peer  # noqa: E402
from common import factorops_argv, pct, result  # noqa: E402

CALLS = 2000


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-metrics-"))
    subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    subprocess.run([*factorops_argv(), "init", "--project", str(tmp)], check=True, capture_output=True)
    argv = [*factorops_argv(), "serve", "--project", str(tmp)]
    os.environ["FACTOROPS_METRICS"] = "1"
    on = Peer(argv)
    os.environ["FACTOROPS_METRICS"] = "0"
    off = Peer(argv)
    del os.environ["FACTOROPS_METRICS"]
    for p in (on, off):
        p.initialize()
        p.request("tools/call", {"name": "count_tokens", "arguments": {"text": "warm up"}})
    t_on: list[float] = []
    t_off: list[float] = []
    call = {"name": "count_tokens", "arguments": {"text": "x"}}
    for i in range(CALLS):
        for peer, sink in ((on, t_on), (off, t_off)) if i % 2 else ((off, t_off), (on, t_on)):
            t = time.perf_counter()
            r = peer.request("tools/call", call)
            sink.append((time.perf_counter() - t) * 1000)
            assert not r["result"].get("isError"), r  # type: ignore[attr-defined]
    on.close()
    off.close()
    rows = subprocess.run(
        ["sqlite3", str(tmp / ".agentops" / "agentops.db"), "SELECT COUNT(*) FROM events"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(
        f"count_tokens round trip p50: metrics on {pct(t_on, 50):.3f} ms, off {pct(t_off, 50):.3f} ms "
        f"(p95 {pct(t_on, 95):.3f} / {pct(t_off, 95):.3f}); events recorded: {rows or 'sqlite3 cli missing'}"
    )
    result("metrics_recording_overhead_p50", pct(t_on, 50), pct(t_off, 50), "ms", "<=1.05x")


if __name__ == "__main__":
    main()
