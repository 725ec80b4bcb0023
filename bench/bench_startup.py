"""Start-up and stdio round trip of `factorops serve` against a hello-world server on the same SDK.

Targets (issue #3): launch -> `initialize` answered <= 1.3x the hello-world server; a
`session_resume` tools/call round trip <= 1.5x the hello-world tool at p50.

Raw JSON-RPC over the child's pipes, so the client's own cost is the same for both servers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median, pct, result  # noqa: E402

RUNS = 7
CALLS = 300


class Peer:
    def __init__(self, argv: list[str]) -> None:
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.next_id = 0

    def request(self, method: str, params: dict[str, object]) -> dict[str, object]:
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                return reply  # type: ignore[no-any-return]

    def notify(self, method: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "method": method}) + "\n").encode())
        self.proc.stdin.flush()

    def initialize(self) -> float:
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        elapsed = time.perf_counter() - self.t0
        self.notify("notifications/initialized")
        return elapsed

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-bench-"))
    subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    subprocess.run(
        [sys.executable, "-m", "factorops", "init", "--project", str(tmp)], check=True, capture_output=True
    )
    ours = [sys.executable, "-m", "factorops", "serve", "--project", str(tmp)]
    hello = [sys.executable, str(Path(__file__).parent / "hello_server.py")]

    start_ours: list[float] = []
    start_hello: list[float] = []
    for _ in range(RUNS):  # interleaved, so drift on a shared machine hits both alike
        for argv, sink in ((hello, start_hello), (ours, start_ours)):
            p = Peer(argv)
            sink.append(p.initialize())
            p.close()

    p = Peer(ours)
    p.initialize()
    p.request("tools/call", {"name": "session_start", "arguments": {"goal": "bench"}})
    h = Peer(hello)
    h.initialize()
    rt_ours: list[float] = []
    rt_hello: list[float] = []
    for _ in range(CALLS):
        t = time.perf_counter()
        h.request("tools/call", {"name": "hello", "arguments": {}})
        rt_hello.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        r = p.request("tools/call", {"name": "session_resume", "arguments": {}})
        rt_ours.append((time.perf_counter() - t) * 1000)
        assert not r["result"].get("isError"), r  # type: ignore[attr-defined]
    p.close()
    h.close()

    print(
        f"start-up to initialize, median of {RUNS}: factorops {median(start_ours) * 1000:.0f} ms, "
        f"hello-world {median(start_hello) * 1000:.0f} ms"
    )
    print(
        f"tools/call round trip p50/p95 over {CALLS}: session_resume {pct(rt_ours, 50):.2f}/{pct(rt_ours, 95):.2f} ms, "
        f"hello {pct(rt_hello, 50):.2f}/{pct(rt_hello, 95):.2f} ms"
    )
    result("startup_initialize", median(start_ours) * 1000, median(start_hello) * 1000, "ms", "<=1.3x")
    result("session_resume_rtt_p50", pct(rt_ours, 50), pct(rt_hello, 50), "ms", "<=1.5x")


if __name__ == "__main__":
    main()
