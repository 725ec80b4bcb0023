"""Data derived from a store (the compiled guardrails, the metrics event buffer) lives on that Store
object, not in module globals keyed by a path: a new project at the same path, with the same
patterns version, never sees the old project's guardrails. Real stores in temp dirs."""

from __future__ import annotations

import shutil
from pathlib import Path

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.guardrails.check import GuardrailCheckInput, check
from factorops.tools.kernel.actor import Actor
from factorops.tools.metrics import report as metrics
from factorops.tools.patterns import records as patterns
from factorops.tools.registry import components


def _guarded_store(root: Path, word: str, clock) -> Store:  # type: ignore[no-untyped-def]
    store = Store.open(DataDir.for_project(root), components())
    rec = patterns.record(
        store,
        patterns.PatternRecordInput(
            title=f"no {word}", kind="guardrail", match=rf"\b{word}\b", effect="block"
        ),
        clock(),
        Actor.cli(),
    )
    patterns.set_status(store, rec.id, "active", clock(), Actor.cli())
    return store


def _decision(store: Store, command: str, clock) -> str:  # type: ignore[no-untyped-def]
    return check(store, GuardrailCheckInput(action="run", command=command), clock()).decision


def test_a_new_project_at_the_same_path_has_only_its_own_guardrails(project: Path, clock) -> None:  # type: ignore[no-untyped-def]
    first = _guarded_store(project, "alpha", clock)
    assert _decision(first, "alpha --now", clock) == "block"
    version = first.index.get_meta("patterns_version")
    first.close()
    shutil.rmtree(project / ".agentops")

    second = _guarded_store(project, "beta", clock)  # the same number of pattern writes
    try:
        assert second.index.get_meta("patterns_version") == version
        assert _decision(second, "beta --now", clock) == "block"
        assert _decision(second, "alpha --now", clock) == "allow"  # not the old project's rule
    finally:
        second.close()


def test_the_metrics_buffer_belongs_to_its_store(project: Path, clock) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(DataDir.for_project(project), components())
    try:
        buf = metrics.buffer_for(store)
        assert metrics.buffer_for(store) is buf
        other = Store.open(DataDir.for_project(project), components())
        try:
            assert metrics.buffer_for(other) is not buf
        finally:
            metrics.close(other)
            other.close()
    finally:
        metrics.close(store)
        store.close()
    assert not hasattr(metrics, "_buffers")
