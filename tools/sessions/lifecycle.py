"""Sessions and checkpoints (Factors I and VI): save working state so any new session can resume.

A session is a goal pursued by an assistant; checkpoints record progress (summary, next steps,
decisions, open questions, files touched). Each start, checkpoint and end is one ledger file and
one commit, so the history is reviewable in git; SQLite indexes it for fast resume.

The resume state is context an assistant pays for in tokens, so it stays within a budget whatever
was saved (handoff.py): the latest checkpoint, every decision, the questions still open, the code
state it was saved at (gitstate.py), older material summarised and named in `left_out`.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from factorops.store.components import Component, Migration, RecordKind
from factorops.store.store import Store
from factorops.tools.flywheel import inject as flywheel
from factorops.tools.flywheel.inject import InjectedPattern
from factorops.tools.kernel import config
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError, NotFound
from factorops.tools.kernel.ids import new_id
from factorops.tools.kernel.redact import redact

from . import gitstate, handoff
from .handoff import ResumeState

# The inputs live in `models` (light: the MCP face registers the tools from them at start-up); the
# caps are re-exported for the modules that trim to them.
from .models import (  # noqa: F401
    FILES_MAX,
    GOAL_MAX,
    ITEM_MAX,
    SUMMARY_MAX,
    CheckpointInput,
    Outcome,
    SessionEndInput,
    SessionResumeInput,
    SessionStartInput,
)

if TYPE_CHECKING:
    from factorops.store.db import Database

# -- outputs ---------------------------------------------------------------------------------------


class SessionStartResult(CompactModel):
    session_id: str
    commit: str
    briefing: ResumeState | None = None
    stale_sessions: list[str] = Field(default_factory=list)  # open, idle past the stale limit
    patterns: list[InjectedPattern] = Field(default_factory=list)


class CheckpointResult(CompactModel):
    checkpoint_id: str
    seq: int
    commit: str
    handoff_tokens: int | None = None  # what session_resume returns now (given a transcript size)
    compression: float | None = None  # transcript_tokens / handoff_tokens
    warnings: list[str] = Field(default_factory=list)


class SessionEndResult(CompactModel):
    session_id: str
    outcome: Outcome
    checkpoints: int
    commit: str
    warnings: list[str] = Field(default_factory=list)


class SessionSummary(BaseModel):
    id: str
    goal: str
    status: Literal["open", "ended"]
    outcome: str | None
    started_at: datetime
    updated_at: datetime
    checkpoints: int


# -- ledger records --------------------------------------------------------------------------------


def _dump(data: Mapping[str, object]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="microseconds")


def _index_session(db: Database, path: str, data: bytes, sha: str) -> None:
    rec = json.loads(data)
    db.execute(
        """INSERT INTO sessions (id, goal, tags, status, started_at, updated_at, ledger_dir, commit_sha)
           VALUES (?, ?, ?, 'open', ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET
               goal=excluded.goal, tags=excluded.tags, commit_sha=excluded.commit_sha""",
        [
            rec["id"],
            rec["goal"],
            json.dumps(rec.get("tags", [])),
            rec["started_at"],
            rec["started_at"],
            path.rsplit("/", 1)[0],
            sha,
        ],
    )


def _index_checkpoint(db: Database, path: str, data: bytes, sha: str) -> None:
    rec = json.loads(data)
    exists = db.execute("SELECT seq FROM checkpoints WHERE id = ?", [rec["id"]]).fetchone()
    if exists:
        return
    seq_row = db.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM checkpoints WHERE session_id = ?", [rec["session_id"]]
    ).fetchone()
    db.execute(
        """INSERT INTO checkpoints (id, session_id, seq, summary, next_steps, decisions, open_questions,
                                    answered_questions, files_touched, created_at, commit_sha, git)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            rec["id"],
            rec["session_id"],
            seq_row[0],
            rec["summary"],
            json.dumps(rec["next_steps"]),
            json.dumps(rec["decisions"]),
            json.dumps(rec["open_questions"]),
            json.dumps(rec.get("answered_questions", [])),
            json.dumps(rec["files_touched"]),
            rec["created_at"],
            sha,
            json.dumps(rec["git"], sort_keys=True) if rec.get("git") else None,
        ],
    )
    db.execute(
        """UPDATE sessions SET updated_at = MAX(updated_at, ?), checkpoint_count = checkpoint_count + 1
           WHERE id = ?""",
        [rec["created_at"], rec["session_id"]],
    )
    paths = {norm_path(p) for p in rec["files_touched"] if isinstance(p, str) and p.strip()}
    db.conn.executemany(
        "INSERT OR IGNORE INTO session_files (path, session_id) VALUES (?, ?)",
        [(p, rec["session_id"]) for p in sorted(paths)],
    )


def norm_path(path: str) -> str:
    """A touched file as the collision check compares it (the file-collision guardrail's rule)."""
    p = posixpath.normpath(path.strip().replace("\\", "/"))
    return p[2:] if p.startswith("./") else p


def _index_end(db: Database, path: str, data: bytes, sha: str) -> None:
    rec = json.loads(data)
    override = rec.get("override") or {}
    db.execute(
        """UPDATE sessions SET status='ended', outcome=?, learnings=?, ended_at=?,
                  updated_at=MAX(updated_at, ?), end_commit_sha=?, approval_used=? WHERE id=?""",
        [
            rec["outcome"],
            json.dumps(rec["learnings"]),
            rec["ended_at"],
            rec["ended_at"],
            sha,
            override.get("approval_id"),
            rec["session_id"],
        ],
    )


COMPONENT = Component(
    name="sessions",
    migrations=(
        Migration(
            "sessions-001",
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                goal TEXT NOT NULL,
                tags TEXT NOT NULL DEFAULT '[]',
                status TEXT NOT NULL CHECK (status IN ('open', 'ended')),
                outcome TEXT,
                learnings TEXT NOT NULL DEFAULT '[]',
                started_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                ended_at TEXT,
                checkpoint_count INTEGER NOT NULL DEFAULT 0,
                ledger_dir TEXT NOT NULL,
                commit_sha TEXT NOT NULL,
                end_commit_sha TEXT
            );
            CREATE INDEX sessions_status_updated ON sessions (status, updated_at);
            CREATE TABLE checkpoints (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id),
                seq INTEGER NOT NULL,
                summary TEXT NOT NULL,
                next_steps TEXT NOT NULL,
                decisions TEXT NOT NULL,
                open_questions TEXT NOT NULL,
                files_touched TEXT NOT NULL,
                created_at TEXT NOT NULL,
                commit_sha TEXT NOT NULL,
                UNIQUE (session_id, seq)
            );
            """,
        ),
        # The approval a session's end used to override a guardrail: each approval is used once.
        Migration(
            "sessions-002",
            """
            ALTER TABLE sessions ADD COLUMN approval_used TEXT;
            CREATE INDEX sessions_approval_used ON sessions (approval_used);
            """,
        ),
        # The handoff (issue #18): questions a checkpoint settles, and the code state it was saved at.
        Migration(
            "sessions-003",
            """
            ALTER TABLE checkpoints ADD COLUMN answered_questions TEXT NOT NULL DEFAULT '[]';
            ALTER TABLE checkpoints ADD COLUMN git TEXT;
            """,
        ),
        # The files each session touched, by path (issue #19): the collision check asks only for the
        # paths it checks instead of reading and decoding every checkpoint of every open session.
        Migration(
            "sessions-004",
            r"""
            CREATE TABLE session_files (
                path TEXT NOT NULL,
                session_id TEXT NOT NULL REFERENCES sessions(id),
                PRIMARY KEY (path, session_id)
            ) WITHOUT ROWID;
            INSERT OR IGNORE INTO session_files (path, session_id)
                SELECT CASE WHEN p LIKE './%' THEN substr(p, 3) ELSE p END, session_id
                FROM (SELECT replace(j.value, '\', '/') AS p, c.session_id AS session_id
                      FROM checkpoints c, json_each(c.files_touched) j);
            """,
        ),
    ),
    kinds=(
        RecordKind("session", r"sessions/\d{4}-\d{2}/[^/]+/session\.json", _index_session),
        RecordKind("checkpoint", r"sessions/\d{4}-\d{2}/[^/]+/checkpoints/[^/]+\.json", _index_checkpoint),
        RecordKind("session_end", r"sessions/\d{4}-\d{2}/[^/]+/end\.json", _index_end),
    ),
    ledger_tables=("sessions", "checkpoints", "session_files"),
)


# -- operations ------------------------------------------------------------------------------------


def _row(store: Store, session_id: str) -> dict[str, object]:
    row = store.db.execute("SELECT * FROM sessions WHERE id = ?", [session_id]).fetchone()
    if row is None:
        raise NotFound(
            "session_id",
            f"no session {session_id!r} in this project; call session_resume without an id, "
            "or session_start to begin one",
        )
    cols = [d[0] for d in store.db.execute("SELECT * FROM sessions LIMIT 0").description]
    return dict(zip(cols, row, strict=True))


def _clean(text: str) -> str:
    return redact(text)[0]


def start(store: Store, inp: SessionStartInput, now: datetime) -> SessionStartResult:
    briefing = _latest_open(store, now)
    sid = new_id("ses", now)
    month = now.astimezone(UTC).strftime("%Y-%m")
    goal = _clean(inp.goal)  # what enters the ledger (and sync, resume, resources) holds no secret
    rec = {"id": sid, "goal": goal, "tags": inp.tags, "started_at": _iso(now)}
    path = f"sessions/{month}/{sid}/session.json"
    sha, _ = store.write(
        {path: _dump(rec)},
        f"session: start {sid}\n\n{goal}",
        {"Session": sid, "Factor": "VI"},
        lambda db, sha: _index_session(db, path, _dump(rec), sha),
    )
    shown = flywheel.relevant(store, inp.goal, now)
    flywheel.record_shown(store, sid, shown, "session_start", now)
    return SessionStartResult(
        session_id=sid, commit=sha, briefing=briefing, patterns=shown, stale_sessions=_stale_list(store, now)
    )


def stale_after(store: Store) -> timedelta:
    """How long an open session may sit idle before it is stale (`[sessions] stale_after_hours`)."""
    return timedelta(hours=config.load_for(store.datadir).sessions.stale_after_hours)


def _stale_cutoff(store: Store, now: datetime) -> str:
    return _iso(now - stale_after(store))


def _stale_list(store: Store, now: datetime, limit: int = 5) -> list[str]:
    """Open sessions idle past the limit, most recent first: end them (abandoned, partial) or
    resume them; until then briefings call them stale and collision warnings ignore them."""
    cutoff = _stale_cutoff(store, now)
    rows = store.db.execute(
        """SELECT id, goal, updated_at FROM sessions WHERE status = 'open' AND updated_at < ?
           ORDER BY updated_at DESC, id DESC LIMIT ?""",
        [cutoff, limit + 1],
    ).fetchall()
    out = [
        f"{sid} idle {humanize_age(now - datetime.fromisoformat(updated))}: {' '.join(goal.split())[:80]}"
        for sid, goal, updated in rows[:limit]
    ]
    if len(rows) > limit:
        more = store.db.execute(
            "SELECT COUNT(*) FROM sessions WHERE status = 'open' AND updated_at < ?", [cutoff]
        ).fetchone()[0]
        out.append(f"and {more - limit} more; agentops://sessions lists them")
    return out


def _open_row(store: Store, session_id: str) -> dict[str, object]:
    row = _row(store, session_id)
    if row["status"] == "ended":
        raise DomainError(
            "session_id",
            f"session {session_id} has ended (it already ended with outcome {row['outcome']!r}); "
            "nothing more is recorded in it: call session_start to begin a new one",
        )
    return row


def checkpoint(store: Store, inp: CheckpointInput, now: datetime) -> CheckpointResult:
    row = _open_row(store, inp.session_id)  # early, clear refusal; checked again under the lock
    cid = new_id("ckp", now)
    rec = {
        "id": cid,
        "session_id": inp.session_id,
        "summary": _clean(inp.summary),
        "next_steps": [_clean(s) for s in inp.next_steps],
        "decisions": [_clean(s) for s in inp.decisions],
        "open_questions": [_clean(s) for s in inp.open_questions],
        "files_touched": inp.files_touched,
        "created_at": _iso(now),
    }
    if inp.answered_questions:
        rec["answered_questions"] = [_clean(s) for s in inp.answered_questions]
    code = gitstate.capture(store.datadir.root)
    if code is not None:
        rec["git"] = code.model_dump(mode="json")
    warnings = _unknown_answers(store, inp)
    path = f"{row['ledger_dir']}/checkpoints/{cid}.json"
    data = _dump(rec)

    def index(db: Database, sha: str) -> int:
        _index_checkpoint(db, path, data, sha)
        seq = db.execute("SELECT seq FROM checkpoints WHERE id = ?", [cid]).fetchone()
        return int(seq[0])

    def prepare(db: Database) -> dict[str, bytes]:
        # Under the ledger lock, against the latest state: a session_end that won the race refuses
        # this checkpoint instead of letting it land after the end record.
        _open_row(store, inp.session_id)
        return {path: data}

    first_line = str(rec["summary"]).splitlines()[0][:72]
    sha, seq = store.write_checked(
        prepare,
        f"checkpoint: {first_line}",
        {"Session": inp.session_id, "Checkpoint": cid, "Factor": "VI"},
        index,
    )
    result = CheckpointResult(checkpoint_id=cid, seq=seq, commit=sha)
    alone = handoff.alone_tokens(rec)
    if alone > handoff.BUDGET_TOKENS:
        warnings.append(
            f"this checkpoint alone is about {alone:,} tokens, over the {handoff.BUDGET_TOKENS:,}-token "
            "handoff budget: session_resume will shorten it (left_out says what); keep the summary to the "
            "state of the work and the lists short"
        )
    if inp.transcript_tokens is not None:
        result.handoff_tokens = handoff.tokens(_state(store, _row(store, inp.session_id), now), exact=True)
        result.compression = round(inp.transcript_tokens / result.handoff_tokens, 1)
    result.warnings = warnings + _collisions(store, inp, now)
    return result


def _unknown_answers(store: Store, inp: CheckpointInput) -> list[str]:
    """An answered question that was never asked (or is already settled) is probably a typo: say so."""
    if not inp.answered_questions:
        return []
    open_ = {handoff.key(q) for q in handoff.still_open(handoff.load(store, inp.session_id))}
    unknown = [q for q in inp.answered_questions if handoff.key(q) not in open_]
    if not unknown:
        return []
    return [
        f"answered_questions: {'; '.join(repr(q) for q in unknown[:5])} matches no open question of this "
        "session (compared ignoring case and spacing); session_resume lists the open ones"
    ]


def _collisions(store: Store, inp: CheckpointInput, now: datetime) -> list[str]:
    """Two open sessions editing the same files collide (the file-collision starter guardrail).
    A stale session (idle past the limit) is left out: abandoned work does not block anyone.

    Asks the `session_files` index for the paths of this checkpoint only, so the cost does not grow
    with the other sessions' checkpoints."""
    if not inp.files_touched or not flywheel.starter_active(store, "file-collision"):
        return []
    mine = sorted({norm_path(p) for p in inp.files_touched if p.strip()})
    others: dict[str, list[str]] = {}
    for chunk in range(0, len(mine), 500):
        part = mine[chunk : chunk + 500]
        for sid, path in store.db.execute(
            f"""SELECT f.session_id, f.path FROM session_files f JOIN sessions s ON s.id = f.session_id
                WHERE f.path IN ({",".join("?" * len(part))}) AND f.session_id != ?
                  AND s.status = 'open' AND s.updated_at >= ?""",
            [*part, inp.session_id, _stale_cutoff(store, now)],
        ).fetchall():
            others.setdefault(sid, []).append(path)
    if not others:
        return []
    # Imported here: the starters bring the guardrail matcher and the shell parser, which a store
    # open (this module is a component) and most checkpoints never need.
    from factorops.tools.guardrails import starters as starter_guardrails

    decision = starter_guardrails.check_file_collision(inp.files_touched, others)
    return [m.why for m in decision.matches]


def end(store: Store, inp: SessionEndInput, now: datetime) -> SessionEndResult:
    row = _open_row(store, inp.session_id)
    flywheel.check_citations(store, inp.helped, inp.hurt)  # before anything is written
    path = f"{row['ledger_dir']}/end.json"
    result: dict[str, object] = {}
    trailers = {"Session": inp.session_id, "Factor": "VI"}

    def prepare(db: Database) -> dict[str, bytes]:
        # Every check runs under the ledger lock against the latest state: two concurrent ends,
        # or an approval used twice, cannot both pass.
        current = _open_row(store, inp.session_id)
        warnings = _check_success(store, inp, now) if inp.outcome == "success" else []
        rec: dict[str, object] = {
            "session_id": inp.session_id,
            "outcome": inp.outcome,
            "learnings": [_clean(s) for s in inp.learnings],
            "ended_at": _iso(now),
        }
        if inp.helped or inp.hurt:
            rec["cited"] = {"helped": inp.helped, "hurt": inp.hurt}
        if warnings:
            rec["override"] = {"approval_id": inp.approval_id, "warnings": warnings}
            trailers["Approval-Used"] = str(inp.approval_id)  # the ledger's record of the use
        result.update(warnings=warnings, data=_dump(rec), checkpoints=current["checkpoint_count"])
        return {path: _dump(rec)}

    def index(db: Database, sha: str) -> None:
        data = result["data"]
        assert isinstance(data, bytes)
        _index_end(db, path, data, sha)

    sha, _ = store.write_checked(prepare, f"session: end {inp.session_id} ({inp.outcome})", trailers, index)
    flywheel.measure(store, inp.session_id, inp.outcome, now, inp.helped, inp.hurt)
    warnings = result["warnings"]
    assert isinstance(warnings, list)
    return SessionEndResult(
        session_id=inp.session_id,
        outcome=inp.outcome,
        checkpoints=int(str(result["checkpoints"])),
        commit=sha,
        warnings=warnings,
    )


def _check_success(store: Store, inp: SessionEndInput, now: datetime) -> list[str]:
    """`success` needs validation (the success-needs-validation starter guardrail): every gate that
    ran since the session's last change must have passed on its latest run, and at least one must
    have run. The last change is the latest checkpoint with files_touched, or else the session's
    start: a checkpoint without files, or none at all, does not mean nothing changed. A person may
    approve claiming success anyway: an approval requested for this session (session_id), approved,
    and not used before. Its use is recorded in the end record (`override`), so it is used once.
    """
    if not flywheel.starter_active(store, "success-needs-validation"):
        return []
    why = _unvalidated(store, inp.session_id)
    if why is None:
        return []
    if inp.approval_id:
        _check_approval(store, inp.approval_id, inp.session_id)
        return [f"{why}; a person overrode this ({inp.approval_id})"]
    raise DomainError(
        "outcome",
        f"success needs validation: {why}. Or end with outcome 'partial', or ask a person with "
        f"approval_request (session_id={inp.session_id}) and pass the approved approval_id",
    )


def _check_approval(store: Store, approval_id: str, session_id: str) -> None:
    """An approval is bound to the session it was requested in, and used once."""
    a = store.db.execute("SELECT status, session_id FROM approvals WHERE id = ?", [approval_id]).fetchone()
    if a is None or a[0] != "approved":
        raise DomainError("approval_id", f"{approval_id} is not an approved approval request")
    if a[1] != session_id:
        where = f"session {a[1]}" if a[1] else "no session"
        raise DomainError(
            "approval_id",
            f"approval {approval_id} was requested for {where}, not {session_id}; an approval counts only "
            f"in the session it was requested in: ask with approval_request session_id={session_id}",
        )
    used = store.db.execute("SELECT id FROM sessions WHERE approval_used = ?", [approval_id]).fetchone()
    if used is not None:
        raise DomainError(
            "approval_id",
            f"approval {approval_id} was already used (by the end of session {used[0]}); each approval "
            "is used once: ask a person again with approval_request",
        )


def _unvalidated(store: Store, session_id: str) -> str | None:
    """Why this session's work is not validated since its last change (None when it is)."""
    db = store.db
    ck = db.execute(
        """SELECT id, created_at FROM checkpoints WHERE session_id = ? AND files_touched != '[]'
           ORDER BY created_at DESC, seq DESC LIMIT 1""",
        [session_id],
    ).fetchone()
    if ck is not None:
        since, change = datetime.fromisoformat(ck[1]), f"checkpoint {ck[0]} with files_touched"
    else:
        started = db.execute("SELECT started_at FROM sessions WHERE id = ?", [session_id]).fetchone()
        since, change = datetime.fromisoformat(started[0]), "the session's start"
    latest: dict[str, tuple[bool, str]] = {}  # gate -> (passed, run id) of its latest run since
    for gate, passed, started_at, run_id in db.execute(
        "SELECT gate, passed, started_at, run_id FROM validations WHERE session_id = ? "
        "ORDER BY started_at, rowid",
        [session_id],
    ).fetchall():
        if datetime.fromisoformat(started_at) >= since:
            latest[gate] = (bool(passed), run_id)
    if not latest:
        return (
            "no validation ran since the last change; run validation_run first, with "
            f"session_id={session_id} (the last change: {change})"
        )
    failed = sorted(g for g, (ok, _) in latest.items() if not ok)
    if failed:
        runs = ", ".join(f"{g!r} failed on its latest run {latest[g][1]}" for g in failed)
        return f"gate {runs}; fix it and run validation_run again with session_id={session_id}"
    return None


def resume(store: Store, inp: SessionResumeInput, now: datetime) -> ResumeState:
    if inp.session_id is None:
        row = store.db.execute(
            "SELECT id FROM sessions WHERE status = 'open' ORDER BY updated_at DESC, id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise DomainError(
                "session_id", "no unfinished session in this project; call session_start to begin one"
            )
        found = _row(store, row[0])
    else:
        found = _row(store, inp.session_id)
    count = int(str(found["checkpoint_count"]))
    if inp.checkpoint is not None and inp.checkpoint > count:
        raise DomainError(
            "checkpoint",
            f"session {found['id']} has {count} checkpoint(s): give a number from 1 to {count}"
            if count
            else f"session {found['id']} has no checkpoint yet",
        )
    return _state(store, found, now, inp.checkpoint)


def list_sessions(store: Store, limit: int = 50, status: str | None = None) -> list[SessionSummary]:
    where, args = ("WHERE status = ?", [status]) if status else ("", [])
    rows = store.db.execute(
        f"""SELECT id, goal, status, outcome, started_at, updated_at, checkpoint_count FROM sessions
            {where} ORDER BY updated_at DESC, id DESC LIMIT ?""",
        [*args, limit],
    ).fetchall()
    return [
        SessionSummary(
            id=r[0], goal=r[1], status=r[2], outcome=r[3], started_at=r[4], updated_at=r[5], checkpoints=r[6]
        )
        for r in rows
    ]


def _latest_open(store: Store, now: datetime) -> ResumeState | None:
    row = store.db.execute(
        "SELECT id FROM sessions WHERE status = 'open' ORDER BY updated_at DESC, id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _state(store, _row(store, row[0]), now)


def _state(store: Store, row: dict[str, object], now: datetime, seq: int | None = None) -> ResumeState:
    updated = datetime.fromisoformat(str(row["updated_at"]))
    state = ResumeState(
        session_id=str(row["id"]),
        goal=str(row["goal"]),
        status=row["status"],
        age=humanize_age(now - updated),
        checkpoints=int(str(row["checkpoint_count"])),
    )
    if row["status"] == "open" and now - updated > stale_after(store):
        state.stale = True
    return handoff.build(store, state, seq)


def humanize_age(delta: object) -> str:
    assert isinstance(delta, timedelta)
    secs = max(0, int(delta.total_seconds()))
    if secs < 60:
        return f"{secs}s"
    mins = secs // 60
    if mins < 60:
        return f"{mins}m"
    hours = mins // 60
    if hours < 48:
        return f"{hours}h {mins % 60}m"
    return f"{hours // 24}d"
