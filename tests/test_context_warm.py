"""A warm context_load (issue #19): what depends only on the index is kept per index generation.

Through the in-process MCP client on a real git repository. The statements a call runs are seen
with SQLite's own trace callback on the store's connection (no mock): a warm call with nothing
changed must not read every indexed path again, nor join references to definitions again; and an
edit (a new index generation) must show up in the next answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

from .conftest import commit_files, git

CORE = '''"""Invoices."""


class Invoice:
    def __init__(self, total):
        self.total = total


def parse_invoice(text):
    return Invoice(float(text))


def round_total(invoice):
    return round(invoice.total, 2)
'''


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {
        "shop/core.py": CORE,
        "shop/billing.py": "from .core import parse_invoice\n\n\ndef bill(text):\n    return parse_invoice(text)\n",
        "shop/report.py": "from .core import Invoice\n\n\ndef show(inv: Invoice):\n    return str(inv.total)\n",
    }
    files |= {f"shop/util_{i}.py": f"def helper_{i}(x):\n    return x * {i}\n" for i in range(8)}
    commit_files(root, files, "initial import")
    return root


@pytest.fixture
def project(shop: Path) -> Path:
    return shop  # conftest's `runtime` serves the shop repository


async def _load(c: Client, **args: Any) -> dict[str, Any]:
    r = await c.call_tool("context_load", args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def test_a_warm_load_reads_no_path_listing_and_no_reference_join(runtime: Runtime) -> None:
    async with Client(build_app(runtime)) as c:
        first = await _load(c, task="fix rounding in round_total", budget_tokens=2000)
        statements: list[str] = []
        conns = [db.conn for db in runtime.store_sync().index._all]  # one per thread that used it
        for conn in conns:
            conn.set_trace_callback(statements.append)
        try:
            warm = await _load(c, task="fix rounding in round_total", budget_tokens=2000)
        finally:
            for conn in conns:
                conn.set_trace_callback(None)
    assert any("repo_fts" in s for s in statements)  # the call was seen: it searched the index
    assert warm == first
    flat = [" ".join(s.split()) for s in statements]
    # every indexed path, read again (the 10,000-row listing of a big repository)
    assert not [s for s in flat if s.startswith("SELECT path FROM repo_files") and "WHERE" not in s]
    # the reference graph's join of references to the names' definitions, done again
    assert not [s for s in flat if "repo_names" in s], flat


async def test_an_edit_reaches_the_next_warm_load(runtime: Runtime, shop: Path) -> None:
    async with Client(build_app(runtime)) as c:
        before = await _load(c, task="tidy up", paths=["shop/core.py"], budget_tokens=8000)
        assert "shop/audit.py" not in str(before)
        # A new file whose only tie to the task is that it uses what core.py defines.
        commit_files(
            shop,
            {
                "shop/audit.py": "from .core import round_total\n\n\ndef check(inv):\n    return round_total(inv)\n"
            },
            "audit",
        )
        after = await _load(c, task="tidy up", paths=["shop/core.py"], budget_tokens=8000)
    listed = {i["path"]: i["why"] for i in after["items"]}
    listed |= {line.split("  (", 1)[0]: line for line in after["content"].splitlines() if "audit" in line}
    assert "shop/audit.py" in listed, after["content"]
    assert "round_total of core.py" in str(listed["shop/audit.py"])


async def test_a_new_commit_reaches_the_co_change_signal(runtime: Runtime, shop: Path) -> None:
    """Co-change is kept per HEAD: a commit made between two loads counts in the second."""
    async with Client(build_app(runtime)) as c:
        for n in range(2):
            commit_files(shop, {"shop/billing.py": f"# {n}\n", "shop/util_1.py": f"# {n}\n"}, f"pair {n}")
        before = await _load(c, task="tidy up", paths=["shop/billing.py"], budget_tokens=8000)
        assert "changes with shop/billing.py" in str(before)
        assert "shop/util_2.py  (changes with" not in before["content"]
        for n in range(3):
            commit_files(
                shop, {"shop/billing.py": f"# again {n}\n", "shop/util_2.py": f"# {n}\n"}, f"again {n}"
            )
        after = await _load(c, task="tidy up", paths=["shop/billing.py"], budget_tokens=8000)
    reasons = {i["path"]: i["why"] for i in after["items"]}
    reasons |= {line.split("  (", 1)[0]: line for line in after["content"].splitlines() if "  (" in line}
    assert "changes with shop/billing.py" in str(reasons.get("shop/util_2.py")), after["content"]
