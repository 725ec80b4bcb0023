"""Human approvals (Factor VIII): a person decides risky steps; the decision is an audit record.

An assistant can ask (`approval_request`) and wait (`approval_status`) but never decide: `decide`
takes the acting `Actor` and refuses anyone but a person (`require_person`). A person decides on
the CLI, on the dashboard, or by answering an elicitation in their own client; over HTTP an
elicitation answer may come from a script holding the token, so it decides low and medium risk
only: for high and critical risk it is recorded as a note and the request stays pending until a
person decides on the CLI or the dashboard (docs/authority.md).

Nobody deciding is handled lazily, with no daemon: every read, list and decision first `sweep`s.
A request pending for `[approvals] escalate_after_s` (4 h) is escalated once (an `escalation.json`
record, then the configured notify command, see escalation.py); one pending past its expiry
(`approval_timeout_s`, 24 h) is denied with reason "timeout" (a `decision.json` by `factorops`).
The dashboard also sweeps when it starts and every minute while it runs (docs/approvals.md).
Request, escalation, decision and notes are ledger files (`approvals/YYYY-MM/<id>/request.json`,
`escalation.json`, `decision.json`, `notes/<nid>.json`), each a commit. An approval belongs to the session it was
requested in; using it (session_end's override) is recorded in that session's end record, once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from factorops.store.components import Component, Migration, RecordKind
from factorops.store.store import Store
from factorops.tools.kernel import config
from factorops.tools.kernel.actor import Actor, AuthorityError, require_person
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError, NotFound
from factorops.tools.kernel.ids import new_id

from . import escalation
from .models import ApprovalRequestInput

if TYPE_CHECKING:
    from factorops.store.db import Database

Status = Literal["pending", "approved", "denied", "expired"]
# Risks an elicitation answer over HTTP may not decide: the answer may come from a script holding
# the bearer token rather than a person, and the client's name is self-declared.
PERSON_FACE_ONLY: frozenset[str] = frozenset({"high", "critical"})


class Approval(CompactModel):
    id: str
    status: Status
    action: str | None = None
    decided_by: str | None = None
    via: str | None = None
    comment: str | None = None
    expires_at: datetime | None = None
    reason: str | None = None  # "timeout": nobody decided in time
    escalated_at: datetime | None = None
    how: str | None = None
    warnings: list[str] = Field(default_factory=list)  # settings that fell back to a safe default


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _dump(d: Mapping[str, object]) -> bytes:
    return (json.dumps(d, indent=2, sort_keys=True) + "\n").encode()


def _index_request(db: Database, path: str, data: bytes, sha: str) -> None:
    r = json.loads(data)
    db.execute(
        """INSERT INTO approvals (id, action, rationale, risk, details, session_id, requested_at, expires_at,
                                  status, ledger_dir, commit_sha)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT(id) DO NOTHING""",
        [
            r["id"],
            r["action"],
            r["rationale"],
            r["risk"],
            r["details"],
            r.get("session_id"),
            r["requested_at"],
            r["expires_at"],
            path.rsplit("/", 1)[0],
            sha,
        ],
    )
    db.execute(
        "UPDATE approvals SET alternatives = ?, rollback = ? WHERE id = ?",
        [r.get("alternatives", ""), r.get("rollback", ""), r["id"]],
    )


def _index_note(db: Database, path: str, data: bytes, sha: str) -> None:
    n = json.loads(data)
    row = db.execute("SELECT notes FROM approvals WHERE id = ?", [n["approval_id"]]).fetchone()
    if row is None:
        return
    notes = json.loads(row[0])
    if any(x.get("id") == n["id"] for x in notes):
        return  # catch-up may index a note twice
    notes.append({"id": n["id"], "by": n["by"], "note": n["note"], "at": n["at"]})
    db.execute("UPDATE approvals SET notes = ? WHERE id = ?", [json.dumps(notes), n["approval_id"]])


def _index_decision(db: Database, path: str, data: bytes, sha: str) -> None:
    d = json.loads(data)
    db.execute(
        """UPDATE approvals SET status=?, decided_at=?, decided_by=?, via=?, comment=?, decision_sha=?, reason=?
           WHERE id=?""",
        [
            d["decision"],
            d["decided_at"],
            d["decided_by"],
            d["via"],
            d.get("comment", ""),
            sha,
            d.get("reason", ""),
            d["id"],
        ],
    )


def _index_escalation(db: Database, path: str, data: bytes, sha: str) -> None:
    e = json.loads(data)
    db.execute(
        "UPDATE approvals SET escalated_at = ? WHERE id = ? AND escalated_at IS NULL",
        [e["escalated_at"], e["id"]],
    )


COMPONENT = Component(
    name="approvals",
    migrations=(
        Migration(
            "approvals-001",
            """
            CREATE TABLE approvals (
                id TEXT PRIMARY KEY,
                action TEXT NOT NULL,
                rationale TEXT NOT NULL,
                risk TEXT NOT NULL,
                details TEXT NOT NULL,
                session_id TEXT,
                requested_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                status TEXT NOT NULL,
                decided_at TEXT,
                decided_by TEXT,
                via TEXT,
                comment TEXT,
                ledger_dir TEXT NOT NULL,
                commit_sha TEXT NOT NULL,
                decision_sha TEXT
            );
            CREATE INDEX approvals_status ON approvals (status, requested_at);
            """,
        ),
        Migration(
            "approvals-002",
            """
            ALTER TABLE approvals ADD COLUMN alternatives TEXT NOT NULL DEFAULT '';
            ALTER TABLE approvals ADD COLUMN rollback TEXT NOT NULL DEFAULT '';
            ALTER TABLE approvals ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';
            """,
        ),
        Migration(
            "approvals-003",
            """
            ALTER TABLE approvals ADD COLUMN escalated_at TEXT;
            ALTER TABLE approvals ADD COLUMN reason TEXT NOT NULL DEFAULT '';
            """,
        ),
    ),
    kinds=(
        RecordKind("approval_request", r"approvals/\d{4}-\d{2}/[^/]+/request\.json", _index_request),
        RecordKind("approval_decision", r"approvals/\d{4}-\d{2}/[^/]+/decision\.json", _index_decision),
        RecordKind("approval_note", r"approvals/\d{4}-\d{2}/[^/]+/notes/[^/]+\.json", _index_note),
        RecordKind("approval_escalation", r"approvals/\d{4}-\d{2}/[^/]+/escalation\.json", _index_escalation),
    ),
    ledger_tables=("approvals",),
)


DASHBOARD_PORT = 8766  # `factorops dashboard`'s default port


def link(approval_id: str) -> str:
    """The dashboard page of one request (the id in the path, so it survives signing in)."""
    return f"http://127.0.0.1:{DASHBOARD_PORT}/approvals/{approval_id}"


def how_to_decide(approval_id: str) -> str:
    return (
        f"A person decides with `factorops approve {approval_id}` or `factorops deny {approval_id} "
        f"--comment ...`, or on the dashboard (`factorops dashboard`, "
        f"{link(approval_id)}); wait with approval_status."
    )


def create(store: Store, inp: ApprovalRequestInput, now: datetime) -> Approval:
    # The expiry is a safety setting: a broken one (or a broken file) gives the default and a
    # warning, never a refusal to ask a person.
    settings = config.load_for(store.datadir)
    timeout_s = inp.timeout_s or settings.approval_timeout_s
    warnings = settings.warnings("*" if inp.timeout_s else "approval_timeout_s")
    aid = new_id("apr", now)
    expires = now + timedelta(seconds=timeout_s)
    rec = {
        "id": aid,
        "action": inp.action,
        "rationale": inp.rationale,
        "risk": inp.risk,
        "details": inp.details,
        "alternatives": inp.alternatives,
        "rollback": inp.rollback,
        "session_id": inp.session_id,
        "requested_at": _iso(now),
        "expires_at": _iso(expires),
    }
    path = f"approvals/{now.astimezone(UTC):%Y-%m}/{aid}/request.json"
    data = _dump(rec)
    trailers = {"Approval": aid, "Factor": "VIII"}
    if inp.session_id:
        trailers["Session"] = inp.session_id
    store.write(
        {path: data},
        f"approval: request ({inp.risk}) {inp.action[:60]}",
        trailers,
        lambda db, sha: _index_request(db, path, data, sha),
    )
    return Approval(
        id=aid,
        status="pending",
        action=inp.action,
        expires_at=expires,
        how=how_to_decide(aid),
        warnings=warnings,
    )


def _row(store: Store, approval_id: str) -> dict[str, object]:
    cur = store.db.execute("SELECT * FROM approvals WHERE id = ?", [approval_id])
    row = cur.fetchone()
    if row is None:
        raise NotFound("id", f"no approval {approval_id!r}; list them with `factorops approvals`")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def record(store: Store, approval_id: str, now: datetime) -> dict[str, object]:
    """One request's row, every column (swept first), for a page showing it."""
    status(store, approval_id, now)
    return _row(store, approval_id)


def status(store: Store, approval_id: str, now: datetime) -> Approval:
    """The request's state now: escalation and time-out are applied first (`sweep`)."""
    _row(store, approval_id)  # an unknown id is an error before anything is written
    sweep(store, now)
    return _status(store, approval_id, now)


def _status(store: Store, approval_id: str, now: datetime) -> Approval:
    r = _row(store, approval_id)
    st = str(r["status"])
    expires = datetime.fromisoformat(str(r["expires_at"]))
    if st == "pending" and now >= expires:
        st = "expired"  # past its time, the timeout record not yet written (a sweep is under way)
    escalated = r.get("escalated_at")
    return Approval(
        id=approval_id,
        status=st,
        action=str(r["action"]),
        decided_by=r["decided_by"],
        via=r["via"],
        comment=r["comment"] or None,
        expires_at=expires if st == "pending" else None,
        reason=str(r.get("reason") or "") or None,
        escalated_at=datetime.fromisoformat(str(escalated)) if escalated else None,
        how=how_to_decide(approval_id) if st == "pending" else None,
    )


class _Skip(DomainError):
    """Another process did it first: nothing to write."""


def sweep(store: Store, now: datetime) -> dict[str, list[str]]:
    """Apply time to pending requests: deny those past their expiry (reason "timeout"), escalate
    those pending longer than `[approvals] escalate_after_s` (once each, then run the notify
    command). Each is a ledger record written under the lock against the latest state, so a
    decision made meanwhile stands and several processes sweeping at once escalate a request once.
    Returns the ids {"timed_out": [...], "escalated": [...]}. Cheap when there is nothing to do:
    one query, and the settings are read only when some request may be due."""
    done: dict[str, list[str]] = {"timed_out": [], "escalated": []}
    rows = store.db.execute(
        "SELECT id, expires_at FROM approvals WHERE status = 'pending' AND expires_at <= ? ORDER BY requested_at",
        [_iso(now)],
    ).fetchall()
    for aid, _expires in rows:
        try:
            _time_out(store, str(aid), now)
            done["timed_out"].append(str(aid))
        except _Skip:
            pass
    waiting = store.db.execute(
        "SELECT id, requested_at FROM approvals WHERE status = 'pending' AND escalated_at IS NULL"
        " AND expires_at > ? ORDER BY requested_at",
        [_iso(now)],
    ).fetchall()
    if not waiting:
        return done
    settings = config.load_for(store.datadir).approvals
    due = now - timedelta(seconds=settings.escalate_after_s)
    for aid, requested in waiting:
        if datetime.fromisoformat(str(requested)) > due:
            continue
        try:
            row = _escalate(store, str(aid), now, settings.escalate_after_s)
        except _Skip:
            continue
        done["escalated"].append(str(aid))
        escalation.notify(
            settings.notify,
            {
                "id": str(aid),
                "summary": escalation.summary(str(row["risk"]), str(row["action"])),
                "link": link(str(aid)),
                "risk": str(row["risk"]),
                "requested_at": str(row["requested_at"]),
            },
            settings.notify_timeout_s,
            store.datadir.root,
        )
    return done


def _time_out(store: Store, approval_id: str, now: datetime) -> None:
    holder: dict[str, bytes] = {}

    def prepare(db: Database) -> dict[str, bytes]:
        r = _row(store, approval_id)
        if r["status"] != "pending":
            raise _Skip("id", "already decided")
        expires = datetime.fromisoformat(str(r["expires_at"]))
        waited = expires - datetime.fromisoformat(str(r["requested_at"]))
        rec = {
            "id": approval_id,
            "decision": "denied",
            "reason": "timeout",
            "decided_by": "factorops",
            "via": "timeout",
            "comment": f"timeout: no decision within {_span(waited)}",
            "decided_at": _iso(expires),
            "recorded_at": _iso(now),
        }
        holder["path"] = f"{r['ledger_dir']}/decision.json".encode()
        holder["data"] = _dump(rec)
        return {holder["path"].decode(): holder["data"]}

    store.write_checked(
        prepare,
        f"approval: denied (timeout) {approval_id}",
        {"Approval": approval_id, "Factor": "VIII", "Decided-By": "factorops (timeout)"},
        lambda db, sha: _index_decision(db, holder["path"].decode(), holder["data"], sha),
    )


def _escalate(store: Store, approval_id: str, now: datetime, after_s: int) -> dict[str, object]:
    row: dict[str, object] = {}
    files: dict[str, bytes] = {}

    def prepare(db: Database) -> dict[str, bytes]:
        r = _row(store, approval_id)
        if r["status"] != "pending" or r.get("escalated_at"):
            raise _Skip("id", "already escalated or decided")
        row.update(r)
        rec = {"id": approval_id, "escalated_at": _iso(now), "after_s": after_s}
        files[f"{r['ledger_dir']}/escalation.json"] = _dump(rec)
        return files

    store.write_checked(
        prepare,
        f"approval: escalated {approval_id} (pending {_span(timedelta(seconds=after_s))} or more)",
        {"Approval": approval_id, "Factor": "VIII"},
        lambda db, sha: _index_escalation(db, *next(iter(files.items())), sha),
    )
    return row


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s % 3600 == 0:
        return f"{s // 3600} h"
    if s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def decide(
    store: Store, approval_id: str, approve: bool, actor: Actor, comment: str, now: datetime
) -> Approval:
    """A person's decision, recorded as decided by `actor.label`. An assistant is refused; an
    elicitation answer over HTTP is refused for high and critical risk (`elicited` records it as a
    note instead). Checked under the ledger lock against the latest state: the first decision stands.
    """
    require_person(actor, "decide an approval")
    if len(comment) > 2000:
        raise DomainError("comment", "at most 2,000 characters")
    decision = "approved" if approve else "denied"
    holder: dict[str, str] = {}
    sweep(store, now)

    def prepare(db: Database) -> dict[str, bytes]:
        current = _status(store, approval_id, now)
        if current.status == "expired" or current.reason == "timeout":
            raise DomainError(
                "id", f"approval {approval_id} expired (timed out, denied); the assistant must ask again"
            )
        if current.status != "pending":
            raise DomainError(
                "id", f"approval {approval_id} was already {current.status} by {current.decided_by}"
            )
        r = _row(store, approval_id)
        if actor.via == "elicitation" and actor.transport == "http" and r["risk"] in PERSON_FACE_ONLY:
            raise AuthorityError(
                "id",
                f"a {r['risk']}-risk approval is not decided by an answer in the client over HTTP (it may "
                f"come from a script holding the token, and the client name is unverified). "
                + how_to_decide(approval_id),
            )
        rec = {
            "id": approval_id,
            "decision": decision,
            "decided_by": actor.label,
            "via": actor.via,
            "actor": actor.model_dump(),
            "comment": comment,
            "decided_at": _iso(now),
        }
        holder["path"] = f"{r['ledger_dir']}/decision.json"
        holder["data"] = _dump(rec).decode()
        if r.get("session_id"):
            holder["session"] = str(r["session_id"])
        return {holder["path"]: holder["data"].encode()}

    trailers = {"Approval": approval_id, "Factor": "VIII", "Decided-By": actor.label}
    store.write_checked(
        prepare,
        f"approval: {decision} by {actor.label}",
        trailers,
        lambda db, sha: _index_decision(db, holder["path"], holder["data"].encode(), sha),
    )
    return status(store, approval_id, now)


def elicited(
    store: Store,
    approval_id: str,
    answer: Literal["accept", "decline"],
    approve: bool,
    actor: Actor,
    comment: str,
    now: datetime,
) -> Approval:
    """A person's answer to an elicitation (`actor` is `Actor.elicitation(...)`). Where that answer
    may decide, it does; over HTTP for high and critical risk it is recorded as a note and the
    request stays pending, the reply saying how a person decides. A decision made meanwhile on the
    CLI or the dashboard (or expiry) stands: the answer is then no error."""
    approve = answer == "accept" and approve
    comment = comment if answer == "accept" else "declined in the client"
    try:
        return decide(store, approval_id, approve, actor, comment, now)
    except AuthorityError:
        said = "approve" if approve else "deny"
        note(store, approval_id, actor, f"answered {said} in the client: {comment}".rstrip(": "), now)
        st = status(store, approval_id, now)
        return st.model_copy(update={"how": f"The answer in the client is recorded as a note only. {st.how}"})
    except DomainError:
        return status(store, approval_id, now)


def note(store: Store, approval_id: str, actor: Actor, text: str, now: datetime) -> None:
    """Attach a note to an approval (it decides nothing)."""
    r = _row(store, approval_id)
    nid = new_id("note", now)
    rec = {"id": nid, "approval_id": approval_id, "by": actor.label, "note": text[:2000], "at": _iso(now)}
    path = f"{r['ledger_dir']}/notes/{nid}.json"
    data = _dump(rec)
    store.write(
        {path: data},
        f"approval: note on {approval_id} by {actor.label}",
        {"Approval": approval_id, "Factor": "VIII"},
        lambda db, sha: _index_note(db, path, data, sha),
    )


def pending(store: Store, now: datetime) -> list[dict[str, object]]:
    sweep(store, now)
    cur = store.db.execute(
        "SELECT id, action, rationale, risk, details, alternatives, rollback, notes, session_id, requested_at,"
        " expires_at, escalated_at FROM approvals"
        " WHERE status = 'pending' "
        "AND expires_at > ? ORDER BY requested_at",
        [_iso(now)],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def recent(store: Store, limit: int = 50, now: datetime | None = None) -> list[dict[str, object]]:
    """The latest requests, any status (swept first when `now` is given)."""
    if now is not None:
        sweep(store, now)
    cur = store.db.execute("SELECT * FROM approvals ORDER BY requested_at DESC LIMIT ?", [limit])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
