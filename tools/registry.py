"""Every capability's store component, in dependency order (parents before children).

The server and the CLI (`rebuild`, `doctor`) open the store with this list, so each capability adds
its component here once. The modules are imported when the store is first opened, not when the
server starts: some (the transcript miners) are never needed to answer `initialize`.
"""

from __future__ import annotations

from factorops.store.components import Component


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
