"""Mining assistant transcripts into candidate patterns (opt-in: `factorops mine-transcripts`).

Transcripts belong to the person, not the project, so reading them is never automatic: a person
runs the command (there is no setting that lets a tool read them).
Each file's read position is remembered in SQLite (derived state), so a second run reads only
what was appended; findings merge into existing patterns like every other miner's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from factorops.store import ledger_layout
from factorops.store.components import Component, Migration
from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.patterns import markdown as pattern_markdown
from factorops.tools.patterns import mining as pattern_mining
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.mining import MinedItem

from . import detectors as transcript_detectors
from . import transcripts

if TYPE_CHECKING:
    from factorops.store.db import Database

COMPONENT = Component(
    name="transcript_mining",
    migrations=(
        Migration(
            "transcripts-001",
            "CREATE TABLE transcript_state (path TEXT PRIMARY KEY, state TEXT NOT NULL, mined_at TEXT NOT NULL);",
        ),
    ),
)


class TranscriptMineResult(CompactModel):
    files: int
    files_changed: int
    lines: int
    bad_lines: int
    candidates: list[MinedItem] = []
    problems: list[str] = []
    commit: str | None = None


def mine(
    store: Store,
    now: datetime,
    base_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> TranscriptMineResult:
    files, problems = transcripts.list_transcripts(store.datadir.root, base_dir)
    known = {
        p: json.loads(s) for p, s in store.db.execute("SELECT path, state FROM transcript_state").fetchall()
    }
    found = []
    states: dict[str, str] = {}
    result = TranscriptMineResult(files=len(files), files_changed=0, lines=0, bad_lines=0, problems=problems)
    for i, path in enumerate(files):
        prev = known.get(str(path))
        state = transcripts.TranscriptState.model_validate(prev) if prev else None
        r = transcript_detectors.mine_file(path, state)
        if not r.stats.unchanged:
            result.files_changed += 1
        result.lines += r.stats.lines
        result.bad_lines += r.stats.bad_json + r.stats.not_object + r.stats.huge
        found += r.candidates
        states[str(path)] = r.state.model_dump_json()
        if progress and (i % 20 == 0 or i + 1 == len(files)):
            progress(i + 1, len(files), f"read {i + 1}/{len(files)} transcripts")
    found = transcript_detectors.merge_candidates(found)
    to_write, result.candidates = pattern_mining.merge_candidates(store, found, now)

    def index(db: Database, sha: str | None) -> None:
        for p in to_write:
            patterns.upsert(db, p, sha or "")
        for path, st in states.items():
            db.execute(
                "INSERT OR REPLACE INTO transcript_state (path, state, mined_at) VALUES (?, ?, ?)",
                [path, st, now.isoformat()],
            )

    if to_write:
        files_out = {ledger_layout.pattern_path(p.id): pattern_markdown.render(p).encode() for p in to_write}
        result.commit, _ = store.write(
            files_out, f"patterns: mined {len(to_write)} from transcripts", {"Factor": "IX"}, index
        )
    else:
        with store.index.transaction() as db:
            index(db, None)
    return result
