"""Worker threads that loads share instead of starting their own.

A load overlaps starting git's listings, and asking git for history, with its ranking in threads. Starting a thread makes the caller wait
until the new thread is scheduled and holds the GIL: on a busy machine ~2 ms a thread (cProfile of
60 warm loads on honojs/hono, three threads a load: `Thread.start` waited 0.35 s in all). A
pool made once keeps its idle threads; a forked child, which inherits none of them, makes its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


class SharedPool:
    """One `ThreadPoolExecutor` per process, made on first use. Tasks given to one pool must not
    wait for other tasks of the same pool (they could all wait for a queued one)."""

    def __init__(self, workers: int, name: str) -> None:
        self._workers, self._name = workers, name
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """In a forked child: the pool's threads were not copied, so its next `get` makes one."""
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._pool = None

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
            return self._pool


LISTING = SharedPool(2, "context-listing")  # starts git's listings and HEAD: waits for nothing
COCHANGE = SharedPool(2, "context-cochange")  # git's history of a load's best match
