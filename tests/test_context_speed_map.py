"""The repo map scores each definition name once per load (issue #19, warm loads).

A map line shows a file's definitions that best match the task; names repeat across files, so a
load keeps their relevance in a dict of its own. It must be the load's own: the next task scores
the same names again. The definitions a map line shows are kept per index generation, so an
edit reaches the next map. Through the in-process MCP client on a real git repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

from .conftest import commit_files, new_repo

FRUITS = ("apple", "banana", "cherry", "damson")


def _module(k: int) -> str:
    body = "".join(f"    total_{n} = amount * {n}\n" for n in range(40))  # too big to load whole
    return "".join(f"def {f}_price_{k}(amount):\n{body}    return amount\n\n\n" for f in FRUITS)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    new_repo(root, {f"shop/pricing_{k}.py": _module(k) for k in range(8)}, "initial import")
    return root


@pytest.fixture
def project(shop: Path) -> Path:
    return shop  # conftest's `runtime` serves the shop repository


async def _signatures(c: Client, task: str) -> list[str]:
    """The signature lines of the reply's repo map (one per file at a budget of 1,500 tokens)."""
    r = await c.call_tool("context_load", {"task": task, "budget_tokens": 1500})
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    content = (r.structured_content or {})["content"]
    _files, _header, repo_map = content.partition("=== repo map")
    return [line.strip() for line in repo_map.splitlines() if line.startswith("  L")]


async def test_each_task_maps_its_own_best_definitions(runtime: Runtime) -> None:
    async with Client(build_app(runtime)) as c:
        for fruit in ("apple", "cherry", "apple", "damson"):
            sigs = await _signatures(c, f"{fruit} price rounding")
            assert len(sigs) >= 3, sigs
            assert all(f"def {fruit}_price_" in s for s in sigs), (fruit, sigs)


async def test_an_edit_reaches_the_map_signatures(runtime: Runtime, shop: Path) -> None:
    """The definitions a map line shows are kept per index generation: a rename shows up next."""
    async with Client(build_app(runtime)) as c:
        sigs = await _signatures(c, "cherry price rounding")
        assert sigs and all("def cherry_price_" in s for s in sigs), sigs
        renamed = {
            f"shop/pricing_{k}.py": _module(k).replace(f"cherry_price_{k}", f"cherry_tariff_{k}")
            for k in range(8)
        }
        commit_files(shop, renamed, "rename")
        sigs = await _signatures(c, "cherry price rounding")
        assert sigs and not [s for s in sigs if "cherry_price_" in s], sigs


async def test_words_of_defined_names_are_matches_not_mentions(runtime: Runtime) -> None:
    """The words of a matched file's defined names are read for all the search's rows at once:
    'damson' is in no path, only in definitions (and their bodies), so it is a match."""
    async with Client(build_app(runtime)) as c:
        r = await c.call_tool("context_load", {"task": "damson price rounding", "budget_tokens": 1500})
    got = r.structured_content or {}
    whys = [i["why"] for i in got.get("items", [])]
    whys += [line for line in got["content"].splitlines() if line.startswith("shop/pricing_")]
    assert len(whys) >= 4, got
    assert all("matches damson, price" in w for w in whys), whys
