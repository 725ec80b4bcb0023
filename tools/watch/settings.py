"""The thresholds of the watch: context bands, the debug-spiral detector and the circuit breaker.

Plain frozen dataclasses with the documented defaults (docs/hooks.md), so the hook's hot path needs
no settings file and no pydantic. `load(datadir)` reads an optional `[watch]` table from the data
dir's `config.toml` (the file the team commits) with the standard library only; a bad value is
ignored with a warning and the default is used: a threshold never turns the watch off.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

log = logging.getLogger("factorops.watch")


@dataclass(frozen=True)
class WatchSettings:
    # Context bands, as percent of the model's window: below `good_at` optimal, then good, warning
    # from `warning_at`, critical from `critical_at`; a soft warning from `soft_warning_at`.
    good_at: float = 20.0
    warning_at: float = 40.0
    critical_at: float = 60.0
    soft_warning_at: float = 35.0
    default_window: int = 200_000
    # Debug spiral: the same normalised command failing `spiral_repeats` times in a row, or
    # `spiral_similar` failures of similar commands within `spiral_window_s`.
    spiral_repeats: int = 3
    spiral_similar: int = 5
    spiral_window_s: float = 600.0
    # Circuit breaker: opens after `breaker_failures` failures in a row of one command, refuses it
    # for `breaker_cooldown_s`, then lets one try through (half-open).
    breaker_failures: int = 5
    breaker_cooldown_s: float = 300.0


DEFAULTS = WatchSettings()
_LIMITS: dict[str, tuple[float, float]] = {
    "good_at": (1, 99),
    "warning_at": (1, 99),
    "critical_at": (1, 99),
    "soft_warning_at": (1, 99),
    "default_window": (1000, 10_000_000),
    "spiral_repeats": (2, 100),
    "spiral_similar": (2, 1000),
    "spiral_window_s": (10, 86_400),
    "breaker_failures": (2, 1000),
    "breaker_cooldown_s": (1, 86_400),
}


def load(config_path: Path) -> WatchSettings:
    """The `[watch]` table of `config_path` over the defaults; problems are logged, never raised."""
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULTS
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.warning("watch settings: %s cannot be read (%s); using the defaults", config_path, exc)
        return DEFAULTS
    table = data.get("watch")
    if not isinstance(table, dict):
        return DEFAULTS
    return parse(table, str(config_path))


def parse(table: dict[str, object], source: str = "config.toml") -> WatchSettings:
    known = {f.name: f.type for f in fields(WatchSettings)}
    changes: dict[str, float | int] = {}
    for key, value in table.items():
        if key not in known:
            log.warning("watch settings: %s: watch.%s is not a setting; ignored", source, key)
            continue
        lo, hi = _LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            log.warning("watch settings: %s: watch.%s must be a number from %g to %g", source, key, lo, hi)
            continue
        changes[key] = int(value) if isinstance(getattr(DEFAULTS, key), int) else float(value)
    settings = replace(DEFAULTS, **changes)  # type: ignore[arg-type]
    if not settings.good_at < settings.warning_at < settings.critical_at:
        log.warning("watch settings: %s: bands must rise (good < warning < critical); defaults used", source)
        settings = replace(
            settings,
            good_at=DEFAULTS.good_at,
            warning_at=DEFAULTS.warning_at,
            critical_at=DEFAULTS.critical_at,
        )
    return settings
