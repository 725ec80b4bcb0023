"""A project's data dir, created on first use, with the starter guardrails.

Apart from `inject` so that opening an existing project (every server's first call) does not import
the patterns and the injection: only a store this call creates loads them, to install the starters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from factorops.store.store import Store

if TYPE_CHECKING:
    from factorops.store.components import Component
    from factorops.store.datadir import DataDir


def open_project(
    datadir: DataDir,
    components: Sequence[Component],
    now: datetime,
    *,
    create: bool = True,
    starters: bool = True,
) -> Store:
    """Open a project's store; if it does not exist yet, create it exactly as `factorops init` does.

    The one way a data dir comes into being, whether a person runs `factorops init` or a client
    simply connects (the README's path): the data dir with its `.gitignore`, the SQLite index, the
    git ledger and, unless `starters` is False, the starter guardrails, installed under the ledger
    lock in the same step that created the ledger (so a second server starting on the same new
    project sees them too). `store.created` tells whether this call created it. An existing project
    is opened as it is: guardrails a person retired stay retired.
    """

    def install(store: Store) -> None:
        from .inject import install_starter

        install_starter(store, now)

    return Store.open(datadir, components, create=create, on_create=install if starters else None)
