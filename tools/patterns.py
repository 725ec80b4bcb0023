"""Patterns, anti-patterns and guardrails (Factors IX, XI): record, index, search, promote.

Each pattern is one Markdown file in the ledger (`patterns/<id>.md`) and one commit per change;
SQLite indexes it with FTS5 (BM25 ranking, snippets). An assistant may record candidates and update
them; only a person promotes a candidate to active or retires it (CLI, approvals), because a
pattern that is active is injected into future sessions and guardrails may block actions.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Literal

import sqlite_utils
from pydantic import BaseModel, Field, StringConstraints

from factorops.store.components import Component, Migration, RecordKind
from factorops.store.store import Store
from factorops.tools import pattern_markdown
from factorops.tools.compact import CompactModel
from factorops.tools.errors import DomainError, NotFound
from factorops.tools.ids import new_id
from factorops.tools.pattern_model import (
    Evidence,
    GuardrailRule,
    Pattern,
    PatternCandidate,
    PatternKind,
    PatternStatus,
)
from factorops.tools.tokens import count_tokens

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Glob = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


class PatternRecordInput(BaseModel):
    id: str | None = Field(default=None, max_length=64, description="Update this pattern")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: PatternKind = "pattern"
    problem: str = Field(default="", max_length=4000)
    solution: str = Field(default="", max_length=4000, description="Solution, or the rule")
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    scope: list[Glob] = Field(default_factory=list, max_length=50, description="Path globs")
    evidence: list[Ref] = Field(
        default_factory=list, max_length=50, description="Session/checkpoint ids, commits"
    )
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    block_regex: str | None = Field(default=None, max_length=500, description="Guardrails: command regex")
    effect: Literal["warn", "block"] = "warn"


class PatternsSearchInput(BaseModel):
    query: str = Field(default="", max_length=500)
    kind: PatternKind | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    paths: list[Glob] = Field(default_factory=list, max_length=20)
    status: PatternStatus | None = None
    limit: int = Field(default=5, ge=1, le=50)
    budget_tokens: int = Field(default=800, ge=50, le=20_000)


class PatternRecordResult(CompactModel):
    id: str
    status: PatternStatus
    created: bool
    commit: str


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
    total: int
    tokens: int
    truncated: bool = False


# -- index -----------------------------------------------------------------------------------------


def _index(db: sqlite_utils.Database, path: str, data: bytes, sha: str) -> None:
    p = pattern_markdown.parse(data.decode("utf-8", errors="replace"), path)
    upsert(db, p, sha)


def upsert(db: sqlite_utils.Database, p: Pattern, sha: str) -> None:
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
        db.execute("DELETE FROM patterns_fts WHERE rowid = ?", [rowid])
    db.execute(
        "INSERT INTO patterns_fts (rowid, title, problem, solution, tags) VALUES (?, ?, ?, ?, ?)",
        [rowid, p.title, p.problem, p.solution, " ".join(p.tags)],
    )
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('patterns_version', '1') "
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
    ),
    kinds=(RecordKind("pattern", r"patterns/[^/]+\.md", _index),),
    ledger_tables=("patterns_fts", "patterns"),
)


# -- reading ---------------------------------------------------------------------------------------


def get(store: Store, pattern_id: str) -> Pattern:
    path = f"patterns/{pattern_id}.md"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", pattern_id) or not (store.ledger.path / path).is_file():
        raise NotFound("id", f"no pattern {pattern_id!r}; search with patterns_search")
    try:
        return pattern_markdown.parse(store.ledger.read(path).decode("utf-8", errors="replace"), path)
    except pattern_markdown.PatternFileError as exc:
        raise DomainError("id", f"the ledger file is broken ({exc}); fix it by hand or retire it") from None


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
    sql = "SELECT id, title, kind, status, confidence, times_used, times_helped, updated FROM patterns"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY updated DESC LIMIT ?"
    cols = ["id", "title", "kind", "status", "confidence", "times_used", "times_helped", "updated"]
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


def save(store: Store, p: Pattern, message: str, session: str | None = None) -> str:
    path = f"patterns/{p.id}.md"
    data = pattern_markdown.render(p).encode()
    trailers = {"Pattern": p.id, "Factor": "XI" if p.kind == "guardrail" else "IX"}
    if session:
        trailers["Session"] = session
    sha, _ = store.write({path: data}, message, trailers, lambda db, sha: upsert(db, p, sha))
    return sha


def record(store: Store, inp: PatternRecordInput, now: datetime) -> PatternRecordResult:
    rule = None
    if inp.block_regex is not None:
        try:
            re.compile(inp.block_regex)
        except re.error as exc:
            raise DomainError("block_regex", f"not a valid regular expression: {exc}") from None
        if inp.kind != "guardrail":
            raise DomainError("block_regex", "only guardrails have a rule; set kind to 'guardrail'")
        rule = GuardrailRule(effect=inp.effect, command_regex=inp.block_regex)
    fields = PatternCandidate(
        title=inp.title,
        kind=inp.kind,
        problem=inp.problem,
        solution=inp.solution,
        tags=inp.tags,
        scope=inp.scope,
        confidence=inp.confidence,
        evidence=_evidence(inp.evidence),
        rule=rule,
        source="assistant",
    )
    if inp.id is None:
        p = Pattern(
            **fields.model_dump(), id=new_id("pat", now), status="candidate", created=now, updated=now
        )
        sha = save(store, p, f"pattern: record candidate {p.title[:60]}")
        return PatternRecordResult(id=p.id, status=p.status, created=True, commit=sha)
    old = get(store, inp.id)
    if old.status == "retired":
        raise DomainError("id", f"pattern {inp.id} is retired; record a new one instead")
    merged = Pattern(
        **{
            **old.model_dump(),
            **fields.model_dump(),
            "source": old.source,
            "updated": now,
            "evidence": merge_evidence(old.evidence, fields.evidence),
            "rule": fields.rule or old.rule,
        }
    )
    sha = save(store, merged, f"pattern: update {old.id}")
    return PatternRecordResult(id=merged.id, status=merged.status, created=False, commit=sha)


def merge_evidence(a: Evidence, b: Evidence) -> Evidence:
    return Evidence(
        sessions=list(dict.fromkeys(a.sessions + b.sessions))[:50],
        checkpoints=list(dict.fromkeys(a.checkpoints + b.checkpoints))[:50],
        commits=list(dict.fromkeys(a.commits + b.commits))[:50],
        transcripts=list(dict.fromkeys(a.transcripts + b.transcripts))[:50],
        excerpt=b.excerpt or a.excerpt,
    )


def set_status(store: Store, pattern_id: str, status: PatternStatus, now: datetime, by: str) -> Pattern:
    """Promote or retire: a person's decision (CLI, dashboard, approval), never an assistant's."""
    p = get(store, pattern_id)
    if p.status == status:
        raise DomainError("id", f"pattern {pattern_id} is already {status}")
    if status == "active" and p.status == "retired":
        raise DomainError("id", f"pattern {pattern_id} is retired; record it again to revive it")
    p = p.model_copy(update={"status": status, "updated": now})
    save(store, p, f"pattern: {status} {pattern_id} (by {by})")
    return p


# -- search ----------------------------------------------------------------------------------------


def fts_query(text: str) -> str | None:
    """User text to an FTS5 query that cannot be a syntax error: words quoted, OR-ed, prefix on the last."""
    words = re.findall(r"\w+", text.lower())
    words = [w for w in words if len(w) > 1][:30]
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)


def search(store: Store, inp: PatternsSearchInput, now: datetime) -> PatternsSearchResult:
    where = ["1=1"]
    args: list[object] = []
    if inp.kind:
        where.append("p.kind = ?")
        args.append(inp.kind)
    status = inp.status
    if status:
        where.append("p.status = ?")
        args.append(status)
    else:
        where.append("p.status != 'retired'")
    for tag in inp.tags:
        where.append("EXISTS (SELECT 1 FROM json_each(p.tags) WHERE value = ?)")
        args.append(tag)
    q = fts_query(inp.query)
    fetch = inp.limit * 4 if inp.paths else inp.limit
    if q:
        sql = f"""SELECT p.id, p.title, p.kind, p.status, p.confidence, p.tags, p.scope,
                     snippet(patterns_fts, -1, '[', ']', '…', 16), bm25(patterns_fts, 5.0, 2.0, 2.0, 3.0) AS rank
                  FROM patterns_fts JOIN patterns p ON p.rowid = patterns_fts.rowid
                  WHERE patterns_fts MATCH ? AND {" AND ".join(where)}
                  ORDER BY rank - p.confidence LIMIT ?"""
        rows = store.db.execute(sql, [q, *args, fetch]).fetchall()
    else:
        sql = f"""SELECT p.id, p.title, p.kind, p.status, p.confidence, p.tags, p.scope,
                     substr(p.problem, 1, 160), 0 FROM patterns p WHERE {" AND ".join(where)}
                  ORDER BY p.confidence DESC, p.updated DESC LIMIT ?"""
        rows = store.db.execute(sql, [*args, fetch]).fetchall()
    if inp.paths:
        rows = [r for r in rows if _scope_matches(json.loads(r[6]), inp.paths)]
    out = PatternsSearchResult(total=len(rows), tokens=0)
    for r in rows[: inp.limit]:
        hit = PatternHit(
            id=r[0],
            title=r[1],
            kind=r[2],
            status=r[3],
            confidence=round(r[4], 2),
            snippet=r[7] or "",
            tags=json.loads(r[5]),
        )
        cost = count_tokens(hit.model_dump_json())
        if out.tokens + cost > inp.budget_tokens:
            out.truncated = True
            break
        out.results.append(hit)
        out.tokens += cost
    return out


def _scope_matches(scope: list[str], paths: list[str]) -> bool:
    from fnmatch import fnmatch

    if not scope:
        return True  # applies everywhere
    return any(fnmatch(p, g) or p.startswith(g.rstrip("*").rstrip("/") + "/") for p in paths for g in scope)
