"""Every capability's store component, in dependency order (parents before children).

The server and the CLI (`rebuild`, `doctor`) open the store with this list, so each capability adds
its component here once. The modules are imported when the store is first opened, not when the
server starts: some (the transcript miners) are never needed to answer `initialize`.
"""

from __future__ import annotations

from factorops.store.components import Component


def components() -> list[Component]:
    from factorops.tools import (
        approvals,
        flywheel,
        metrics,
        patterns,
        repo_index,
        sessions,
        transcript_mining,
        validation,
    )

    return [
        sessions.COMPONENT,
        repo_index.COMPONENT,
        patterns.COMPONENT,
        flywheel.COMPONENT,
        approvals.COMPONENT,
        validation.COMPONENT,
        metrics.COMPONENT,
        transcript_mining.COMPONENT,
    ]
