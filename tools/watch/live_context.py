"""`context_load` with the caller's context band: the live wrapper of the context pipeline.

Apart from `live` (sessions, checkpoints, validation) because this one imports the whole context
pipeline (ranking, outlines, the repo map, tree-sitter): a `session_start`, often a client's first
call, no longer loads it. Which measurement wins is explained in `live`'s docstring.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from factorops.tools.context import load as context
from factorops.tools.kernel import bands

from .caller_band import ContextBand, Source, band_reply, measure, settings_for

if TYPE_CHECKING:
    from factorops.store.store import Store


class ContextLoadLive(context.ContextLoadResult):
    context: ContextBand


def context_load(
    store: Store, inp: context.ContextLoadInput, now: datetime, progress: context.ProgressFn | None = None
) -> ContextLoadLive:
    """`context_load` with the measured context use (see the module's docstring for which wins)."""
    settings = settings_for(store)
    usage = measure(store, now, inp.session_id, settings)
    source: Source = "caller"
    used, window = inp.used_tokens, inp.window_tokens
    if usage is not None and usage.used >= inp.used_tokens:
        source, used = "transcript", usage.used
        if "window_tokens" not in inp.model_fields_set:
            window = usage.window
    window = max(window, 1000)
    effective = inp.model_copy(update={"used_tokens": min(used, 10_000_000), "window_tokens": window})
    band = band_reply(bands.classify(used, window, settings), source)

    def reply(r: context.ContextLoadResult) -> ContextLoadLive:
        return ContextLoadLive(**dict(r), context=band)

    return reply(context.load(store, effective, now, progress, wrap=reply))  # budgeted as sent
