"""The server freezes its start-up objects out of the GC's full passes once its store is open
(tools/kernel/heap.py; the p100 it protects is measured in bench/bench_shell.py)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from factorops.server.mcp.runtime import Runtime


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def test_a_server_runtime_freezes_what_is_alive_once_its_store_is_open(
    tmp_path: Path, unfrozen: None
) -> None:
    runtime = Runtime(project=_project(tmp_path), settle_heap=True)
    assert gc.get_freeze_count() == 0
    store = runtime.store_sync()
    try:
        assert runtime._settler is not None
        runtime._settler.join(timeout=60)
        assert gc.get_freeze_count() > 1000, "the opened store and start-up objects are frozen"
    finally:
        runtime.close()
    assert store is not None


def test_an_in_process_runtime_leaves_the_collector_alone(tmp_path: Path, unfrozen: None) -> None:
    runtime = Runtime(project=_project(tmp_path))
    runtime.store_sync()
    runtime.close()
    assert runtime._settler is None
    assert gc.get_freeze_count() == 0


def test_serve_builds_a_settling_runtime(tmp_path: Path) -> None:
    # In a child: from_env also starts the secret detector's warm-up thread, which settles too.
    code = "from factorops.server.mcp.runtime import Runtime; print(Runtime.from_env().settle_heap)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "True"
