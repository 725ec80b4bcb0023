"""context_load while the index is being built, and the index at scale (issue #19), through the MCP client.

A build is paused half-way by the index's per-chunk hook (an event, not timing), so a second call
arrives at a known point: it answers from what is indexed and says how much that is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.context import build as context
from factorops.tools.registry import components

from .conftest import Clock, commit_files

FILES = 300  # three chunks of context.CHUNK files


def _module(i: int) -> str:
    return f'"""Module {i}."""\n\n\ndef helper_{i}(x):\n    return x + {i}\n'


@pytest.fixture
def big(tmp_path: Path) -> Path:
    root = tmp_path / "big"
    root.mkdir()
    from .conftest import git

    git(root, "init", "-q", "-b", "main")
    files = {f"pkg/mod_{i:04d}.py": _module(i) for i in range(FILES)}
    # Listed (and indexed) first: the file the task is about is in the first chunk.
    files["pkg/aaa_invoice_rounding.py"] = (
        '"""Invoice rounding."""\n\n\ndef round_invoice_total(total):\n    return round(total, 2)\n'
    )
    commit_files(root, files, "initial import")
    return root


@pytest.fixture
def paused_build() -> Iterator[tuple[threading.Event, threading.Event]]:
    """(paused, release): the first build stops after its first chunk until `release` is set."""
    paused, release = threading.Event(), threading.Event()

    def hook(done: int, total: int) -> None:
        if done < total and not paused.is_set():
            paused.set()
            assert release.wait(60), "the test never released the build"

    old = context.after_chunk
    context.after_chunk = hook
    yield paused, release
    release.set()
    context.after_chunk = old


async def _call(c: Client, **args: Any) -> dict[str, Any]:
    r = await c.call_tool("context_load", args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def test_load_during_first_build_answers_from_what_is_indexed(
    big: Path, clock: Clock, paused_build: tuple[threading.Event, threading.Event]
) -> None:
    paused, release = paused_build
    runtime = Runtime(project=big, clock=clock, use_roots=False, starters=False)
    first: dict[str, Any] = {}
    try:
        async with Client(build_app(runtime)) as c:

            async def first_call() -> None:
                first.update(await _call(c, task="fix invoice rounding", budget_tokens=2000))

            async with anyio.create_task_group() as tg:
                tg.start_soon(first_call)
                assert await anyio.to_thread.run_sync(paused.wait, 60)
                # The build is held after its first chunk: this call must not wait for the rest.
                second = await _call(c, task="fix invoice rounding total", budget_tokens=2000)
                release.set()
            warning = next(w for w in second["warnings"] if "being built" in w)
            assert f"100 of {FILES + 1} files" in warning, warning
            assert "pkg/aaa_invoice_rounding.py" in {i["path"] for i in second["items"]} | set(
                second.get("map", [])
            )
            assert not any("being built" in w for w in first.get("warnings", []))
            # Once built, the whole repository is indexed and no warning is given.
            third = await _call(c, task="helper_250", budget_tokens=2000)
            assert not any("being built" in w for w in third.get("warnings", []))
            assert "pkg/mod_0250.py" in {i["path"] for i in third["items"]} | set(third.get("map", []))
    finally:
        runtime.close()


def test_big_first_index_uses_worker_processes_and_matches_serial(big: Path, tmp_path: Path) -> None:
    """Above PARALLEL_FROM files the build runs in a process pool; the index is the same as serially."""
    assert FILES + 1 < context.PARALLEL_FROM  # the fixture is built serially by default
    serial = Store.open(DataDir.for_project(big), components())
    try:
        context.ensure_index(serial)
        rows = _dump(serial)
    finally:
        serial.close()
    other = tmp_path / "other"
    other.mkdir()
    store = Store.open(DataDir.for_project(big, other / ".agentops"), components())
    seen: list[tuple[int, int]] = []
    old = context.PARALLEL_FROM
    context.PARALLEL_FROM = 10
    try:
        context.ensure_index(store, progress=lambda d, t, _m: seen.append((d, t)))
        assert _dump(store) == rows
    finally:
        context.PARALLEL_FROM = old
        store.close()
    assert seen[-1] == (FILES + 1, FILES + 1) and len(seen) == 4  # progress after every chunk


def _dump(store: Store) -> list[Any]:
    db = store.db
    return [
        db.execute("SELECT path, content_id, tokens, lines FROM repo_files ORDER BY path").fetchall(),
        db.execute(
            "SELECT path, name, kind, line, sig FROM repo_symbols ORDER BY path, line, name"
        ).fetchall(),
        db.execute("SELECT path, name FROM repo_refs ORDER BY path, name").fetchall(),
        db.execute("SELECT name, files FROM repo_names ORDER BY name").fetchall(),
        db.execute("SELECT path, symbols FROM repo_fts ORDER BY path").fetchall(),
    ]
