"""Every capability's store component, in dependency order (parents before children).

The server and the CLI (`rebuild`, `doctor`) open the store with this list, so each capability adds
its component here once. The modules are imported when the store is first opened, not when the
server starts; the server's store (`lazy_components`) imports them only when it needs them (a
catch-up or a migration): a first tool call loads its own implementation, not every capability.
"""

from __future__ import annotations

from factorops.store.components import Component, LazyComponents

# Every migration the components below declare, by component: what `lazy_components` lets the
# store check in one query without importing a capability (start-up, issue #19). Add a migration
# id here with the migration itself; tests/test_startup_lazy.py fails until the two agree.
MIGRATIONS: dict[str, tuple[str, ...]] = {
    "sessions": ("sessions-001", "sessions-002", "sessions-003", "sessions-004"),
    "repo_index": ("repo-001", "repo-002", "repo-003"),
    "patterns": (
        "patterns-001",
        "patterns-002",
        "patterns-003",
        "patterns-004",
        "patterns-006",
        "patterns-007",
        "patterns-008",
        "patterns-010",
        "patterns-011",
    ),
    "flywheel": ("flywheel-001",),
    "approvals": ("approvals-001", "approvals-002", "approvals-003"),
    "validation": ("validation-001",),
    "routing": ("routing-001",),
    "metrics": ("metrics-001", "metrics-002"),
    "transcript_mining": ("transcripts-001",),
    "watch": ("watch-001",),
}


def lazy_components() -> LazyComponents:
    """`components()`, imported only when the store needs them: an index that has applied every
    migration in MIGRATIONS opens without them, so the server's first tool call loads only its own
    implementation."""
    return LazyComponents(components, (m for ids in MIGRATIONS.values() for m in ids))


def components() -> list[Component]:
    from factorops.tools.context import index as repo_index
    from factorops.tools.flywheel import inject as flywheel
    from factorops.tools.flywheel import mining as transcript_mining
    from factorops.tools.metrics import report as metrics
    from factorops.tools.oversight import approvals, routing, validation
    from factorops.tools.patterns import records as patterns
    from factorops.tools.sessions import lifecycle as sessions
    from factorops.tools.watch import records as watch

    return [
        sessions.COMPONENT,
        repo_index.COMPONENT,
        patterns.COMPONENT,
        flywheel.COMPONENT,
        approvals.COMPONENT,
        validation.COMPONENT,
        routing.COMPONENT,
        metrics.COMPONENT,
        transcript_mining.COMPONENT,
        watch.COMPONENT,
    ]
