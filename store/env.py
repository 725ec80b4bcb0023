"""Whole-number settings from the environment (the store's tuning knobs), read one way everywhere:
an unset or blank variable gives the default; a value that is not a whole number, or is below
`minimum`, is named in a warning and the default is kept, so a typo never stops the server."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("factorops.store")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a whole number", name, raw)
        return default
    if minimum is not None and value < minimum:
        log.warning("ignoring %s=%r: below %d", name, raw, minimum)
        return default
    return value
