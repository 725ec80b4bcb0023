"""Context bands: how full the model's window is, and what to do about it (Factor II).

0-20% optimal, 20-40% good, 40-60% warning, 60%+ critical (thresholds in `WatchSettings`), with a
soft warning from 35%: past 40% of the window an assistant's recall of early context degrades, so
from there the advice is to checkpoint and start a fresh session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .settings import DEFAULTS, WatchSettings

BandName = Literal["optimal", "good", "warning", "critical"]


@dataclass(frozen=True)
class Band:
    name: BandName
    percent: float  # of the window, 0-100+
    used: int
    window: int
    soft_warning: bool  # at or past the soft-warning line, still below `warning`
    advice: str

    def line(self) -> str:
        """One line for a reply: `context 31% of 200k (good)` and the advice, if any."""
        head = f"context {self.percent:.0f}% of {_k(self.window)} ({self.name})"
        return f"{head}: {self.advice}" if self.advice else head


def _k(n: int) -> str:
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n / 1000:g}k"


def classify(used: int, window: int, settings: WatchSettings = DEFAULTS) -> Band:
    """The band of `used` tokens in a `window`-token context."""
    if window <= 0:
        raise ValueError("window must be positive")
    pct = 100.0 * max(0, used) / window
    soft = False
    advice = ""
    name: BandName
    if pct >= settings.critical_at:
        name = "critical"
        advice = (
            "save a checkpoint now (checkpoint_save) and start a fresh session; answers get worse "
            "and automatic compaction loses detail"
        )
    elif pct >= settings.warning_at:
        name = "warning"
        advice = "save a checkpoint (checkpoint_save) and start a fresh session soon"
    elif pct >= settings.good_at:
        name = "good"
        if pct >= settings.soft_warning_at:
            soft = True
            advice = f"approaching {settings.warning_at:.0f}%: plan a checkpoint at the next natural break"
    else:
        name = "optimal"
    return Band(name=name, percent=pct, used=max(0, used), window=window, soft_warning=soft, advice=advice)
