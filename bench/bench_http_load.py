"""`factorops serve --http` under load, against a hello-world server on the same SDK and uvicorn.

Both servers run as real processes on loopback and are called by the same SDK client (the bearer
header is sent to both; the hello server ignores it), so the ratio is the cost of factorops itself:
token check, Host/Origin checks, our drain layer, the store, metrics.

- http_call_p50: one client, sequential calls; factorops `session_resume` vs hello `hello`.
- http_8_clients_p95: 8 clients at once; same calls; p95 of each side.
- http_8_clients_writes_per_s: 8 clients writing checkpoints, against the same clients reading
  (writes serialise on the ledger lock; this shows what that costs).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, str(Path(__file__).parent))
from common import factorops_argv, pct, result  # noqa: E402

SEQUENTIAL = 300
CLIENTS = 8
PER_CLIENT = 100

HELLO_HTTP = """
import sys, uvicorn
sys.path.insert(0, sys.argv[2])
from hello_server import app
uvicorn.run(app.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def start_ours(project: Path) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            *factorops_argv(),
            "serve",
            "--http",
            "--port",
            str(port),
            "--project",
            str(project),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wait_listening(port, proc)
    token = (project / ".agentops" / "http_token").read_text().strip()
    return proc, f"http://127.0.0.1:{port}/mcp", token


def start_hello() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", HELLO_HTTP, str(port), str(Path(__file__).parent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wait_listening(port, proc)
    return proc, f"http://127.0.0.1:{port}/mcp"


async def timed_calls(
    url: str, token: str, tool: str, args: dict[str, Any], n: int, sink: list[float]
) -> None:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as c,
    ):
        await c.call_tool(tool, args)  # warm-up: session, imports, first store access
        for _ in range(n):
            t = time.perf_counter()
            r = await c.call_tool(tool, args)
            sink.append((time.perf_counter() - t) * 1000)
            if r.is_error:
                raise RuntimeError(f"{tool} failed: {r.content}")


async def concurrent(url: str, token: str, tool: str, args: dict[str, Any]) -> tuple[list[float], float]:
    times: list[float] = []
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(CLIENTS):
            tg.start_soon(timed_calls, url, token, tool, args, PER_CLIENT, times)
    return times, time.perf_counter() - t0


async def run(project: Path) -> None:
    ours, ours_url, token = start_ours(project)
    hello, hello_url = start_hello()
    try:
        async with (
            create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(ours_url, http_client=http)) as c,
        ):
            started = await c.call_tool("session_start", {"goal": "bench"})
            sid = started.structured_content["session_id"]  # type: ignore[index]
        resume = {"session_id": sid}
        seq_ours: list[float] = []
        seq_hello: list[float] = []
        for _ in range(3):  # interleaved rounds, so drift on a shared machine hits both alike
            await timed_calls(hello_url, token, "hello", {}, SEQUENTIAL // 3, seq_hello)
            await timed_calls(ours_url, token, "session_resume", resume, SEQUENTIAL // 3, seq_ours)
        conc_hello, _ = await concurrent(hello_url, token, "hello", {})
        conc_ours, read_wall = await concurrent(ours_url, token, "session_resume", resume)
        writes, write_wall = await concurrent(
            ours_url, token, "checkpoint_save", {"session_id": sid, "summary": "bench write"}
        )
    finally:
        for proc in (ours, hello):
            proc.terminate()
            proc.wait(timeout=60)

    reads_per_s = len(conc_ours) / read_wall
    writes_per_s = len(writes) / write_wall
    print(
        f"1 client, {SEQUENTIAL} calls: session_resume p50/p95 {pct(seq_ours, 50):.2f}/{pct(seq_ours, 95):.2f} ms; "
        f"hello {pct(seq_hello, 50):.2f}/{pct(seq_hello, 95):.2f} ms"
    )
    print(
        f"{CLIENTS} clients x {PER_CLIENT}: session_resume p50/p95 {pct(conc_ours, 50):.2f}/{pct(conc_ours, 95):.2f} ms "
        f"({reads_per_s:.0f}/s); hello {pct(conc_hello, 50):.2f}/{pct(conc_hello, 95):.2f} ms; "
        f"checkpoint_save p50/p95 {pct(writes, 50):.2f}/{pct(writes, 95):.2f} ms ({writes_per_s:.0f}/s)"
    )
    result("http_call_p50", pct(seq_ours, 50), pct(seq_hello, 50), "ms", "<=1.5x")
    result("http_8_clients_p95", pct(conc_ours, 95), pct(conc_hello, 95), "ms", "<=2x")
    result("http_8_clients_writes_per_s", writes_per_s, reads_per_s, "calls/s", "report")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="factorops-bench-http-"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b"}
    env["GIT_COMMITTER_EMAIL"] = "b@b"
    subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp), "commit", "-q", "--allow-empty", "-m", "init"], check=True, env=env
    )
    out = subprocess.run([*factorops_argv(), "init", "--project", str(tmp)], capture_output=True, text=True)
    if out.returncode != 0 or not re.search(r"data dir ready", out.stdout):
        raise SystemExit(f"factorops init failed: {out.stderr}")
    anyio.run(run, tmp)


if __name__ == "__main__":
    main()
