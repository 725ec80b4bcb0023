"""The thresholds of the watch: context bands, the debug-spiral detector and the circuit breaker.

They are the `[watch]` section of the team's configuration, typed and read by the kernel
(`factorops.tools.kernel.watch_config`, standard library only, so the hooks' hot path loads no
pydantic); this module keeps the names the watch and the hooks use.
"""

from __future__ import annotations

from factorops.tools.kernel.watch_config import DEFAULTS, LIMITS, WatchSettings, load, parse

__all__ = ["DEFAULTS", "LIMITS", "WatchSettings", "load", "parse"]
