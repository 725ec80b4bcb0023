"""The first tool answers after start-up load no tokenizer (issue #19).

The o200k vocabulary costs ~190 ms and ~75 MiB; calls whose token count only sizes the reply use
`estimate_tokens` (which errs high) while everything fits, and count exactly when the budget cuts.
Each check runs in a fresh Python process (the tokenizer is per process) that talks to the server
through the MCP client, in-process, as tests/conftest.py does.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from factorops.tools.kernel.tokens import ESTIMATE_SLACK, count_tokens, estimate_tokens

from .conftest import probe_child

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, subprocess, sys
from pathlib import Path
import anyio
from mcp import Client
from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

project = Path(sys.argv[1])
calls = json.loads(sys.argv[2])
subprocess.run(["git", "init", "-q", str(project)], check=True)

async def main() -> None:
    runtime = Runtime(project=project, use_roots=False)  # starter guardrails, as a user's first use
    out = []
    async with Client(build_app(runtime)) as client:
        for name, args in calls:
            res = await client.call_tool(name, args)
            assert not res.is_error, res
            out.append(res.structured_content)
    runtime.close()
    print("RESULTS", json.dumps({"tokenizer": "tiktoken" in sys.modules, "results": out}))

anyio.run(main)
"""


def run_first_calls(tmp_path: Path, calls: list[tuple[str, dict[str, object]]]) -> dict[str, object]:
    got: dict[str, object] = probe_child(tmp_path, _PROBE, calls, "RESULTS", timeout=120)
    return got


def test_first_calls_load_no_tokenizer(tmp_path: Path) -> None:
    got = run_first_calls(
        tmp_path,
        [
            ("patterns_search", {"query": "force push"}),
            ("guardrail_check", {"command": "git push --force"}),
            ("patterns_search", {"query": "commit", "kind": "guardrail"}),
        ],
    )
    search = got["results"][0]  # type: ignore[index]
    assert search["results"], "the starter guardrails match 'force push'"
    assert not search.get("truncated")
    # the estimate errs high: never below what the reply really costs
    exact = sum(
        count_tokens(json.dumps(hit, separators=(",", ":"), ensure_ascii=False)) for hit in search["results"]
    )
    assert search["tokens"] >= exact
    assert got["tokenizer"] is False


def test_a_search_the_budget_cuts_counts_exactly(tmp_path: Path) -> None:
    got = run_first_calls(
        tmp_path, [("patterns_search", {"query": "push", "limit": 20, "budget_tokens": 60})]
    )
    search = got["results"][0]  # type: ignore[index]
    assert search["truncated"] is True
    exact = sum(
        count_tokens(json.dumps(hit, separators=(",", ":"), ensure_ascii=False)) for hit in search["results"]
    )
    assert search["tokens"] == exact <= 60
    assert got["tokenizer"] is True


def _texts() -> list[str]:
    files = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    files += sorted((ROOT / "tools").rglob("*.py"))
    files += sorted((ROOT / "tools" / "guardrails" / "data").glob("*"))
    out = []
    for f in files:
        text = f.read_text(errors="replace")
        out += [text[i : i + 300] for i in range(0, len(text), 300)]
    return out


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "日本語のテキスト",
        "x" * 1000,
        "    indented = 1_000_000\n",
        '{"a":[1,2,3]}',
        "é" * 50,
    ],
)
def test_estimate_is_not_below_the_exact_count(text: str) -> None:
    assert estimate_tokens(text) >= count_tokens(text)


def test_estimate_holds_on_random_base64() -> None:
    """Base64 blobs (keys, inlined images) tokenize at ~1.5 characters a token: the estimate of
    words full of capitals must follow, or a reply sized by it overspends."""
    rnd = random.Random(20261126)
    for _ in range(20):
        text = base64.b64encode(rnd.randbytes(rnd.randint(30, 900))).decode()
        assert estimate_tokens(text) * ESTIMATE_SLACK >= count_tokens(text), text[:60]


def test_estimate_errs_high_but_not_wildly_on_real_text() -> None:
    texts = _texts()
    below = [t for t in texts if estimate_tokens(t) * ESTIMATE_SLACK < count_tokens(t)]
    assert not below, f"{len(below)} of {len(texts)} chunks estimated too low, e.g. {below[0]!r}"
    ratio = sum(estimate_tokens(t) for t in texts) / sum(count_tokens(t) for t in texts)
    assert 1.0 <= ratio <= 2.0
