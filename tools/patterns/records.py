"""Patterns, anti-patterns and guardrails (Factors IX, XI): record, index, search, promote.

Each pattern is one Markdown file in the ledger (`patterns/<shard>/<id>.md`, see `ledger_layout`) and one commit per change;
SQLite indexes it with FTS5 (BM25 ranking, snippets).

Authority: every change takes an `Actor`. An assistant may record candidates and update them; a
change it proposes to an active (or retired) pattern becomes a new candidate *revision* (its own id,
`revises: <that id>`), because an active pattern is injected into future sessions and an active
guardrail blocks actions. Only a person promotes or retires (CLI, dashboard); promoting a revision
puts its content into the pattern it revises, which keeps its id and is active, and retires the
revision, in one commit. Every read-modify-write runs in `Store.write_checked`, against the latest
state under the ledger lock, so a person's decision is never overwritten by a concurrent update.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from factorops.store import ledger_layout
from factorops.store.components import Component, Migration, RecordKind
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor, require_person
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError, NotFound
from factorops.tools.kernel.ids import new_id
from factorops.tools.kernel.redact import redact

from . import markdown as pattern_markdown
from . import row_postings
from . import search as pattern_search
from .model import (
    Evidence,
    GuardrailRule,
    Pattern,
    PatternCandidate,
    PatternKind,
    PatternStatus,
)
from .models import PatternRecordInput, PatternsSearchInput
from .rule_regex import MAX_ACTION_REPEAT, MAX_REPEAT
from .rule_regex import regex_problem as _rule_regex_problem

if TYPE_CHECKING:
    from factorops.store.db import Database

_SHA = re.compile(r"^[0-9a-f]{7,40}$")


class PatternRecordResult(CompactModel):
    id: str
    status: PatternStatus
    created: bool
    commit: str
    revises: str | None = None  # this candidate proposes a change to that (active or retired) pattern
    note: str | None = None


class PatternHit(CompactModel):
    id: str
    title: str
    kind: PatternKind
    status: PatternStatus
    confidence: float
    snippet: str
    tags: list[str] = Field(default_factory=list)


class PatternsSearchResult(CompactModel):
    results: list[PatternHit] = Field(default_factory=list)
    tokens: int
    truncated: bool = False  # more matched than the limit or the token budget let through

    @model_serializer(mode="wrap")
    def _drop_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Empty fields are dropped as everywhere, but `results: []` stays: "nothing found" is the
        answer to a search, and a reply without the list reads as a malformed one."""
        data = handler(self)
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k == "results" or v not in (None, [], {})}
        return data


# -- index -----------------------------------------------------------------------------------------


def _index(db: Database, path: str, data: bytes, sha: str) -> None:
    upsert(db, _parse_file(path, data), sha)


def _parse_file(path: str, data: bytes) -> Pattern:
    p = pattern_markdown.parse(data.decode("utf-8", errors="replace"), path)
    if not ledger_layout.is_pattern_path(path, p.id):
        raise pattern_markdown.PatternFileError(f"{path}: id {p.id!r} does not match the file name")
    return p


def evidence_text(p: Pattern) -> str:
    """What the index searches besides the title, body and tags: the evidence's excerpt (commit
    subjects, session goals a miner quoted), the files in scope and the evidence references. The
    `patterns-004` migration computes the same text in SQL for an index made before."""
    ev = p.evidence
    parts = [ev.excerpt or "", *p.scope, *ev.commits, *ev.sessions, *ev.checkpoints, *ev.transcripts]
    return " ".join(x for x in parts if x)


def upsert(db: Database, p: Pattern, sha: str) -> None:
    row = db.execute("SELECT rowid FROM patterns WHERE id = ?", [p.id]).fetchone()
    values = [
        p.title,
        p.kind,
        p.status,
        p.problem,
        p.solution,
        json.dumps(p.tags),
        json.dumps(p.scope),
        p.confidence,
        p.times_used,
        p.times_helped,
        p.evidence.model_dump_json(),
        p.rule.model_dump_json() if p.rule else None,
        p.source,
        p.created.isoformat(),
        p.updated.isoformat(),
        sha,
    ]
    if row is None:
        db.execute(
            """INSERT INTO patterns (title, kind, status, problem, solution, tags, scope, confidence,
               times_used, times_helped, evidence, rule, source, created, updated, commit_sha, id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [*values, p.id],
        )
        rowid = db.execute("SELECT rowid FROM patterns WHERE id = ?", [p.id]).fetchone()[0]
    else:
        rowid = row[0]
        db.execute(
            """UPDATE patterns SET title=?, kind=?, status=?, problem=?, solution=?, tags=?, scope=?,
               confidence=?, times_used=?, times_helped=?, evidence=?, rule=?, source=?, created=?,
               updated=?, commit_sha=? WHERE id=?""",
            [*values, p.id],
        )
        pattern_search.unindex_row(db, rowid)
        db.execute("DELETE FROM patterns_fts WHERE rowid = ?", [rowid])
    db.execute("DELETE FROM pattern_revisions WHERE id = ?", [p.id])
    if p.revises is not None:
        db.execute("INSERT INTO pattern_revisions (id, revises) VALUES (?, ?)", [p.id, p.revises])
    texts = (p.title, p.problem, p.solution, " ".join(p.tags), evidence_text(p))
    db.execute(
        "INSERT INTO patterns_fts (rowid, title, problem, solution, tags, evidence) VALUES (?, ?, ?, ?, ?, ?)",
        [rowid, *texts],
    )
    pattern_search.index_row(db, rowid, texts, p.confidence, p.status, p.kind)  # same transaction
    db.execute(
        f"INSERT INTO meta (key, value) VALUES ('{pattern_search.VERSION}', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


COMPONENT = Component(
    name="patterns",
    migrations=(
        Migration(
            "patterns-001",
            """
            CREATE TABLE patterns (
                id TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                problem TEXT NOT NULL,
                solution TEXT NOT NULL,
                tags TEXT NOT NULL,
                scope TEXT NOT NULL,
                confidence REAL NOT NULL,
                times_used INTEGER NOT NULL,
                times_helped INTEGER NOT NULL,
                evidence TEXT NOT NULL,
                rule TEXT,
                source TEXT NOT NULL,
                created TEXT NOT NULL,
                updated TEXT NOT NULL,
                commit_sha TEXT NOT NULL
            );
            CREATE INDEX patterns_kind_status ON patterns (kind, status);
            CREATE VIRTUAL TABLE patterns_fts USING fts5(title, problem, solution, tags);
            """,
        ),
        # Mining state: running totals over the mined history, so an incremental run judges new
        # commits against all earlier ones. SQLite-only (derivable again by mining from scratch),
        # hence not a ledger table: a rebuild keeps it along with the cursors in `meta`.
        Migration(
            "patterns-002",
            """
            CREATE TABLE mining_files (
                path TEXT PRIMARY KEY,
                changes INTEGER NOT NULL DEFAULT 0,
                recent_fixes TEXT NOT NULL DEFAULT '[]',
                last_shas TEXT NOT NULL DEFAULT '[]',
                failed_sessions TEXT NOT NULL DEFAULT '[]'
            );
            CREATE TABLE mining_pairs (
                a TEXT NOT NULL,
                b TEXT NOT NULL,
                n INTEGER NOT NULL,
                PRIMARY KEY (a, b)
            ) WITHOUT ROWID;
            """,
        ),
        # Stemming: "tests" finds "test", "retrying" finds "retry". The index is derived, so it is
        # re-created from the patterns table.
        Migration(
            "patterns-003",
            """
            DROP TABLE patterns_fts;
            CREATE VIRTUAL TABLE patterns_fts USING fts5(
                title, problem, solution, tags, tokenize = 'porter unicode61 remove_diacritics 2'
            );
            INSERT INTO patterns_fts (rowid, title, problem, solution, tags)
                SELECT rowid, title, problem, solution,
                       coalesce((SELECT group_concat(value, ' ') FROM json_each(patterns.tags)), '')
                FROM patterns;
            """,
        ),
        # Evidence is searchable: what a miner quoted (commit subjects, session goals), the files in
        # scope and the references. Derived again from the patterns table, as in patterns-003.
        Migration(
            "patterns-004",
            """
            DROP TABLE patterns_fts;
            CREATE VIRTUAL TABLE patterns_fts USING fts5(
                title, problem, solution, tags, evidence,
                tokenize = 'porter unicode61 remove_diacritics 2'
            );
            INSERT INTO patterns_fts (rowid, title, problem, solution, tags, evidence)
                SELECT rowid, title, problem, solution,
                       coalesce((SELECT group_concat(value, ' ') FROM json_each(patterns.tags)), ''),
                       coalesce((SELECT group_concat(value, ' ') FROM (
                           SELECT json_extract(patterns.evidence, '$.excerpt') AS value
                           UNION ALL SELECT value FROM json_each(patterns.scope)
                           UNION ALL SELECT value FROM json_each(patterns.evidence, '$.commits')
                           UNION ALL SELECT value FROM json_each(patterns.evidence, '$.sessions')
                           UNION ALL SELECT value FROM json_each(patterns.evidence, '$.checkpoints')
                           UNION ALL SELECT value FROM json_each(patterns.evidence, '$.transcripts')
                       ) WHERE value IS NOT NULL AND value != ''), '')
                FROM patterns;
            """,
        ),
        # Revisions: a candidate that proposes a change to another pattern names it (`revises`).
        # Nothing stored before revisions existed is one, so the table starts empty. (There is no
        # patterns-005: for a few minutes of development it added a column, which this replaces.)
        Migration(
            "patterns-006",
            """
            CREATE TABLE IF NOT EXISTS pattern_revisions (id TEXT PRIMARY KEY, revises TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS pattern_revisions_revises ON pattern_revisions (revises);
            """,
        ),
        # Search walks patterns by confidence (the part of the ranking key no word bounds): see
        # tools/patterns/search.py.
        Migration(
            "patterns-007",
            "CREATE INDEX IF NOT EXISTS patterns_confidence ON patterns (confidence);",
        ),
        # The search's impact-ordered postings (tools/patterns/search.py), filled from FTS5's own
        # tokens of every row; derived, so made anew if a re-run finds them.
        Migration("patterns-008", pattern_search.POSTINGS_SQL),
        # A search filtered by status and kind walks only their rows by confidence, and checks the
        # tags in the index, not in the table's rows (see pattern_search.CONFIDENCE_INDEX). There
        # is no patterns-009: a round of search work added one and was reverted before shipping.
        Migration(
            "patterns-010",
            f"CREATE INDEX IF NOT EXISTS {pattern_search.CONFIDENCE_INDEX} "
            "ON patterns (status, kind, confidence, tags);",
        ),
        # The index's own id, part of the search's state key (search.INDEX_ID, row_postings).
        Migration(
            "patterns-011",
            f"INSERT OR IGNORE INTO meta (key, value) VALUES ('{pattern_search.INDEX_ID}', "
            "lower(hex(randomblob(16))));",
        ),
    ),
    kinds=(RecordKind("pattern", ledger_layout.PATTERN_FILE, _index),),
    ledger_tables=("patterns_fts", "patterns", "pattern_revisions", *pattern_search.POSTINGS_TABLES),
    bulk=pattern_search.deferred,  # a rebuild writes the search's postings once, at its end
)


# -- reading ---------------------------------------------------------------------------------------


def get(store: Store, pattern_id: str) -> Pattern:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", pattern_id):
        raise NotFound("id", f"no pattern {pattern_id!r}; search with patterns_search")
    path = ledger_layout.pattern_file(store.ledger.path, pattern_id)
    if not (store.ledger.path / path).is_file():
        raise NotFound("id", f"no pattern {pattern_id!r}; search with patterns_search")
    try:
        return _parse_file(path, store.ledger.read(path))
    except pattern_markdown.PatternFileError as exc:
        raise DomainError("id", f"the ledger file is broken: {exc}. Fix the file by hand") from None


def list_patterns(
    store: Store, status: str | None = None, kind: str | None = None, limit: int = 200
) -> list[dict[str, object]]:
    where, args = [], []
    if status:
        where.append("status = ?")
        args.append(status)
    if kind:
        where.append("kind = ?")
        args.append(kind)
    sql = (
        "SELECT p.id, title, kind, status, confidence, times_used, times_helped, updated, r.revises "
        "FROM patterns p LEFT JOIN pattern_revisions r ON r.id = p.id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY updated DESC LIMIT ?"
    cols = ["id", "title", "kind", "status", "confidence", "times_used", "times_helped", "updated", "revises"]
    return [dict(zip(cols, r, strict=True)) for r in store.db.execute(sql, [*args, limit]).fetchall()]


# -- writing ---------------------------------------------------------------------------------------


def _evidence(refs: list[str]) -> Evidence:
    ev = Evidence()
    for r in refs:
        if r.startswith("ses-"):
            ev.sessions.append(r)
        elif r.startswith("ckp-"):
            ev.checkpoints.append(r)
        elif _SHA.match(r):
            ev.commits.append(r)
        else:
            ev.transcripts.append(r)
    return ev


def save_many(
    store: Store, ps: list[Pattern], message: str, trailers: dict[str, str], actor: Actor | None = None
) -> str | None:
    """Write several patterns as one ledger commit, as they are (no read-modify-write: for new
    patterns, or callers that already hold the latest state)."""
    if not ps:
        return None
    files = {ledger_layout.pattern_path(p.id): pattern_markdown.render(p).encode() for p in ps}

    def index(db: Database, sha: str) -> None:
        for p in ps:
            upsert(db, p, sha)

    sha, _ = store.write(files, message, _with_actor(trailers, actor), index)
    return sha


def save(
    store: Store, p: Pattern, message: str, session: str | None = None, actor: Actor | None = None
) -> str:
    path = ledger_layout.pattern_path(p.id)
    data = pattern_markdown.render(p).encode()
    trailers = {"Pattern": p.id, "Factor": "XI" if p.kind == "guardrail" else "IX"}
    if session:
        trailers["Session"] = session
    sha, _ = store.write(
        {path: data}, message, _with_actor(trailers, actor), lambda db, sha: upsert(db, p, sha)
    )
    return sha


def one_line(text: str, limit: int = 200) -> str:
    """`text` fit for a commit message or trailer: control characters (a newline would forge a
    trailer) shown as escapes, and bounded."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _with_actor(trailers: dict[str, str], actor: Actor | None) -> dict[str, str]:
    return {**trailers, "Actor": one_line(actor.label)} if actor is not None else trailers


def regex_problem(pattern: str, *, action: bool = False) -> str | None:
    """Why a guardrail regex is refused (None when it is fine): RE2 syntax and size limits.

    Rules are compiled with RE2 (`rule_regex`), which runs in linear time, so no regex can hang
    `guardrail_check`; what RE2 cannot run (lookaround, backreferences) is refused with the reason.
    An action regex searches shorter text, so it may use larger counted repeats.
    """
    return _rule_regex_problem(pattern, max_repeat=MAX_ACTION_REPEAT if action else MAX_REPEAT)


def rule_problem(rule: GuardrailRule | None) -> str | None:
    """Why a stored or imported rule is refused (None when it is fine)."""
    if rule is None:
        return None
    for pattern, action in ((rule.command_regex, False), (rule.action_regex, True)):
        problem = regex_problem(pattern, action=action) if pattern else None
        if problem:
            return f"{pattern!r}: {problem}"
    return None


def _rule(inp: PatternRecordInput) -> GuardrailRule | None:
    """A guardrail's rule from `match` (command regex) and `scope` (path globs); all given must match."""
    if inp.kind != "guardrail":
        if inp.match is not None:
            raise DomainError(
                "match", "only guardrails have a rule; set kind to 'guardrail' or leave match out"
            )
        return None
    if inp.match is None and not inp.scope:
        raise DomainError(
            "match", "a guardrail needs match (a regex for the command) or scope (path globs) to fire on"
        )
    problem = regex_problem(inp.match) if inp.match is not None else None
    if problem:
        raise DomainError("match", problem)
    return GuardrailRule(effect=inp.effect, command_regex=inp.match, path_globs=list(inp.scope))


# -- read-modify-write against the latest state ----------------------------------------------------


class _Changed(Exception):
    """The state moved between choosing the commit message and taking the lock: decide again."""


class Plan(CompactModel):
    """What one change writes: decided against the latest state, under the ledger lock."""

    kind: str  # what kind of change, so a plan decided again under the lock can be compared
    message: str
    write: list[Pattern] = Field(default_factory=list)


def apply_latest(
    store: Store,
    decide: Callable[[], Plan],
    trailers: dict[str, str],
    actor: Actor | None = None,
    also: Callable[[Database], None] | None = None,
) -> tuple[str | None, Plan]:
    """Run `decide()` against the latest state under the ledger lock and commit what it plans.

    `decide` reads the patterns it changes itself (`get`) and raises a DomainError to refuse. It runs
    once before the lock to choose the commit message, and again under the lock; if the two plans
    differ in kind (say a person promoted the pattern in between), it starts over. A plan with
    nothing to write commits nothing: (None, plan). `also(db)` runs in the index transaction.
    """
    for _ in range(20):
        first = decide()
        if not first.write:
            return None, first
        chosen: list[Plan] = []

        def files(_db: Database, first: Plan = first, chosen: list[Plan] = chosen) -> dict[str, bytes]:
            plan = decide()
            if plan.kind != first.kind or not plan.write:
                raise _Changed
            chosen[:] = [plan]
            return {ledger_layout.pattern_path(p.id): pattern_markdown.render(p).encode() for p in plan.write}

        def index(db: Database, sha: str, chosen: list[Plan] = chosen) -> None:
            for p in chosen[0].write:
                upsert(db, p, sha)
            if also is not None:
                also(db)

        try:
            sha, _ = store.write_checked(files, first.message, _with_actor(trailers, actor), index)
        except _Changed:
            continue
        return sha, chosen[0]
    raise DomainError("id", "the pattern kept changing while this change was prepared; try again")


# -- content ---------------------------------------------------------------------------------------

# What a pattern says and does; status, counters, evidence and dates are not content.
CONTENT_FIELDS = ("title", "kind", "problem", "solution", "tags", "scope", "rule")


def same_content(a: PatternCandidate, b: PatternCandidate) -> bool:
    keys = set(CONTENT_FIELDS)
    return a.model_dump(include=keys) == b.model_dump(include=keys)


def content_changes(old: PatternCandidate, new: PatternCandidate) -> list[str]:
    """What `new` changes in `old`, in words a person can review ("rule.effect: block -> warn")."""
    out: list[str] = []
    for key in ("title", "kind", "problem", "solution", "tags", "scope"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            out.append(f"{key}: {a} -> {b}" if key == "kind" else f"{key} changed")
    ra = old.rule.model_dump() if old.rule else {}
    rb = new.rule.model_dump() if new.rule else {}
    if ra != rb:
        if not ra or not rb:
            out.append("rule removed" if ra else "rule added")
        for key in sorted(set(ra) & set(rb)):
            if ra[key] != rb[key]:
                out.append(
                    f"rule.effect: {ra[key]} -> {rb[key]}" if key == "effect" else f"rule.{key} changed"
                )
    return out


def _merged(old: Pattern, fields: PatternCandidate, now: datetime, actor: Actor) -> Pattern:
    """`old` with the recorded fields: every field given replaces the stored one, evidence adds up,
    a guardrail's rule stays unless a new one is given."""
    return Pattern.model_validate(
        {
            **old.model_dump(),
            **fields.model_dump(),
            "source": old.source,
            "updated": now,
            "evidence": merge_evidence(old.evidence, fields.evidence).model_dump(),
            "rule": rule.model_dump() if (rule := fields.rule or old.rule) is not None else None,
            "changed_by": actor.model_dump(),
        }
    )


def revision(target: Pattern, proposed: Pattern, now: datetime, actor: Actor) -> Pattern:
    """A new candidate proposing `proposed`'s content for `target` (which a person then promotes)."""
    return Pattern.model_validate(
        {
            **proposed.model_dump(),
            "id": new_id("pat", now),
            "status": "candidate",
            "revises": target.id,
            "times_used": 0,
            "times_helped": 0,
            "created": now,
            "updated": now,
            "changed_by": actor.model_dump(),
        }
    )


def open_revisions(store: Store, pattern_id: str) -> list[Pattern]:
    """The candidates proposing a change to `pattern_id`, oldest first."""
    rows = store.db.execute(
        "SELECT p.id FROM pattern_revisions r JOIN patterns p ON p.id = r.id "
        "WHERE r.revises = ? AND p.status = 'candidate' ORDER BY p.created, p.id",
        [pattern_id],
    ).fetchall()
    return [get(store, str(r[0])) for r in rows]


def redacted(c: PatternCandidate) -> PatternCandidate:
    """The candidate with secret values in its text replaced: what enters the ledger (and sync, search,
    resources and bundles after it) never carries one, whoever proposed it (an assistant, a miner)."""
    ev = c.evidence
    excerpt = redact(ev.excerpt)[0][:500] if ev.excerpt else ev.excerpt
    return c.model_copy(
        update={
            "title": redact(c.title)[0][:200],
            "problem": redact(c.problem)[0][:4000],
            "solution": redact(c.solution)[0][:4000],
            "evidence": ev.model_copy(update={"excerpt": excerpt}) if excerpt != ev.excerpt else ev,
        }
    )


def record(
    store: Store, inp: PatternRecordInput, now: datetime, actor: Actor | None = None
) -> PatternRecordResult:
    """Create a candidate, or change one by id; never changes a status (promotion is a person's call).

    `actor` is who records (None: an unnamed assistant, the least authority). An assistant updates
    candidates in place; its change to an active or retired pattern becomes a new candidate revision
    a person promotes, except that evidence alone is added in place (it changes no behaviour). A
    person may change an active pattern's content in place; it stays active.
    """
    actor = actor or Actor.assistant(None)
    fields = redacted(
        PatternCandidate(
            title=inp.title,
            kind=inp.kind,
            problem=inp.problem,
            solution=inp.solution,
            tags=inp.tags,
            scope=inp.scope,
            confidence=inp.confidence,
            evidence=_evidence(inp.evidence),
            rule=_rule(inp),
            source="assistant" if not actor.is_person else "manual",
        )
    )
    if inp.id is None:
        p = Pattern(
            **fields.model_dump(),
            id=new_id("pat", now),
            status="candidate",
            created=now,
            updated=now,
            changed_by=actor,
        )
        sha = save(store, p, f"pattern: record candidate {one_line(p.title, 60)}", actor=actor)
        return PatternRecordResult(id=p.id, status=p.status, created=True, commit=sha)
    pid = inp.id
    who = one_line(actor.label)

    def decide() -> Plan:
        old = get(store, pid)
        merged = _merged(old, fields, now, actor)
        if old.status == "candidate" or (actor.is_person and old.status == "active"):
            return Plan(kind="update", message=f"pattern: update {pid} (by {who})", write=[merged])
        if same_content(merged, old):
            if old.status == "retired":
                raise DomainError("id", f"pattern {pid} is retired; record a new one instead")
            evidence = merge_evidence(old.evidence, fields.evidence)
            if evidence == old.evidence:
                return Plan(kind="unchanged", message="")
            # Evidence changes no behaviour: it is added to the active pattern in place.
            again = old.model_copy(update={"evidence": evidence, "updated": now})
            return Plan(kind="evidence", message=f"pattern: evidence for {pid} (by {who})", write=[again])
        if old.status == "retired" and actor.is_person:
            raise DomainError("id", f"pattern {pid} is retired; record a new one instead")
        return Plan(
            kind="revise",
            message=f"pattern: propose a revision of {old.status} {pid} (by {who})",
            write=[revision(old, merged, now, actor)],
        )

    pre = get(store, pid)
    trailers = {"Pattern": pid, "Factor": "XI" if pre.kind == "guardrail" else "IX"}
    commit, plan = apply_latest(store, decide, trailers, actor)
    if commit is None:
        return PatternRecordResult(
            id=pid, status=pre.status, created=False, commit=store.ledger.head(), note="nothing changed"
        )
    p = plan.write[0]
    if plan.kind == "revise":
        note = (
            f"{pid} is {get(store, pid).status}, so an assistant cannot change it: your change is the "
            f"candidate revision {p.id}, which a person may promote (`factorops patterns promote {p.id}`)"
        )
        return PatternRecordResult(
            id=p.id, status=p.status, created=True, commit=commit, revises=pid, note=note
        )
    return PatternRecordResult(id=p.id, status=p.status, created=False, commit=commit, revises=p.revises)


def merge_evidence(a: Evidence, b: Evidence) -> Evidence:
    return Evidence(
        sessions=list(dict.fromkeys(a.sessions + b.sessions))[:50],
        checkpoints=list(dict.fromkeys(a.checkpoints + b.checkpoints))[:50],
        commits=list(dict.fromkeys(a.commits + b.commits))[:50],
        transcripts=list(dict.fromkeys(a.transcripts + b.transcripts))[:50],
        excerpt=b.excerpt or a.excerpt,
    )


def set_status(
    store: Store,
    pattern_id: str,
    status: PatternStatus,
    now: datetime,
    actor: Actor | str | None = None,
    *,
    by: str | None = None,
) -> Pattern:
    """Promote or retire: a person's decision (CLI, dashboard), never an assistant's.

    Decided against the latest state under the ledger lock, so a concurrent update can neither undo
    it nor be lost. Promoting a revision puts its content into the pattern it revises (which keeps
    its id, becomes active and names the person as its last changer) and retires the revision, in
    one commit. `by` (a name instead of an actor) is the older spelling for in-process callers: a
    person of that name.
    """
    if isinstance(actor, str):
        actor, by = None, actor
    if actor is None:
        if by is None:
            raise DomainError("actor", "say who decides: set_status needs an actor")
        actor = Actor(kind="person", via="cli", name=by[:200])
    decider: Actor = actor
    require_person(decider, "promote or retire a pattern")
    who = one_line(decider.label)

    def decide() -> Plan:
        p = get(store, pattern_id)
        if p.status == status:
            raise DomainError("id", f"pattern {pattern_id} is already {status}")
        if status == "active" and p.revises is not None:
            if p.status == "retired":
                raise DomainError(
                    "id",
                    f"{pattern_id} is a revision that was retired (applied or declined); it cannot be promoted",
                )
            try:
                target = get(store, p.revises)
            except NotFound:
                raise DomainError(
                    "id", f"{pattern_id} revises {p.revises}, which is not in this project; record it anew"
                ) from None
            applied = Pattern.model_validate(
                {
                    **target.model_dump(),
                    **p.model_dump(include=set(CONTENT_FIELDS)),
                    "evidence": merge_evidence(target.evidence, p.evidence).model_dump(),
                    "status": "active",
                    "updated": now,
                    "changed_by": decider.model_dump(),
                }
            )
            done = p.model_copy(update={"status": "retired", "updated": now})
            return Plan(
                kind="apply",
                message=f"pattern: promote revision {pattern_id}: its content replaces {target.id}, "
                f"which is active (by {who})",
                write=[applied, done],
            )
        if status == "active" and p.status == "retired":
            raise DomainError("id", f"pattern {pattern_id} is retired; record it again to revive it")
        return Plan(
            kind=status,
            message=f"pattern: {status} {pattern_id} (by {who})",
            write=[p.model_copy(update={"status": status, "updated": now})],
        )

    pre = get(store, pattern_id)
    trailers = {"Pattern": pattern_id, "Factor": "XI" if pre.kind == "guardrail" else "IX"}
    _, plan = apply_latest(store, decide, trailers, decider)
    return plan.write[0]


# -- near-duplicates ---------------------------------------------------------------------------

SIMILAR = 0.8  # Jaccard similarity of title words at which two patterns are the same finding


def title_words(title: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", title.lower()))


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= SIMILAR


def row_postings_of(store: Store) -> row_postings.Holder:
    """The store's row postings for its searches (kept on it: its close stops a build)."""
    return store.derived("patterns.row_postings", None, lambda: row_postings.Holder(store.index.path))


def find_duplicate(store: Store, title: str, kind: str) -> str | None:
    """The id of a stored, not retired pattern of the same kind whose title nearly equals `title`
    (same words, or >= SIMILAR of them shared); search narrows the field so this stays cheap."""
    words = title_words(title)
    filters = pattern_search.Filters(kind=kind)
    hits = pattern_search.search_rowids(store.db, title, filters, 10)
    if not hits:
        return None
    marks = ",".join("?" * len(hits))
    for pid, title in store.db.execute(
        f"SELECT id, title FROM patterns WHERE rowid IN ({marks})", [r for r, _ in hits]
    ).fetchall():
        if similar(words, title_words(title)):
            return str(pid)
    return None


# -- search ----------------------------------------------------------------------------------------


def _filters(inp: PatternsSearchInput) -> pattern_search.Filters:
    return pattern_search.Filters(status=inp.status, kind=inp.kind, tags=tuple(inp.tags))


_HIT_COLUMNS = "p.rowid, p.id, p.title, p.kind, p.status, p.confidence, p.tags, p.scope, p.problem"


def search(store: Store, inp: PatternsSearchInput, now: datetime) -> PatternsSearchResult:
    """Ranked hits with snippets; filters combine (AND); the answer never exceeds `budget_tokens`."""
    db = store.db
    filters = _filters(inp)
    # Path scopes are globs, matched in Python: fetch extra rows so filtering still fills the limit.
    fetch = (inp.limit * 4 if inp.paths else inp.limit) + 1
    found: list[tuple[tuple[object, ...], str | None]] = []
    if pattern_search.words(inp.query):
        hits = pattern_search.search_rowids(db, inp.query, filters, fetch, rows=row_postings_of(store))
        by_rowid = {
            r[0]: r
            for r in db.execute(
                f"SELECT {_HIT_COLUMNS} FROM patterns p WHERE p.rowid IN ({','.join('?' * len(hits))})",
                [rowid for rowid, _ in hits],
            ).fetchall()
        }
        found = [(by_rowid[rowid], q) for rowid, q in hits if rowid in by_rowid]
    elif not inp.query.strip():
        rows = db.execute(
            f"SELECT {_HIT_COLUMNS} FROM patterns p WHERE {filters.sql} "
            "ORDER BY p.confidence DESC, p.updated DESC LIMIT ?",
            [*filters.args, fetch],
        ).fetchall()
        found = [(r, None) for r in rows]
    if inp.paths:
        found = [f for f in found if _scope_matches(json.loads(str(f[0][7])), inp.paths)]
    query = next((q for _, q in found if q), None)  # every hit of a search has the same query
    marked = (
        pattern_search.snippets(db, query, [int(str(r[0])) for r, _ in found[: inp.limit]]) if query else {}
    )
    shown = [
        PatternHit(
            id=str(row[1]),
            title=str(row[2]),
            kind=row[3],
            status=row[4],
            confidence=round(float(str(row[5])), 2),
            snippet=marked.get(int(str(row[0])), "") if q else str(row[8])[:160],
            tags=json.loads(str(row[6])),
        )
        for row, q in found[: inp.limit]
    ]
    # `tokens` errs high unless the budget cut the list (then it is exact): see pattern_search.fit.
    kept, tokens = pattern_search.fit([h.model_dump_json() for h in shown], inp.budget_tokens)
    return PatternsSearchResult(
        results=shown[:kept], tokens=tokens, truncated=len(found) > inp.limit or kept < len(shown)
    )


def _scope_matches(scope: list[str], paths: list[str]) -> bool:
    """A pattern with no scope applies everywhere; otherwise a path must fall under one of its globs."""
    if not scope:
        return True
    return any(fnmatch(p, g) or p.startswith(g.rstrip("*").rstrip("/") + "/") for p in paths for g in scope)


def fts_query(text: str) -> str | None:
    """The OR query for `text` (kept for callers that want the raw FTS5 form, e.g. benchmarks)."""
    return pattern_search.fts_query(text)
