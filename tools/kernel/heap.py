"""Keep the garbage collector's full passes off the request path of a long-running server.

A server process holds tens of thousands of long-lived objects after start-up (the SDK, pydantic
schemas, the tree-sitter grammars, the secret detector, the opened store). CPython's oldest
generation is scanned whole every so often, and with that many objects one pass took 27–45 ms on
this project's benchmark machine: it landed inside whichever call happened to allocate at that
moment, so a 10 ms `guardrail_check` became 59 ms at p100 (bench/bench_shell.py). `gc.freeze()`
moves everything alive at that point into a permanent generation that passes no longer scan; what
requests allocate later is still collected as usual.
"""

from __future__ import annotations

import gc
import threading


def settle() -> None:
    """Collect once, then freeze what survives. Call after start-up work (imports, store open,
    warm-ups); calling it again later freezes what has been added since."""
    gc.collect()
    gc.freeze()


def settle_later(delay_s: float) -> threading.Timer:
    """`settle` in a daemon timer thread after `delay_s`: start-up work that is still under way
    (the first tool answer, warm-ups in other threads) finishes first."""
    timer = threading.Timer(delay_s, settle)
    timer.daemon = True
    timer.start()
    return timer
