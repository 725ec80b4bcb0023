"""context_load's budget is the whole reply the client receives, and the default reply is client-safe.

Counted on the JSON text the in-process MCP client gets (content, manifest, reasons, left-outs,
warnings), with o200k_base, on a generated repository far larger than any budget tried.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.kernel.tokens import count_tokens

from .conftest import Clock, new_repo

WORDS = [
    "order",
    "invoice",
    "payment",
    "customer",
    "cart",
    "retry",
    "client",
    "session",
    "token",
    "cache",
    "index",
    "parser",
    "render",
    "config",
    "user",
    "account",
    "report",
    "export",
    "queue",
    "worker",
    "schedule",
    "billing",
    "refund",
    "discount",
    "shipment",
    "ledger",
    "audit",
]


def _module(i: int, rng: random.Random) -> str:
    a, b = rng.sample(WORDS, 2)
    parts = [f'"""The {a} {b} service, part {i}: validation, persistence and reporting."""\n\n']
    parts.append(
        "from __future__ import annotations\n\nimport logging\n\nlog = logging.getLogger(__name__)\n\n\n"
    )
    parts.append(f"class {a.title()}{b.title()}Service{i}:\n")
    parts.append(f'    """Keeps {a} records consistent with their {b}."""\n\n')
    parts.append("    def __init__(self, store: dict[str, object], limit: int = 100) -> None:\n")
    parts.append("        self.store = store\n        self.limit = limit\n\n")
    for m in range(rng.randrange(6, 12)):
        verb = rng.choice(["load", "save", "check", "merge", "split", "render", "count", "expire"])
        parts.append(f"    def {verb}_{rng.choice(WORDS)}_{m}(self, key: str, value: int = {m}) -> int:\n")
        parts.append(f'        """{verb.title()} one {rng.choice(WORDS)} entry and return its new size."""\n')
        for k in range(rng.randrange(4, 9)):
            parts.append(
                f"        step_{k} = len(key) * {k + 1} + value  # {rng.choice(WORDS)} {rng.choice(WORDS)}\n"
            )
        parts.append("        if value > self.limit:\n")
        parts.append(f'            log.warning("{a} %s over limit", key)\n            return self.limit\n')
        parts.append("        return value\n\n")
    parts.append(f"\ndef {a}_{b}_{i}(service: {a.title()}{b.title()}Service{i}) -> int:\n")
    parts.append(f"    return service.count_{a}_0('{b}') if hasattr(service, 'count_{a}_0') else 0\n")
    return "".join(parts)


@pytest.fixture
def big_repo(tmp_path: Path) -> Path:
    """About 150 modules, ~2,000 tokens each: far more than 10x the largest budget tried."""
    root = tmp_path / "big"
    root.mkdir()
    rng = random.Random(17)
    files = {f"svc/pkg{i % 8}/mod_{i:03d}.py": _module(i, rng) for i in range(150)}
    files["svc/__init__.py"] = ""

    new_repo(root, files, "services")
    return root


async def _call(c: Client, **args: Any) -> tuple[dict[str, Any], str]:
    r = await c.call_tool("context_load", args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content, r.content[0].text  # type: ignore[union-attr]


async def test_whole_reply_fits_the_budget(big_repo: Path, clock: Clock) -> None:
    total = sum(count_tokens(p.read_text()) for p in big_repo.rglob("*.py"))
    assert total > 10 * 20_000
    runtime = Runtime(project=big_repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        for budget in (300, 1_000, 2_000, 4_000, 8_000, 20_000):
            for task in ("the invoice refund service counts the wrong ledger entries", "retry audit export"):
                data, text = await _call(c, task=task, budget_tokens=budget)
                cost = count_tokens(text)
                print(f"budget {budget}: reply {cost} tokens ({cost / budget:.2f})")
                assert cost <= budget * 1.05, (budget, cost)
                # the budget is used, not wasted (to within 5%, or one repo-map line at tiny budgets)
                assert cost >= min(budget * 0.95, budget - 30), (budget, cost)
                assert abs(data["tokens"] - cost) <= 2, (data["tokens"], cost)
    runtime.close()


async def test_default_reply_is_client_safe(big_repo: Path, clock: Clock) -> None:
    runtime = Runtime(project=big_repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data, text = await _call(c, task="the invoice refund service counts the wrong ledger entries")
        assert len(text) < 50_000
        assert data["tokens"] <= data["budget_tokens"] < 80_000  # the 40% rule alone would give 80k
        assert "budget_tokens" in data["more"] and "paths" in data["more"]
        # asking explicitly for more is honoured
        data, text = await _call(c, task="the invoice refund service", budget_tokens=30_000)
        assert len(text) > 50_000 and count_tokens(text) <= 30_000 * 1.05
    runtime.close()


async def test_reply_cap_is_configurable(big_repo: Path, clock: Clock) -> None:
    (big_repo / ".agentops").mkdir(exist_ok=True)
    (big_repo / ".agentops" / "config.toml").write_text("[context]\nmax_reply_chars = 12000\n")
    runtime = Runtime(project=big_repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data, text = await _call(c, task="the invoice refund service counts the wrong ledger entries")
        assert len(text) < 12_000 and data["items"]
    runtime.close()


async def test_tools_list_declares_the_result_size(big_repo: Path, clock: Clock) -> None:
    runtime = Runtime(project=big_repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert tools["context_load"].meta == {"anthropic/maxResultSizeChars": 50_000}
    runtime.close()
