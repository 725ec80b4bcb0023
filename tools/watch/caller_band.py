"""The caller's context band (Factor II's 40% rule, measured): which client session is calling, its
context use (its transcript, else what the hooks last measured) and the band that use falls in.

Apart from `live` (the tools' replies, which import the context pipeline) so that the metrics report
and the store's components can use it without importing that pipeline (start-up cost, issue #19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from factorops.tools.kernel import bands, config
from factorops.tools.kernel.compact import CompactModel

from . import settings as watch_settings
from . import transcript_usage
from .records import iso

if TYPE_CHECKING:
    from factorops.store.store import Store

LIVE_MAX_AGE = timedelta(hours=4)  # a client session idle longer is not the caller (#18: stale)
Source = Literal["transcript", "caller"]


class ContextBand(CompactModel):
    """The band of the caller's context use, and what to do about it."""

    band: bands.BandName
    percent: float
    used_tokens: int
    window_tokens: int
    source: Source  # "transcript": measured by the client hooks; "caller": the tool's arguments
    advice: str | None = None


def band_reply(b: bands.Band, source: Source) -> ContextBand:
    return ContextBand(
        band=b.name,
        percent=round(b.percent, 1),
        used_tokens=b.used,
        window_tokens=b.window,
        source=source,
        advice=b.advice or None,
    )


def settings_for(store: Store) -> watch_settings.WatchSettings:
    """The project's watch thresholds: the `[watch]` section of the team's configuration (the data
    dir's config.toml, else pyproject's [tool.factorops]); a bad value falls back to its default."""
    return config.load_for(store.datadir).watch


@dataclass(frozen=True)
class ClientSession:
    client_session: str
    client: str
    transcript_path: str | None
    used_tokens: int | None
    window: int | None


def client_session(
    store: Store, now: datetime, session_id: str | None = None, *, measured: bool = False
) -> ClientSession | None:
    """The caller's client session (see the module's docstring); `measured`: only one whose
    context can be measured (a transcript, or a use measured before)."""
    where = "updated_at >= ?"
    if measured:
        where += " AND (transcript_path IS NOT NULL OR used_tokens IS NOT NULL)"
    rows = store.db.execute(
        "SELECT client_session, client, transcript_path, used_tokens, window, factorops_session "
        f"FROM watch_sessions WHERE {where} ORDER BY updated_at DESC LIMIT 100",
        [iso(now - LIVE_MAX_AGE)],
    ).fetchall()
    if not rows:
        return None
    row = next((r for r in rows if session_id is not None and r[5] == session_id), rows[0])
    return ClientSession(
        str(row[0]),
        str(row[1]),
        row[2] or None,
        None if row[3] is None else int(row[3]),
        None if row[4] is None else int(row[4]),
    )


def measure(
    store: Store, now: datetime, session_id: str | None, settings: watch_settings.WatchSettings
) -> transcript_usage.Usage | None:
    """The caller's context use now: its transcript read again (live), else the use the hooks last
    measured; None when no client session of this project is known."""
    cs = client_session(store, now, session_id, measured=True)
    if cs is None:
        return None
    if cs.transcript_path:
        usage = transcript_usage.measure(Path(cs.transcript_path), default_window=settings.default_window)
        if usage is not None:
            return usage
    if cs.used_tokens is not None and cs.window:
        return transcript_usage.Usage(used=cs.used_tokens, window=cs.window, model=None)
    return None


def band_for(store: Store, now: datetime, session_id: str | None) -> ContextBand | None:
    settings = settings_for(store)
    usage = measure(store, now, session_id, settings)
    if usage is None:
        return None
    return band_reply(bands.classify(usage.used, usage.window, settings), "transcript")
