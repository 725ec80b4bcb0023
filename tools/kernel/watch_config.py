"""`[watch]` in the team's config.toml: the thresholds of the watch (context bands, the debug-spiral
detector, the circuit breaker), typed, with the methodology's values as defaults.

Part of the kernel's configuration (`config.py` validates the table with the rest of the file, so
`doctor` and the tools' warnings know it), but in a module of its own with the standard library
only: the client hooks read it on every tool call, and `config.py` loads pydantic (a large share
of a hook's start-up). A bad value is reported and its default used: a threshold never turns the
watch off.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

SECTION = "watch"
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
LIMITS: dict[str, tuple[float, float]] = {
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


def validate(table: object, where: str = "watch") -> tuple[WatchSettings, list[str]]:
    """The `[watch]` table over the defaults, and the problems found (each names `where.key`)."""
    if not isinstance(table, dict):
        return DEFAULTS, [f"{where} must be a table; the defaults apply"]
    problems: list[str] = []
    changes: dict[str, Any] = {}  # each value has its field's type (int or float)
    known = {f.name for f in fields(WatchSettings)}
    for key, value in table.items():
        if key not in known:
            problems.append(f"{where}.{key} is not a setting; ignored (settings: {', '.join(sorted(known))})")
            continue
        lo, hi = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            problems.append(f"{where}.{key} must be a number from {lo:g} to {hi:g}; the default applies")
            continue
        changes[key] = int(value) if isinstance(getattr(DEFAULTS, key), int) else float(value)
    settings = replace(DEFAULTS, **changes)
    if not settings.good_at < settings.warning_at < settings.critical_at:
        problems.append(
            f"{where}: bands must rise (good_at < warning_at < critical_at); the default bands apply"
        )
        settings = replace(
            settings,
            good_at=DEFAULTS.good_at,
            warning_at=DEFAULTS.warning_at,
            critical_at=DEFAULTS.critical_at,
        )
    return settings, problems


def parse(table: dict[str, object], source: str = "config.toml") -> WatchSettings:
    """`validate`, with each problem logged (the hooks have no reply to carry a warning)."""
    settings, problems = validate(table)
    for problem in problems:
        log.warning("watch settings: %s: %s", source, problem)
    return settings


def load(config_path: Path) -> WatchSettings:
    """The `[watch]` table of `config_path` over the defaults; problems are logged, never raised."""
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULTS
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.warning("watch settings: %s cannot be read (%s); using the defaults", config_path, exc)
        return DEFAULTS
    table = data.get(SECTION)
    if table is None:
        return DEFAULTS
    return parse(table if isinstance(table, dict) else {}, str(config_path))
