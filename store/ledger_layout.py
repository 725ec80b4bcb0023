"""Where records live in the ledger, so no git tree grows with the number of records.

A commit rewrites every tree on the path to the files it writes. With all patterns in one folder,
a ledger of 10,000 patterns rewrote a 590 KB `patterns/` tree on every `pattern_record` (50 ms per
write, 160 KB of loose objects each). Patterns therefore live in 256 shard folders named by the
first two hex digits of the SHA-1 of their id: `patterns/3f/pat-20261125-ab12cd.md`. A write then
rewrites one shard tree (about 40 entries at 10,000 patterns) and the 256-entry `patterns/` tree.

Sessions need no sharding: they are already filed as `sessions/<yyyy-mm>/<session id>/...`, with a
session's checkpoints in its own folder.

Ledgers written before this layout keep their patterns at `patterns/<id>.md`. `Store.open` moves
them into their shards in one commit (`Ledger.shard_flat`), and every reader accepts both places,
so a flat file merged in from a teammate's older factorops is still found and indexed (the next
open moves it).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

PATTERNS = "patterns"
# Both layouts: `patterns/<id>.md` (flat, before sharding) and `patterns/<2 hex>/<id>.md`.
PATTERN_FILE = r"patterns/(?:[0-9a-f]{2}/)?[^/]+\.md"
_FLAT = re.compile(r"patterns/([^/]+)\.md")


def shard(name: str) -> str:
    """The shard folder of a record: two hex digits, spread evenly whatever the ids look like."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:2]


def pattern_path(pattern_id: str) -> str:
    """Where a pattern is written: `patterns/<shard>/<id>.md`."""
    return f"{PATTERNS}/{shard(pattern_id)}/{pattern_id}.md"


def flat_pattern_path(pattern_id: str) -> str:
    """Where a ledger made before sharding keeps a pattern."""
    return f"{PATTERNS}/{pattern_id}.md"


def pattern_file(ledger: Path, pattern_id: str) -> str:
    """The pattern's file as the working tree has it now: the sharded path, else the flat one if
    only that exists (an old ledger not yet moved, a flat file merged in by sync)."""
    sharded = pattern_path(pattern_id)
    if (ledger / sharded).is_file():
        return sharded
    flat = flat_pattern_path(pattern_id)
    if (ledger / flat).is_file():
        return flat
    return sharded


def is_pattern_path(path: str, pattern_id: str) -> bool:
    """Whether `path` is where pattern `pattern_id` belongs, in either layout."""
    return path in (pattern_path(pattern_id), flat_pattern_path(pattern_id))


def sharded_from_flat(path: str) -> str | None:
    """The sharded path for a flat-layout pattern path (None if `path` is not one)."""
    m = _FLAT.fullmatch(path)
    return pattern_path(m.group(1)) if m else None
