"""How full the context window is, measured from a Claude Code transcript (JSON lines).

A model cannot see its own token use; the client can: each assistant message in the transcript
carries the API's `usage`. The context the latest turn held is `input_tokens +
cache_creation_input_tokens + cache_read_input_tokens` of the latest assistant message (output
tokens become input on the next turn, and are counted there). Transcripts grow to many megabytes,
so the file is read backwards in blocks from its end until such a message is found; a half-written
last line is skipped. Sidechain (subagent) messages are skipped: they have their own window.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .settings import DEFAULTS

_BLOCK = 64 * 1024
_MAX_SCAN = 8 * 1024 * 1024  # never read more than this from the end of a transcript
_ONE_MILLION = re.compile(r"\[1m\]|(?:^|[-_])1m(?:$|[-_])|1m[-_]?context", re.IGNORECASE)


@dataclass(frozen=True)
class Usage:
    used: int
    window: int
    model: str | None


def window_for(model: str | None, used: int = 0, default: int = DEFAULTS.default_window) -> int:
    """The model's context window: 1M when its id says so (`...[1m]`, `-1m`), else `default`; a
    usage above the default proves the larger window."""
    if model and _ONE_MILLION.search(model):
        return 1_000_000
    return 1_000_000 if used > default else default


def _usage_of(line: bytes) -> tuple[int, str | None] | None:
    if b'"usage"' not in line or b'"assistant"' not in line:
        return None
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("type") != "assistant" or rec.get("isSidechain"):
        return None
    msg = rec.get("message")
    usage = msg.get("usage") if isinstance(msg, dict) else None
    if not isinstance(usage, dict):
        return None
    total = 0
    for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        v = usage.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            total += v
    model = msg.get("model") if isinstance(msg, dict) else None
    return total, model if isinstance(model, str) else None


def _lines_backwards(path: Path) -> list[bytes]:
    """Complete lines from the end of the file, newest first, reading at most `_MAX_SCAN` bytes."""
    out: list[bytes] = []
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        pos = f.tell()
        tail = b""
        scanned = 0
        while pos > 0 and scanned < _MAX_SCAN:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + tail
            scanned += step
            parts = chunk.split(b"\n")
            tail = parts[0]  # may be the end of a line that starts in an earlier block
            for part in reversed(parts[1:]):
                if part.strip():
                    out.append(part)
            if out and _any_usage(out):
                return out
        if pos == 0 and tail.strip():
            out.append(tail)
    return out


def _any_usage(lines: list[bytes]) -> bool:
    return any(_usage_of(line) is not None for line in lines)


def measure(
    path: Path, window: int | None = None, default_window: int = DEFAULTS.default_window
) -> Usage | None:
    """The context use of the latest main-thread assistant turn in `path` (None: nothing to measure
    yet, or the file cannot be read)."""
    try:
        lines = _lines_backwards(path)
    except OSError:
        return None
    for line in lines:
        got = _usage_of(line)
        if got is not None:
            used, model = got
            return Usage(used=used, window=window or window_for(model, used, default_window), model=model)
    return None
