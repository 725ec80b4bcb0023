"""The working tree's listing is kept with git's output it came from (issue #19, warm loads).

A warm load on 10,000 files spent as long turning `git ls-files` output into entries as git took
to list them; now a listing whose `git ls-files -s` and `-m` bytes did not change reuses what the
last one decided. What it must never reuse is a file's content id that can change under the same
name: a modified file edited again, an untracked file edited, a file staged or deleted. Through
the in-process MCP client on a real git repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

from .conftest import commit_files, git


def _module(name: str) -> str:
    return f'"""Levies."""\n\n\ndef {name}(amount):\n    return amount * 0.2\n'


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {"shop/levy.py": _module("zorblax")}
    files |= {f"shop/util_{i}.py": f"def helper_{i}(x):\n    return x * {i}\n" for i in range(6)}
    commit_files(root, files, "initial import")
    return root


@pytest.fixture
def project(shop: Path) -> Path:
    return shop  # conftest's `runtime` serves the shop repository


async def _named_by(c: Client, name: str) -> list[str]:
    """The files whose reason names `name` (a match on the index's words of their definitions)."""
    r = await c.call_tool("context_load", {"task": f"change {name}", "budget_tokens": 4000})
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    got: dict[str, Any] = r.structured_content or {}
    why = {i["path"]: i["why"] for i in got.get("items", [])}
    why |= {x["path"]: x["why"] for x in got.get("left_out", [])}
    why |= {line.split("  (", 1)[0]: line for line in got.get("content", "").splitlines() if "  (" in line}
    return sorted(p for p, w in why.items() if name in w)


async def test_a_modified_file_edited_again_reaches_the_next_load(runtime: Runtime, shop: Path) -> None:
    async with Client(build_app(runtime)) as c:
        assert await _named_by(c, "zorblax") == ["shop/levy.py"]
        (shop / "shop/levy.py").write_text(_module("quuxify"))  # modified: `ls-files -m` changes
        assert await _named_by(c, "quuxify") == ["shop/levy.py"]
        # Edited again: git's listings are byte for byte the same, the content is not.
        (shop / "shop/levy.py").write_text(_module("frobnicate"))
        assert await _named_by(c, "frobnicate") == ["shop/levy.py"]
        assert await _named_by(c, "quuxify") == []
        git(shop, "add", "shop/levy.py")  # staged: `ls-files -s` changes, nothing is modified
        (shop / "shop/levy.py").write_text(_module("wibblify"))
        assert await _named_by(c, "wibblify") == ["shop/levy.py"]
        git(shop, "add", "shop/levy.py")
        assert await _named_by(c, "wibblify") == ["shop/levy.py"]


async def test_untracked_and_deleted_files_reach_the_next_load(runtime: Runtime, shop: Path) -> None:
    async with Client(build_app(runtime)) as c:
        assert await _named_by(c, "zorblax") == ["shop/levy.py"]
        (shop / "shop/extra.py").write_text(_module("snarfle"))
        assert await _named_by(c, "snarfle") == ["shop/extra.py"]
        (shop / "shop/extra.py").write_text(_module("glorpish"))  # the same untracked listing
        assert await _named_by(c, "glorpish") == ["shop/extra.py"]
        (shop / "shop/levy.py").unlink()  # deleted in the working tree: listed as modified
        assert await _named_by(c, "zorblax") == []
        assert await _named_by(c, "glorpish") == ["shop/extra.py"]
