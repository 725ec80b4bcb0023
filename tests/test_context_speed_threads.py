"""A warm load's own overheads (issue #19, honojs/hono's warm `context_load`): the map's picks
without scoring, threads kept between loads, git's listing written to files.

- `repo_map.Defs` picks a file's map definitions without scoring them when no definition name shares
  a word with the task (most files of a map). It must pick what scoring every definition picks: on
  random definitions and tasks, against the scoring written out here.
- Loads share pool threads: a load no longer waits for three new threads to be scheduled. The
  threads outlive a load, and a forked child (which inherits none) makes its own.
- git's listings and HEAD are read from files the processes wrote; without git on PATH the tree is
  walked and there is no HEAD, instead of an error.
"""

from __future__ import annotations

import heapq
import os
import random
import threading
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.context import files as project_files
from factorops.tools.context import load as context_load
from factorops.tools.context import repo_map
from factorops.tools.context.threads import SharedPool

from .conftest import commit_files, git


def _scored_pick(symbols: list[repo_map.Symbol], terms: set[str], idents: set[str], limit: int) -> list[str]:
    """Every definition scored (`repo_map.relevance`), the best `limit` kept, in source order."""
    best = heapq.nsmallest(
        limit,
        symbols,
        key=lambda s: (
            -repo_map.relevance(s.name, terms, idents),
            s.name.startswith("_"),
            s.kind in ("method", "heading"),
            s.line,
        ),
    )
    return [f"{s.name}@{s.line}" for s in sorted(best, key=lambda s: s.line)]


WORDS = ["http", "client", "retry", "request", "parse", "url", "get", "cache", "token", "route"]


def _name(rng: random.Random) -> str:
    parts = rng.sample(WORDS, rng.randint(1, 3))
    shape = rng.randrange(4)
    if shape == 0:
        name = "_".join(parts)
    elif shape == 1:
        name = parts[0] + "".join(p.title() for p in parts[1:])
    elif shape == 2:
        name = "".join(p.title() for p in parts)
    else:
        name = "".join(parts)  # one word to the splitter: only the whole name can match
    return ("_" if rng.random() < 0.2 else "") + name


def test_a_pick_without_scoring_picks_what_scoring_every_definition_picks() -> None:
    rng = random.Random(19)
    plain = 0
    for _ in range(3000):
        symbols = [
            repo_map.Symbol(_name(rng), rng.choice(["function", "class", "method", "heading"]), line)
            for line in sorted(rng.sample(range(1, 400), rng.randint(1, 25)))
        ]
        terms = {w for w in WORDS if rng.random() < 0.12}
        if rng.random() < 0.3:  # a whole definition name among the task's words
            terms.add(rng.choice(symbols).name.lower())
        idents = {rng.choice(symbols).name.lower()} if rng.random() < 0.3 else set()
        defs = repo_map.Defs(symbols)
        plain += defs.scores_zero(terms, idents)
        for limit in (1, 2, 5):
            got = [f"{s.name}@{s.line}" for s in repo_map.pick(defs, terms, idents, limit, {})]
            assert got == _scored_pick(symbols, terms, idents, limit), (symbols, terms, idents, limit)
    assert 300 < plain < 2700  # both paths were taken many times


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {f"shop/part_{i}.py": f"def levy_{i}(amount):\n    return amount * {i}\n" for i in range(8)}
    commit_files(root, files, "initial import")
    commit_files(root, {"shop/part_1.py": "def levy_1(amount):\n    return amount * 11\n"}, "levy one")
    return root


def _pool_threads() -> set[int]:
    return {t.ident or 0 for t in threading.enumerate() if t.name.startswith("context-listing")}


async def test_loads_reuse_the_threads_that_start_git(runtime: Runtime) -> None:
    async with Client(build_app(runtime)) as c:
        seen: list[set[int]] = []
        for task in ("change levy_1", "change levy_2", "change levy_1", "levy amounts"):
            r = await c.call_tool("context_load", {"task": task, "budget_tokens": 2000})
            assert not r.is_error and "shop/part_" in str(r.structured_content)
            seen.append(_pool_threads())
        assert seen[0], "the listing's threads end with each load"
        assert all(s == seen[0] for s in seen), seen  # the same threads, not new ones per load


def test_a_forked_child_makes_its_own_pool() -> None:
    pool = SharedPool(1, "context-test")
    assert pool.get().submit(os.getpid).result(timeout=10) == os.getpid()
    pid = os.fork()
    if pid == 0:  # the child has no thread of the parent's pool
        code = 1
        try:
            code = 0 if pool.get().submit(os.getpid).result(timeout=10) == os.getpid() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_without_git_the_tree_is_walked_and_there_is_no_head(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_git = project_files.list_files(project)
    assert with_git.is_git and context_load._Head(project).result()
    bare = tmp_path / "no-git-here"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))
    walked = project_files.list_files(project)
    assert not walked.is_git
    assert sorted(f.path for f in walked.files) == sorted(f.path for f in with_git.files)
    assert context_load._Head(project).result() is None
