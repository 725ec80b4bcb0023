"""patterns_search vs the reference MCP memory server's search_nodes, same 10,000 items, both over stdio.

Issue #5 asks for latency and response size side by side with `@modelcontextprotocol/server-memory`
(npm), goal >= 10x faster and a bounded response (that server returns every match). Both servers
are spawned as subprocesses and driven by the same `mcp.Client` over stdio, so transport and
client costs are equal. The memory server is installed with `npm install` into a cache dir at
bench time and loaded through its own `create_entities` tool (batches of 500). factorops gets the
same items (title = entity name, kind = entity type, problem and solution = observations) written
through its real index code before the server starts; its server opens that store as it is.

Queries are single words, because search_nodes matches the query as one substring of names, types
and observations: a word that occurs in the data is the fair case for both.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent))
from bench_patterns_search import vocabulary, zipf_words  # noqa: E402
from common import pct, result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.kernel.tokens import count_tokens  # noqa: E402
from factorops.tools.patterns import records as patterns  # noqa: E402
from factorops.tools.patterns.model import Pattern  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

ITEMS = int(os.environ.get("BENCH_ITEMS", "10000"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "100"))
PACKAGE = "@modelcontextprotocol/server-memory"
NODE_DIR = Path(
    os.environ.get("BENCH_NODE_DIR", Path.home() / ".cache" / "factorops-bench" / "server-memory")
)
KINDS = ("pattern", "anti-pattern", "guardrail")


def install_memory_server() -> Path:
    entry = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "server-memory" / "dist" / "index.js"
    if not entry.is_file():
        if shutil.which("npm") is None:
            raise SystemExit("npm is needed for this benchmark")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), PACKAGE],
            check=True,
            stdout=sys.stderr,
        )
    return entry


def items(rng: random.Random, vocab: list[str]) -> list[dict[str, object]]:
    return [
        {
            "name": f"{' '.join(zipf_words(rng, vocab, 6))} #{i}",
            "entityType": KINDS[i % 3],
            "observations": [" ".join(zipf_words(rng, vocab, 30)), " ".join(zipf_words(rng, vocab, 30))],
        }
        for i in range(ITEMS)
    ]


def load_factorops(root: Path, data: list[dict[str, object]]) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    store = Store.open(DataDir.for_project(root), components())
    with store.index.transaction() as db:
        for i, item in enumerate(data):
            obs = item["observations"]
            assert isinstance(obs, list)
            patterns.upsert(
                db,
                Pattern(
                    id=f"pat-{i:06d}",
                    title=str(item["name"]),
                    kind=item["entityType"],  # type: ignore[arg-type]
                    status="active",
                    problem=obs[0],
                    solution=obs[1],
                    created=now,
                    updated=now,
                ),
                "0" * 40,
            )
    store.close()


async def timed_calls(
    client: Client, tool: str, queries: list[str]
) -> tuple[list[float], list[int], list[int]]:
    for q in queries[:5]:
        await client.call_tool(tool, {"query": q})  # warm-up
    times, sizes, tokens = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        r = await client.call_tool(tool, {"query": q})
        times.append((time.perf_counter() - t0) * 1000)
        assert not r.is_error, r.content
        text = "".join(getattr(c, "text", "") for c in r.content)
        sizes.append(len(text.encode()))
        tokens.append(count_tokens(text))
    return times, sizes, tokens


async def run() -> None:
    entry = install_memory_server()
    rng = random.Random(3)
    vocab = vocabulary(rng)
    data = items(rng, vocab)
    # Words of middling frequency: each matches some hundreds of items, like a real topic word.
    queries = [vocab[rng.randrange(20, 400)] for _ in range(QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        load_factorops(root, data)
        ours_params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "factorops", "serve", "--project", str(root)],
            env=dict(os.environ),
        )
        theirs_params = StdioServerParameters(
            command="node",
            args=[str(entry)],
            env={**os.environ, "MEMORY_FILE_PATH": str(Path(tmp) / "memory.jsonl")},
        )
        async with Client(theirs_params) as theirs:  # type: ignore[arg-type]
            t0 = time.perf_counter()
            for start in range(0, len(data), 500):
                r = await theirs.call_tool("create_entities", {"entities": data[start : start + 500]})
                assert not r.is_error, r.content
            load_s = time.perf_counter() - t0
            their_t, their_b, their_tok = await timed_calls(theirs, "search_nodes", queries)
        async with Client(ours_params) as ours:  # type: ignore[arg-type]
            our_t, our_b, our_tok = await timed_calls(ours, "patterns_search", queries)
    print(f"{ITEMS} items, {QUERIES} single-word queries; memory server loaded in {load_s:.1f}s")
    for name, t, b, tok in (
        ("patterns_search", our_t, our_b, our_tok),
        ("search_nodes", their_t, their_b, their_tok),
    ):
        print(
            f"{name:<16} p50 {pct(t, 50):7.2f} ms  p95 {pct(t, 95):7.2f} ms  "
            f"response median {pct(b, 50) / 1024:8.1f} KiB  max {max(b) / 1024:8.1f} KiB  "
            f"median {pct(tok, 50):,} tokens"
        )
    result("stdio_search_p50_ms_vs_memory_server", pct(our_t, 50), pct(their_t, 50), "ms", "ratio<=0.1")
    result("stdio_search_p95_ms_vs_memory_server", pct(our_t, 95), pct(their_t, 95), "ms", "ratio<=0.1")
    result(
        "stdio_search_response_bytes_vs_memory_server", pct(our_b, 50), pct(their_b, 50), "bytes", "bounded"
    )
    print(json.dumps({"our_max_tokens": max(our_tok), "their_max_tokens": max(their_tok)}))


if __name__ == "__main__":
    anyio.run(run)
