"""Records written before redaction existed: find the ones that hold a secret, rewrite them redacted.

Since issue #13 every way into the ledger redacts (recording and mining patterns, bundle import,
session goals, checkpoints and learnings). A project older than that may still hold secrets in
committed records, which sync shares and search and resources show. `scan` counts them (what
`factorops doctor` reports); `scrub` rewrites every one of them, redacted, in one ledger commit and
rebuilds the index from the ledger (what `doctor --fix` does). Only the free-text fields are changed,
with the same redactor (`tools/kernel/redact.py`) the writers use, so ids and structure stay.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from factorops.store import ledger_layout
from factorops.store.store import Store
from factorops.tools.kernel.redact import redact
from factorops.tools.patterns import markdown as pattern_markdown
from factorops.tools.patterns.scrub import scrub_pattern

_PATTERN_FILE = re.compile(ledger_layout.PATTERN_FILE)
_SESSION_FILE = re.compile(r"sessions/.+\.json")
# The free-text fields of session records (session.json, checkpoints, end.json) that the writers
# redact today; the rest are ids, times, tags and counts.
_SESSION_TEXT = frozenset(
    {"goal", "summary", "next_steps", "decisions", "open_questions", "answered_questions", "learnings"}
)


@dataclass
class ScrubReport:
    """Ledger records holding secrets: their paths, how many values, and the fix commit if made."""

    paths: list[str] = field(default_factory=list)
    secrets: int = 0
    commit: str | None = None


def _redact_value(value: object) -> tuple[object, int]:
    if isinstance(value, str):
        text, counts = redact(value)
        return text, sum(counts.values())
    if isinstance(value, list):
        out, found = [], 0
        for item in value:
            new, n = _redact_value(item)
            out.append(new)
            found += n
        return out, found
    return value, 0


def _scrubbed(path: str, data: bytes) -> tuple[bytes, int] | None:
    """The record redacted and how many secrets it held; None when it holds none (or is not ours)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _PATTERN_FILE.fullmatch(path):
        try:
            p = pattern_markdown.parse(text, path)
        except pattern_markdown.PatternFileError:
            return None  # doctor reports records that cannot be indexed on their own
        clean, found = scrub_pattern(p)
        return (pattern_markdown.render(clean).encode(), found) if found else None
    if _SESSION_FILE.fullmatch(path):
        try:
            rec = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(rec, dict):
            return None
        found = 0
        for key in _SESSION_TEXT & rec.keys():
            rec[key], n = _redact_value(rec[key])
            found += n
        if not found:
            return None
        return (json.dumps(rec, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(), found
    return None


def _committed_records(store: Store) -> list[str]:
    listing: str = store.ledger.repo.git.ls_tree("-r", "--name-only", "HEAD")
    return [p for p in listing.splitlines() if _PATTERN_FILE.fullmatch(p) or _SESSION_FILE.fullmatch(p)]


def scan(store: Store) -> ScrubReport:
    """Which committed records hold secrets (reads the ledger at HEAD, changes nothing)."""
    report = ScrubReport()
    head = store.ledger.head()
    for path in _committed_records(store):
        got = _scrubbed(path, store.ledger.read_committed(head, path))
        if got is not None:
            report.paths.append(path)
            report.secrets += got[1]
    return report


def scrub(store: Store) -> ScrubReport:
    """Rewrite every committed record that holds a secret, redacted, in one ledger commit; then
    the index is rebuilt from the ledger (search, resources and sync then show the redacted text).
    Older commits keep the old text: `git` history is the ledger's; the report says so."""
    report = ScrubReport()
    with store.ledger.locked():
        head = store.ledger.head()
        files: dict[str, bytes] = {}
        for path in _committed_records(store):
            got = _scrubbed(path, store.ledger.read_committed(head, path))
            if got is not None:
                files[path], n = got
                report.paths.append(path)
                report.secrets += n
        if files:
            report.commit = store.ledger.commit(
                files,
                f"doctor: redact {report.secrets} secrets in {len(files)} records written before redaction",
                {"Factor": "I"},
            )
    if files:
        # A rebuild, not a catch-up: indexers that keep derived rows (a session's last checkpoint
        # summary) update them only for newer records, and these rewrite old ones in place.
        store.rebuild()
    return report
