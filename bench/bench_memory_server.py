"""patterns_search vs the reference MCP memory server's search_nodes, same 10,000 items, both over stdio.

Issue #5 asks for latency and response size side by side with `@modelcontextprotocol/server-memory`
(npm), goal >= 10x faster and a bounded response (that server returns every match). Both servers
are spawned as subprocesses and driven by the same `mcp.Client` over stdio, so transport and
client costs are equal. The memory server is installed with `npm install` into a cache dir at
bench time and loaded through its own `create_entities` tool (batches of 500). factorops gets the
same items (title = entity name, kind = entity type, problem and solution = observations) written
through its real index code before the server starts; its server opens that store as it is.

Equal work (issue #14). search_nodes has no limit: it returns every entity whose name, type or an
observation contains the query as a substring. Comparing that unbounded dump with a top-5 measured
two different jobs (the earlier version did). So both now return their **full result set**:
- the queries are single words chosen so that the set of items holding the word as a substring is
  the same as the set holding it as a whole word (so substring and word matching agree) and has at
  most 50 items (the most `patterns_search` returns: it is called with `limit=50` and the largest
  token budget, so nothing is cut);
- both sides get the same items and the same queries, and the benchmark counts the results each
  client receives and reports any query where the counts differ from the expected set's size;
- reply size is what the client receives: the whole serialized `CallToolResult` (text content plus
  structured content), in bytes and o200k tokens, reported separately from latency.
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
from mcp.types import CallToolResult

sys.path.insert(0, str(Path(__file__).parent))
from bench_patterns_search import vocabulary, zipf_words  # noqa: E402
from common import factorops_argv, pct, result  # noqa: E402

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


MAX_RESULTS = 50  # patterns_search's largest limit


def item_text(d: dict[str, object]) -> str:
    """Everything search_nodes searches in an item: name, type, observations (lower case)."""
    obs = d["observations"]
    assert isinstance(obs, list)
    return " ".join([str(d["name"]), str(d["entityType"]), *map(str, obs)]).lower()


def equal_work_queries(rng: random.Random, vocab: list[str], data: list[dict[str, object]]) -> list[str]:
    """Words whose substring matches are exactly their whole-word matches, 5..MAX_RESULTS items."""
    texts = [item_text(d) for d in data]
    word_sets = [set(t.split()) for t in texts]
    picked: list[str] = []
    candidates = vocab[300:]
    rng.shuffle(candidates)
    for w in candidates:
        if len(picked) == QUERIES:
            break
        as_word = sum(1 for ws in word_sets if w in ws)
        if 5 <= as_word <= MAX_RESULTS and sum(1 for t in texts if w in t) == as_word:
            picked.append(w)
    return picked


def count_results(tool: str, r: CallToolResult) -> int:
    if tool == "search_nodes":
        text = "".join(getattr(c, "text", "") for c in r.content)
        return len(json.loads(text)["entities"])
    assert r.structured_content is not None
    return len(r.structured_content["results"])


async def timed_calls(
    client: Client, tool: str, queries: list[str], extra: dict[str, object]
) -> tuple[list[float], list[int], list[int], list[int]]:
    for q in queries[:5]:
        await client.call_tool(tool, {"query": q, **extra})  # warm-up
    times, sizes, tokens, counts = [], [], [], []
    for q in queries:
        t0 = time.perf_counter()
        r = await client.call_tool(tool, {"query": q, **extra})
        times.append((time.perf_counter() - t0) * 1000)
        assert not r.is_error, r.content
        received = r.model_dump_json(by_alias=True, exclude_none=True)
        sizes.append(len(received.encode()))
        tokens.append(count_tokens(received))
        counts.append(count_results(tool, r))
    return times, sizes, tokens, counts


async def run() -> None:
    entry = install_memory_server()
    rng = random.Random(3)
    vocab = vocabulary(rng)
    data = items(rng, vocab)
    queries = equal_work_queries(rng, vocab, data)
    expected = [sum(1 for d in data if q in item_text(d).split()) for q in queries]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        load_factorops(root, data)
        ours_params = StdioServerParameters(
            command=factorops_argv()[0],
            args=[*factorops_argv()[1:], "serve", "--project", str(root)],
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
            their_t, their_b, their_tok, their_n = await timed_calls(theirs, "search_nodes", queries, {})
        async with Client(ours_params) as ours:  # type: ignore[arg-type]
            our_t, our_b, our_tok, our_n = await timed_calls(
                ours, "patterns_search", queries, {"limit": MAX_RESULTS, "budget_tokens": 20_000}
            )
    print(
        f"{ITEMS} items, {len(queries)} single-word queries matching {min(expected)}-{max(expected)} items "
        f"(same set by substring and by word); memory server loaded in {load_s:.1f}s"
    )
    for name, n in (("patterns_search", our_n), ("search_nodes", their_n)):
        off = [(q, e, g) for q, e, g in zip(queries, expected, n, strict=True) if e != g]
        print(
            f"{name:<16} received {sum(n)} results in all, expected {sum(expected)}; queries off: {off[:5]}"
        )
    for name, t, b, tok in (
        ("patterns_search", our_t, our_b, our_tok),
        ("search_nodes", their_t, their_b, their_tok),
    ):
        print(
            f"{name:<16} p50 {pct(t, 50):7.2f} ms  p95 {pct(t, 95):7.2f} ms  "
            f"received median {pct(b, 50) / 1024:8.1f} KiB  max {max(b) / 1024:8.1f} KiB  "
            f"median {pct(tok, 50):,} tokens"
        )
    result("stdio_search_p50_ms_vs_memory_server", pct(our_t, 50), pct(their_t, 50), "ms", "ratio<=0.1")
    result("stdio_search_p95_ms_vs_memory_server", pct(our_t, 95), pct(their_t, 95), "ms", "ratio<=0.1")
    result(
        "stdio_search_received_bytes_vs_memory_server", pct(our_b, 50), pct(their_b, 50), "bytes", "report"
    )
    result("stdio_search_results_received_vs_expected", sum(our_n), sum(expected), "results", "ratio==1")
    print(json.dumps({"our_max_tokens": max(our_tok), "their_max_tokens": max(their_tok)}))


if __name__ == "__main__":
    anyio.run(run)
