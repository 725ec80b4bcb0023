"""Per-process state shared by every tool call: which project, its store, the clock, call hooks.

The project is resolved once, by the first request of any kind (tool, resource or prompt), because
of how clients start us: desktop clients spawn stdio servers in an arbitrary working directory (so our
examples pass `--project`), while IDE agents announce their workspace as MCP roots. Order: --project /
FACTOROPS_PROJECT, then the client's first root, then the working directory.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import anyio
from mcp import MCPDeprecationWarning

from factorops.tools.kernel.clock import Clock, utc_now

if TYPE_CHECKING:
    from factorops.store.datadir import DataDir
    from factorops.store.store import Store

log = logging.getLogger("factorops.server")
SETTLE_AFTER_S = 2.0  # after the store opens, when start-up objects are frozen (kernel/heap.py)
WARM_AFTER_S = 0.5  # after the first tool answer, when the secret detector loads (see below)


def _warm_secret_detector() -> None:
    from factorops.tools.kernel.redact import redact

    redact("password = 'warm-up-value-1234'")  # a trigger: detect-secrets' plugins load


def warm_secret_detector_later(delay: float = WARM_AFTER_S) -> threading.Timer:
    """Load detect-secrets (~0.5 s with `requests`) in a daemon timer shortly after the first tool
    answer: not at start-up, where it held up `initialize`, nor inside the first answer. A text that
    no secret trigger selects never needs it (`redact`'s static trigger table); a later call whose
    text does finds it loaded."""
    timer = threading.Timer(delay, _warm_secret_detector)
    timer.name = "factorops-warm-secrets"
    timer.daemon = True
    timer.start()
    return timer


@dataclass
class CallRecord:
    tool: str
    started: datetime
    latency_ms: float
    outcome: str  # "ok" | "error"
    args_chars: int
    result_chars: int
    session_id: str | None = None


CallHook = Callable[["Runtime", CallRecord], None]


@dataclass
class Runtime:
    project: Path | None = None
    data_dir: Path | None = None
    clock: Clock = utc_now
    use_roots: bool = True
    # A new project gets the starter guardrails on first use, as `factorops init` gives them; False
    # is `init --no-starter` (tests that need a bare project use it).
    starters: bool = True
    # A long-running server freezes its start-up objects out of the GC's full passes once the store
    # is open (`kernel/heap.py`: a 27–45 ms pause otherwise lands inside some call). Off for
    # in-process runtimes (tests, CLI), where a full collection per store open only costs time.
    settle_heap: bool = False
    _settler: threading.Timer | None = None
    # A long-running server loads the secret detector after its first tool answer; off elsewhere.
    warm_secrets: bool = False
    _warmer: threading.Timer | None = None
    call_hooks: list[CallHook] = field(default_factory=list)
    close_hooks: list[Callable[[Store], None]] = field(default_factory=list)
    _root: Path | None = None
    _store: Store | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @classmethod
    def from_env(cls, project: Path | None = None, data_dir: Path | None = None) -> Runtime:
        env_project = os.environ.get("FACTOROPS_PROJECT")
        env_data = os.environ.get("FACTOROPS_DATA_DIR")
        return cls(
            project=project or (Path(env_project) if env_project else None),
            data_dir=data_dir or (Path(env_data) if env_data else None),
            settle_heap=True,
            warm_secrets=True,
        )

    def now(self) -> datetime:
        return self.clock()

    @property
    def opened(self) -> Store | None:
        return self._store

    async def resolve(self, ctx: Any = None) -> Path:
        """Which project this process serves, decided once, by the first request of any kind (tool
        call, resource read, prompt) with that request's context, so the client's roots count even
        when a resource is read before any tool is called. One stdio process serves one connection,
        so this is once per connection; over HTTP the project is fixed at start (`use_roots=False`)."""
        if self._root is not None:
            return self._root
        async with self._lock:
            if self._root is None:
                self._root = (
                    self.project or (await _first_root(ctx) if self.use_roots else None) or Path.cwd()
                )
        return self._root

    async def store(self, ctx: Any = None) -> Store:
        if self._store is not None:
            return self._store
        root = await self.resolve(ctx)
        async with self._lock:
            if self._store is None:
                from factorops.store.datadir import DataDir

                datadir = DataDir.for_project(root, self.data_dir)
                log.info("project %s, data dir %s", datadir.root, datadir.path)
                # First use creates the data dir exactly as `factorops init` does (starter guardrails too).
                self._store = await anyio.to_thread.run_sync(self._open, datadir)
        return self._store

    def store_sync(self) -> Store:
        """For the CLI and dashboard: no client, so no roots."""
        if self._store is None:
            from factorops.store.datadir import DataDir

            root = self._root or self.project or Path.cwd()
            self._store = self._open(DataDir.for_project(root, self.data_dir))
        return self._store

    def _open(self, datadir: DataDir) -> Store:
        # The store loads here, on the first request that needs it, not at start-up: `initialize`
        # and `tools/list` never do. An up-to-date index opens without importing the capabilities'
        # components (`lazy_components`), so each call imports its own implementation only; they
        # load when a catch-up or a migration needs them.
        from factorops.tools.flywheel.opening import open_project
        from factorops.tools.kernel import heap
        from factorops.tools.registry import lazy_components

        store = open_project(datadir, lazy_components(), self.now(), starters=self.starters)
        if self.settle_heap and self._settler is None:
            # Shortly after, not now: the collection itself is a 30-45 ms pause, which must not land
            # in the first tool answer; by then the secret detector's warm-up has loaded too.
            self._settler = heap.settle_later(SETTLE_AFTER_S)
        return store

    def record_call(self, rec: CallRecord) -> None:
        if self.warm_secrets and self._warmer is None:
            self._warmer = warm_secret_detector_later()
        for hook in self.call_hooks:
            try:
                hook(self, rec)
            except Exception:  # metrics must never break a tool call
                log.exception("call hook failed")

    def close(self) -> None:
        if self._settler is not None:
            self._settler.cancel()
        if self._warmer is not None:
            self._warmer.cancel()
        if self._store is not None:
            for hook in self.close_hooks:
                try:
                    hook(self._store)
                except Exception:
                    log.exception("close hook failed")
            self._store.close()


async def _first_root(ctx: Any) -> Path | None:
    """The client's first workspace root, if it announces roots; None otherwise."""
    if ctx is None:
        return None
    try:
        caps = ctx.client_capabilities
        if caps is None or caps.roots is None:
            return None
        # Roots are deprecated from protocol 2026-07-28 on, but the clients that announce
        # workspaces this way (IDE agents) speak the 2025-06-18 handshake, where they are current.
        with warnings.catch_warnings(), anyio.fail_after(5):
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            result = await ctx.session.list_roots()
    except Exception as exc:  # a client that claims roots but fails to answer: fall back
        log.warning("could not list the client's roots (%s); using the working directory", exc)
        return None
    for root in result.roots:
        uri = str(root.uri)
        if uri.startswith("file://"):
            path = Path(unquote(urlparse(uri).path))
            if path.is_dir():
                return path
    return None
