"""context_load's ranking and packing where the evaluation (bench/eval_context) found it losing.

Through the in-process MCP client, on a generated git repository: a task matching nothing still gets
a repo map of the central files; tests, config and docs rank below the source they belong to; at a
small budget one big file does not take the whole reply, and files named after the task's words
are named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.kernel.tokens import count_tokens

from .conftest import Clock, commit_files, git

FILLER = ["ledger", "invoice", "shipment", "account", "report", "export", "audit", "billing", "refund"]


def _filler(name: str, i: int) -> str:
    out = [f'"""The {name} module: keeps {name} records."""\n\nfrom app.core import Registry, emit\n']
    if i % 3 == 0:
        out.append("from app.compat import PY_3_14, get_annotations\n")
    out.append("\n\n")
    for m in range(6):
        out.append(f"def {name}_step_{m}(registry: Registry, key: str) -> int:\n")
        out.append(f'    """One {name} step."""\n')
        out.append(f"    emit(registry, '{name}', key)\n    return len(key) * {m + i}\n\n\n")
    return "".join(out)


def _big_command(n: int) -> str:
    out = [
        '"""Commands: the root command, its flags and how it runs."""\n\nfrom app.core import Registry\n\n\n'
    ]
    out.append('class Command:\n    """A command with flags and completions."""\n\n')
    for m in range(n):
        out.append(f"    def flag_completion_{m}(self, name: str) -> list[str]:\n")
        out.append(f'        """Completions of flag {m}."""\n')
        for k in range(6):
            out.append(f"        value_{k} = [name] * {k + m}  # completion flags command {k}\n")
        out.append("        return value_0\n\n")
    return "".join(out)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files: dict[str, str] = {
        "src/app/__init__.py": "",
        "src/app/core.py": (
            '"""The registry every module uses."""\n\n\nclass Registry:\n    """Named entries."""\n\n'
            "    def __init__(self) -> None:\n        self.items: dict[str, int] = {}\n\n\n"
            "def emit(registry: Registry, kind: str, key: str) -> None:\n"
            "    registry.items[kind + key] = len(key)\n"
        ),
        "src/app/router.py": (
            '"""Routing requests to handlers."""\n\nfrom app.core import Registry\n\n\n'
            "class Router:\n    def add(self, path: str) -> None:\n        self.path = path\n\n"
            "    def match(self, path: str) -> bool:\n        return path.count('/') == self.path.count('/')\n"
        ),
        "src/app/pathutil.py": (
            '"""Helpers on paths."""\n\n\ndef is_hidden(path: str) -> bool:\n    return path.startswith(".")\n\n\n'
            "def strip_prefix(prefix: str, path: str) -> str:\n    return path[len(prefix) :]\n"
        ),
        "src/app/mmap.py": (
            '"""Reading files through the operating system\'s page cache."""\n\n\n'
            "class MmapChoice:\n    def open(self, name: str) -> bytes:\n        return name.encode()\n"
        ),
        "src/app/sink.py": (
            '"""Where search results go: sequential readers hand each match to a sink."""\n\n'
            "from app.core import Registry\n\n\nclass Sink:\n    def sequential_reading(self, memory: bytes) -> int:\n"
            "        # memory map or sequential reading: the searcher decides\n        return len(memory)\n"
        ),
        "src/app/command.py": _big_command(60),
        "src/app/completions.py": (
            '"""Shell completions."""\n\nfrom app.command import Command\n\n\n'
            "def completion_getters(cmd: Command) -> list[str]:\n    return cmd.flag_completion_0('x')\n"
        ),
        "tests/test_router.py": (
            '"""Router tests: every slash a pattern consumes."""\n\nfrom app.router import Router\n\n\n'
            + "".join(
                f"def test_slash_pattern_{k}() -> None:\n    # count every slash the pattern consumes\n"
                f"    assert Router().match('/a/b/{k}')  # slash pattern consumes count\n\n\n"
                for k in range(12)
            )
        ),
        "src/app/router.spec.py": (  # named like its source (router): still a test
            '"""Router spec: slash patterns."""\n\nfrom app.router import Router\n\n\n'
            + "".join(
                f"def spec_slash_pattern_{k}() -> None:\n    # every slash a pattern consumes, count them\n"
                f"    assert Router().match('/x/{k}')  # slash pattern consumes count\n\n\n"
                for k in range(12)
            )
        ),
        "tox.ini": "[tox]\nenvlist = py3.13, py3.14\n\n[testenv:py3.14]\nrestore = basic functionality\n",
        ".readthedocs.yaml": "version: 2\nbuild:\n  python: '3.14'\n# restore basic functionality\n",
        "docs/changelog.md": "# Changes\n\n- restore basic functionality on 3.14\n- forward references\n",
        "src/app/compat.py": (
            '"""Differences between Python versions."""\n\nimport sys\n\nPY_3_14 = sys.version_info >= (3, 14)\n\n\n'
            "def get_annotations(cls: type) -> dict[str, object]:\n    return dict(getattr(cls, '__annotations__', {}))\n"
        ),
    }
    for i in range(4 * len(FILLER)):  # more files than a 2k map can name
        name = FILLER[i % len(FILLER)] + ("" if i < len(FILLER) else str(i // len(FILLER)))
        files[f"src/app/{name}.py"] = _filler(name, i)
    commit_files(root, files, "the app")
    return root


async def _load(c: Client, **args: Any) -> tuple[dict[str, Any], str]:
    r = await c.call_tool("context_load", args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content, r.content[0].text  # type: ignore[union-attr]


def _first(data: dict[str, Any]) -> dict[str, Any]:
    items: list[dict[str, Any]] = data.get("items", [])
    return items[0] if items else {}


def _named(data: dict[str, Any]) -> list[str]:
    """Every path the reply names: items, map, left-outs, best first."""
    return [
        *[i["path"] for i in data.get("items", [])],
        *data.get("map", []),
        *[x["path"] for x in data.get("left_out", [])],
    ]


async def test_task_matching_nothing_gets_the_central_files(repo: Path, clock: Clock) -> None:
    runtime = Runtime(project=repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        for budget in (1_000, 2_000):
            data, text = await _load(c, task="chore: qwzx to zz9 in prep for zz10", budget_tokens=budget)
            named = _named(data)
            assert named, text
            assert "src/app/core.py" in named[:3], named  # used by every module: the most central
            assert count_tokens(text) >= 0.9 * budget, (budget, count_tokens(text))
    runtime.close()


async def test_source_ranks_before_its_tests_and_config(repo: Path, clock: Clock) -> None:
    runtime = Runtime(project=repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data, _ = await _load(
            c, task="fix(router): count every slash a pattern consumes", budget_tokens=1_000
        )
        assert _first(data).get("path") == "src/app/router.py", _named(data)
        data, _ = await _load(c, task="Restore basic functionality on 3.14", budget_tokens=1_000)
        named = _named(data)
        assert named[0].startswith("src/"), named  # only tox.ini and docs match "3.14": the core first
        assert all(i["path"].startswith("src/") for i in data.get("items", [])), named
        assert "src/app/compat.py" in named[:4], named
        # asked for: tests and config come back
        data, _ = await _load(c, task="add tests for the router's slash pattern", budget_tokens=1_000)
        assert "tests/test_router.py" in _named(data)[:2], _named(data)
        data, _ = await _load(c, task="tox.ini: add py3.14 to envlist", budget_tokens=1_000)
        assert _first(data).get("path") == "tox.ini", _named(data)
    runtime.close()


async def test_small_budget_keeps_room_for_the_map(repo: Path, clock: Clock) -> None:
    runtime = Runtime(project=repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data, text = await _load(c, task="feat: add getters for flag completions", budget_tokens=1_000)
        depth = sum(i["tokens"] for i in data.get("items", []))
        assert depth <= 0.65 * 1_000, data.get("items")
        assert all(i["mode"] != "full" for i in data.get("items", []) if i["path"] == "src/app/command.py")
        assert "src/app/completions.py" in _named(data), _named(data)
        assert len(data["map"]) >= 8, data["map"]
        assert count_tokens(text) <= 1_050
        # the big file is the best match: it gets its relevant definitions, the map still names many
        data, text = await _load(c, task="command flag completion values", budget_tokens=1_000)
        assert _first(data).get("path") == "src/app/command.py", _named(data)
        assert _first(data).get("mode") == "definitions", data.get("items")
        assert len(data["map"]) >= 8, data["map"]
        assert "src/app/completions.py" in data["map"][:3], data["map"]
        assert count_tokens(text) <= 1_050
    runtime.close()


async def test_files_named_after_task_words_are_named(repo: Path, clock: Clock) -> None:
    runtime = Runtime(project=repo, clock=clock, use_roots=False)
    async with Client(build_app(runtime)) as c:
        data, _ = await _load(c, task="ignore: more pathutil clean-up", budget_tokens=1_000)
        assert "src/app/pathutil.py" in _named(data)[:3], _named(data)
        data, _ = await _load(c, task="searcher: hint at sequential memory map reading", budget_tokens=1_000)
        assert "src/app/mmap.py" in _named(data)[:3], _named(data)
    runtime.close()
