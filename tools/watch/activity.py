"""What the hooks learn about a client session: its transcript, its context use, its edits, and
whether it stops with unvalidated changes.

Keyed by the client's own session id (Claude Code's `session_id`, Cursor's `conversation_id`).
The transcript path lets the server measure context for the tools too (`transcript_for`).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import bands, transcript_usage
from .records import iso
from .settings import DEFAULTS, WatchSettings

if TYPE_CHECKING:
    from factorops.store.store import Store

# What "I'm done" sounds like at the end of a turn.
_DONE = re.compile(
    r"\b(done|complete[d]?|finished|implemented|fixed|all (?:tests|checks) pass(?:ed|ing)?|"
    r"ready for review|works now|resolved)\b",
    re.IGNORECASE,
)


def note_session(
    store: Store, client: str, client_session: str, transcript_path: str | None, now: datetime
) -> None:
    with store.index.transaction() as db:
        db.execute(
            """INSERT INTO watch_sessions (client_session, client, transcript_path, updated_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT(client_session) DO UPDATE SET
                   transcript_path = COALESCE(excluded.transcript_path, transcript_path),
                   updated_at = excluded.updated_at""",
            [client_session, client, transcript_path, iso(now)],
        )


def measure_context(
    store: Store,
    client: str,
    client_session: str,
    transcript_path: str | None,
    now: datetime,
    settings: WatchSettings = DEFAULTS,
) -> bands.Band | None:
    """The session's context band from its transcript (None: nothing measured yet); remembered
    with the transcript path so the tools can name the band too."""
    usage = (
        transcript_usage.measure(Path(transcript_path), default_window=settings.default_window)
        if transcript_path
        else None
    )
    with store.index.transaction() as db:
        db.execute(
            """INSERT INTO watch_sessions (client_session, client, transcript_path, used_tokens, window, updated_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(client_session) DO UPDATE SET
                   transcript_path = COALESCE(excluded.transcript_path, transcript_path),
                   used_tokens = COALESCE(excluded.used_tokens, used_tokens),
                   window = COALESCE(excluded.window, window), updated_at = excluded.updated_at""",
            [
                client_session,
                client,
                transcript_path,
                usage.used if usage else None,
                usage.window if usage else None,
                iso(now),
            ],
        )
    return None if usage is None else bands.classify(usage.used, usage.window, settings)


def record_edit(store: Store, client: str, client_session: str, now: datetime) -> None:
    with store.index.transaction() as db:
        db.execute(
            """INSERT INTO watch_sessions (client_session, client, last_edit_at, updated_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT(client_session) DO UPDATE SET last_edit_at = excluded.last_edit_at,
                   updated_at = excluded.updated_at""",
            [client_session, client, iso(now), iso(now)],
        )


def claims_done(text: str | None) -> bool:
    return text is None or bool(_DONE.search(text))


def stop_check(store: Store, client_session: str, last_message: str | None, now: datetime) -> str | None:
    """When the assistant stops claiming it is done, but its latest edit has no passing validation
    since: say so, once per edit (a second stop after the same edit passes quietly)."""
    from factorops.tools.oversight import queries as oversight

    row = store.db.execute(
        "SELECT last_edit_at, stop_noted_edit_at FROM watch_sessions WHERE client_session = ?",
        [client_session],
    ).fetchone()
    if row is None or row[0] is None or row[0] == row[1] or not claims_done(last_message):
        return None
    counts = oversight.validation_counts(store, row[0])
    if counts.runs and counts.passed == counts.runs:
        return None
    why = (
        "no validation ran since your last edit"
        if not counts.runs
        else f"{counts.runs - counts.passed} of {counts.runs} gate runs since your last edit failed"
    )
    with store.index.transaction() as db:
        db.execute(
            "UPDATE watch_sessions SET stop_noted_edit_at = ? WHERE client_session = ?",
            [row[0], client_session],
        )
    return (
        f"factorops: the work is not validated: {why}. Run validation_run (the project's gates) "
        "before saying it is done, or say plainly that it is unvalidated."
    )


def factorops_session(store: Store, client_session: str) -> str | None:
    row = store.db.execute(
        "SELECT factorops_session FROM watch_sessions WHERE client_session = ?", [client_session]
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def link_session(store: Store, client: str, client_session: str, session_id: str, now: datetime) -> None:
    """Remember which factorops session holds this client session's checkpoints."""
    with store.index.transaction() as db:
        db.execute(
            """INSERT INTO watch_sessions (client_session, client, factorops_session, updated_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT(client_session) DO UPDATE SET factorops_session = excluded.factorops_session,
                   updated_at = excluded.updated_at""",
            [client_session, client, session_id, iso(now)],
        )
