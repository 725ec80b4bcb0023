"""The watch's tables and its ledger record kind.

What the hooks observe on every tool call (runs of shell commands, the breaker's state, which
transcript belongs to which client session) is high-volume derived data: SQLite only, kept by a
rebuild, like metrics events. What a person may want to review later, a debug spiral called or a
breaker opened or closed, is a ledger record (`watch/<yyyy-mm>/<id>.json`, one commit each) indexed
into `watch_events`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from factorops.store.components import Component, Migration, RecordKind
from factorops.tools.kernel.ids import new_id

if TYPE_CHECKING:
    from factorops.store.db import Database
    from factorops.store.store import Store

EventKind = Literal["spiral", "breaker_open", "breaker_closed"]
MIGRATION_ID = "watch-001"


def _index_event(db: Database, path: str, data: bytes, sha: str) -> None:
    rec = json.loads(data)
    db.execute(
        """INSERT INTO watch_events (id, kind, command, client_session, at, detail, commit_sha)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET commit_sha = excluded.commit_sha""",
        [rec["id"], rec["kind"], rec["command"], rec["client_session"], rec["at"], rec["detail"], sha],
    )


COMPONENT = Component(
    name="watch",
    migrations=(
        Migration(
            MIGRATION_ID,
            """
            CREATE TABLE watch_runs (
                id INTEGER PRIMARY KEY,
                client_session TEXT NOT NULL,
                command TEXT NOT NULL,
                family TEXT NOT NULL,
                ok INTEGER NOT NULL,
                at TEXT NOT NULL,
                error TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX watch_runs_command ON watch_runs (command, id);
            CREATE INDEX watch_runs_family ON watch_runs (client_session, family, at);
            CREATE TABLE watch_breakers (
                command TEXT PRIMARY KEY,
                state TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
                opened_at TEXT,
                until TEXT,
                trial_at TEXT
            );
            CREATE TABLE watch_sessions (
                client_session TEXT PRIMARY KEY,
                client TEXT NOT NULL,
                transcript_path TEXT,
                factorops_session TEXT,
                last_edit_at TEXT,
                stop_noted_edit_at TEXT,
                used_tokens INTEGER,
                window INTEGER,
                updated_at TEXT NOT NULL
            );
            CREATE TABLE watch_events (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                command TEXT NOT NULL,
                client_session TEXT NOT NULL,
                at TEXT NOT NULL,
                detail TEXT NOT NULL,
                commit_sha TEXT NOT NULL
            );
            CREATE INDEX watch_events_at ON watch_events (kind, at);
            """,
        ),
    ),
    kinds=(RecordKind("watch_event", r"watch/\d{4}-\d{2}/[^/]+\.json", _index_event),),
    ledger_tables=("watch_events",),
)


@dataclass(frozen=True)
class WatchEvent:
    kind: EventKind
    command: str
    client_session: str
    at: datetime
    detail: str


def iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="microseconds")


def _dump(data: Mapping[str, object]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def log_events(store: Store, events: list[WatchEvent]) -> list[str]:
    """One ledger commit per event (they are rare: a spiral called, a breaker opened or closed).

    `store` must be opened with `Store.open` (caught up), as for every ledger write."""
    ids = []
    for ev in events:
        eid = new_id("wev", ev.at)
        rec = {
            "id": eid,
            "kind": ev.kind,
            "command": ev.command,
            "client_session": ev.client_session,
            "at": iso(ev.at),
            "detail": ev.detail,
        }
        path = f"watch/{ev.at.astimezone(UTC).strftime('%Y-%m')}/{eid}.json"
        data = _dump(rec)
        store.write(
            {path: data},
            f"watch: {ev.kind} {ev.command[:60]}\n\n{ev.detail}",
            {"Session": ev.client_session or "-", "Factor": "IV"},
            lambda db, sha, path=path, data=data: _index_event(db, path, data, sha),
        )
        ids.append(eid)
    return ids
