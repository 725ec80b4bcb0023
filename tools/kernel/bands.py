"""Context bands: how full the model's window is, and what to do about it (Factor II).

0-20% optimal, 20-40% good, 40-60% warning, 60%+ critical, with a soft warning from 35%: past 40%
of the window an assistant's recall of early context degrades, so from there the advice is to
checkpoint and start a fresh session. The thresholds are the team's (`[watch]` in config.toml,
typed in `watch_config.py`); the classification is pure and lives in the kernel so every layer can
name a band: the hooks, the tools' replies (`context_load`, the session tools) and
`metrics_report`. Standard library only: the hooks import it on their hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from .watch_config import DEFAULTS

BandName = Literal["optimal", "good", "warning", "critical"]
BAND_NAMES: tuple[BandName, ...] = ("optimal", "good", "warning", "critical")


class Thresholds(Protocol):
    """Where the bands begin, in percent of the window (a `WatchSettings` is one)."""

    @property
    def good_at(self) -> float: ...
    @property
    def warning_at(self) -> float: ...
    @property
    def critical_at(self) -> float: ...
    @property
    def soft_warning_at(self) -> float: ...


DEFAULT_THRESHOLDS: Thresholds = DEFAULTS  # the methodology's values (`[watch]`'s defaults)


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


def name_of(percent: float, t: Thresholds = DEFAULT_THRESHOLDS) -> BandName:
    """The band a share of the window (in percent) falls in."""
    if percent >= t.critical_at:
        return "critical"
    if percent >= t.warning_at:
        return "warning"
    if percent >= t.good_at:
        return "good"
    return "optimal"


def classify(used: int, window: int, t: Thresholds = DEFAULT_THRESHOLDS) -> Band:
    """The band of `used` tokens in a `window`-token context, with its advice."""
    if window <= 0:
        raise ValueError("window must be positive")
    pct = 100.0 * max(0, used) / window
    name = name_of(pct, t)
    soft = name == "good" and pct >= t.soft_warning_at
    advice = ""
    if name == "critical":
        advice = (
            "save a checkpoint now (checkpoint_save) and start a fresh session; answers get worse "
            "and automatic compaction loses detail"
        )
    elif name == "warning":
        advice = "save a checkpoint (checkpoint_save) and start a fresh session soon"
    elif soft:
        advice = f"approaching {t.warning_at:.0f}%: plan a checkpoint at the next natural break"
    return Band(name=name, percent=pct, used=max(0, used), window=window, soft_warning=soft, advice=advice)
