"""Every capability's store component, in dependency order (parents before children).

The server and the CLI (`rebuild`, `doctor`) open the store with this list, so each capability adds
its component here once.
"""

from __future__ import annotations

from factorops.store.components import Component
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


def components() -> list[Component]:
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
