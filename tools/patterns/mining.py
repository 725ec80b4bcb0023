"""`patterns_mine` (Factor IX): turn history into candidate patterns, with evidence.

Sources:
- git (`git_mining`): reverts, fix-after-fix chains on the same file, hot spots, files that change
  together, the commit-message convention;
- sessions: learnings recorded at session end, and files that keep appearing in failed sessions
  (at least three distinct ones: a recurring claim needs three independent occurrences).

Mining is incremental: the last mined git commit and the last mined session are cursors in the
`meta` table, and the running totals the detectors need are in `mining_files`/`mining_pairs`, so
a second run reads only what is new yet judges it against everything before. A candidate that is
the same as, or nearly the same as (same kind, titles sharing >= 80% of their words), an existing
pattern merges into it (evidence joined, confidence raised) instead of being repeated. Everything
one run finds is written as ONE ledger commit, in the same SQLite transaction as the new cursors,
so a crash never leaves the cursor ahead of the patterns. Only a person promotes candidates.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.ids import new_id
from factorops.tools.kernel.redact import redact

from . import git_mining
from . import records as patterns
from .model import Evidence, Pattern, PatternCandidate
from .models import PatternsMineInput

if TYPE_CHECKING:
    from factorops.store.db import Database

Progress = Callable[[float, float, str], None]
GIT_CURSOR = "mined_git_head"
GIT_COMMITS = "mined_git_commits"
GIT_CONVENTIONAL = "mined_git_conventional"
SESSION_CURSOR = "mined_sessions_until"  # "<last ended_at>|<ids that ended then>"
FAILED_SESSIONS_MIN = 3  # a recurring claim needs three independent occurrences (sessions)


class MinedItem(CompactModel):
    id: str
    title: str
    kind: str
    merged: bool


class PatternsMineResult(CompactModel):
    commits_read: int
    sessions_read: int
    candidates: list[MinedItem] = Field(default_factory=list)
    commit: str | None = None


# -- git state ---------------------------------------------------------------------------------------


def load_git_stats(store: Store) -> git_mining.GitStats:
    db = store.db
    stats = git_mining.GitStats(
        commits=int(store.index.get_meta(GIT_COMMITS) or 0),
        conventional=int(store.index.get_meta(GIT_CONVENTIONAL) or 0),
    )
    for path, changes, fixes, shas in db.execute(
        "SELECT path, changes, recent_fixes, last_shas FROM mining_files WHERE changes > 0"
    ):
        stats.changes[path] = changes
        recent = [(int(i), str(s)) for i, s in json.loads(fixes)]
        if recent:
            stats.recent_fixes[path] = recent
        stats.last_shas[path] = json.loads(shas)
    stats.pairs = Counter({(a, b): n for a, b, n in db.execute("SELECT a, b, n FROM mining_pairs")})
    return stats


def _save_git_stats(db: Database, stats: git_mining.GitStats, head: str | None) -> None:
    for path in stats.touched:
        db.execute(
            """INSERT INTO mining_files (path, changes, recent_fixes, last_shas) VALUES (?, ?, ?, ?)
               ON CONFLICT(path) DO UPDATE SET changes = excluded.changes,
                 recent_fixes = excluded.recent_fixes, last_shas = excluded.last_shas""",
            [
                path,
                stats.changes[path],
                json.dumps(stats.recent_fixes.get(path, [])),
                json.dumps(stats.last_shas.get(path, [])),
            ],
        )
    stats.prune_pairs()
    db.execute("DELETE FROM mining_pairs")
    db.conn.executemany(
        "INSERT INTO mining_pairs (a, b, n) VALUES (?, ?, ?)",
        [(a, b, n) for (a, b), n in stats.pairs.items()],
    )
    for key, value in ((GIT_COMMITS, stats.commits), (GIT_CONVENTIONAL, stats.conventional)):
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, str(value)])
    if head:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [GIT_CURSOR, head])


# -- sessions ----------------------------------------------------------------------------------------


def session_candidates(
    db: Database, cursor: str | None
) -> tuple[list[PatternCandidate], int, str | None, dict[str, list[str]]]:
    """Learnings and repeated failures of sessions ended after `cursor`; returns the candidates,
    the number of sessions read, the new cursor and the updated failed-session lists per file."""
    # The cursor is the last end time mined plus the ids that ended at that very instant (ids are
    # random, so they cannot order sessions that end together).
    after_time, _, done_ids = (cursor or "|").partition("|")
    skip = set(done_ids.split(",")) if done_ids else set()
    rows = [
        r
        for r in db.execute(
            """SELECT id, goal, outcome, learnings, ended_at FROM sessions
               WHERE status = 'ended' AND ended_at >= ? ORDER BY ended_at, id""",
            [after_time],
        ).fetchall()
        if not (r[4] == after_time and r[0] in skip)
    ]
    out: list[PatternCandidate] = []
    failed: dict[str, list[str]] = {}
    for sid, goal, outcome, learnings, _ended in rows:
        for text in json.loads(learnings or "[]"):
            out.append(
                PatternCandidate(
                    title=text.strip().splitlines()[0][:150],
                    kind="anti-pattern" if outcome in ("failed", "abandoned") else "pattern",
                    problem=f"Learned in session '{goal[:100]}' ({outcome}).",
                    solution=text,
                    evidence=Evidence(sessions=[sid]),
                    tags=["learning", "session"],
                    confidence=0.6 if outcome == "success" else 0.5,
                    source="sessions:learning",
                )
            )
        if outcome not in ("failed", "abandoned"):
            continue
        touched: set[str] = set()
        for (files,) in db.execute("SELECT files_touched FROM checkpoints WHERE session_id = ?", [sid]):
            touched |= set(json.loads(files))
        for f in sorted(touched):
            if f not in failed:
                row = db.execute("SELECT failed_sessions FROM mining_files WHERE path = ?", [f]).fetchone()
                failed[f] = json.loads(row[0]) if row else []
            failed[f] = [*failed[f], sid][-50:]
    for f, sids in failed.items():
        if len(sids) >= FAILED_SESSIONS_MIN:
            out.append(
                PatternCandidate(
                    title=f"Sessions touching {f} keep failing",
                    kind="anti-pattern",
                    problem=f"{len(sids)} failed or abandoned sessions touched {f}.",
                    solution=f"Plan work on {f} in small validated steps; ask for review before large edits.",
                    evidence=Evidence(sessions=sids, excerpt=_goals(db, sids)),
                    scope=[f],
                    tags=["repeated-failure", "session"],
                    confidence=min(0.9, 0.4 + 0.15 * len(sids)),
                    source="sessions:failures",
                )
            )
    new_cursor = cursor
    if rows:
        last = rows[-1][4]
        at_last = [r[0] for r in rows if r[4] == last] + (list(skip) if last == after_time else [])
        new_cursor = f"{last}|{','.join(sorted(at_last))}"
    return out, len(rows), new_cursor, failed


def _goals(db: Database, sids: list[str]) -> str | None:
    """The goals of these sessions, newest first, quoted for the evidence (so they are searchable)."""
    marks = ",".join("?" * len(sids))
    rows = db.execute(
        f"SELECT goal FROM sessions WHERE id IN ({marks}) ORDER BY started_at DESC, id DESC", sids
    ).fetchall()
    text = redact("; ".join(dict.fromkeys(str(r[0]) for r in rows)))[0]
    if not text:
        return None
    return text if len(text) <= git_mining.EXCERPT_MAX else text[: git_mining.EXCERPT_MAX - 1] + "…"


def _save_failures(db: Database, failed: dict[str, list[str]]) -> None:
    for path, sids in failed.items():
        db.execute(
            """INSERT INTO mining_files (path, failed_sessions) VALUES (?, ?)
               ON CONFLICT(path) DO UPDATE SET failed_sessions = excluded.failed_sessions""",
            [path, json.dumps(sids)],
        )


# -- merging -----------------------------------------------------------------------------------------


def merge_candidates(
    store: Store, found: list[PatternCandidate], now: datetime
) -> tuple[list[Pattern], list[MinedItem]]:
    """Patterns to write (new, or existing ones with new evidence) and what to report.

    Reads the stored patterns: call it against the latest state (`merge_and_write` does, under the
    ledger lock). A finding adds evidence (and confidence) to a pattern already stored; it never
    changes a status, and widens the scope of candidates only (an active pattern's reach is a
    person's decision)."""
    pending: dict[str, Pattern] = {}  # id -> pattern to write, in first-seen order
    seen: list[tuple[frozenset[str], str, str]] = []  # (title words, kind, id) written this run
    merged_ids: set[str] = set()
    for cand in map(patterns.redacted, found):  # subjects, goals, learnings may quote a secret
        words = patterns.title_words(cand.title)
        pid = next((i for w, k, i in seen if k == cand.kind and patterns.similar(w, words)), None)
        if pid is None:
            pid = patterns.find_duplicate(store, cand.title, cand.kind)
        if pid is None:
            p = Pattern(
                **cand.model_dump(), id=new_id("pat", now), status="candidate", created=now, updated=now
            )
            pending[p.id] = p
            seen.append((words, p.kind, p.id))
            continue
        old = pending.get(pid) or patterns.get(store, pid)
        evidence = patterns.merge_evidence(old.evidence, cand.evidence)
        if evidence == old.evidence:
            continue  # nothing new about it
        if pid not in pending:
            merged_ids.add(pid)
            seen.append((patterns.title_words(old.title), old.kind, pid))
        widen = old.status == "candidate"
        pending[pid] = old.model_copy(
            update={
                "evidence": evidence,
                "confidence": round(min(0.95, max(old.confidence, cand.confidence) + 0.05), 2),
                "scope": list(dict.fromkeys(old.scope + cand.scope))[:50] if widen else old.scope,
                "updated": now,
            }
        )
    items = [
        MinedItem(id=p.id, title=p.title, kind=p.kind, merged=p.id in merged_ids) for p in pending.values()
    ]
    return list(pending.values()), items


def merge_and_write(
    store: Store,
    found: list[PatternCandidate],
    now: datetime,
    message: str,
    actor: Actor | None = None,
    also: Callable[[Database], None] | None = None,
) -> tuple[str | None, list[MinedItem]]:
    """Merge `found` into the stored patterns and write them in one commit, against the latest state
    under the ledger lock, so evidence another process added meanwhile is kept, not overwritten.
    `also(db)` runs in the same index transaction (mining cursors); not at all when nothing is new."""
    items: list[list[MinedItem]] = [[]]

    def decide() -> patterns.Plan:
        to_write, items[0] = merge_candidates(store, found, now)
        new = sum(1 for i in items[0] if not i.merged)
        return patterns.Plan(
            kind=",".join(sorted(i.id if i.merged else "new" for i in items[0])),
            message=f"{message}: {new} new, {len(to_write) - new} merged",
            write=to_write,
        )

    commit, _ = patterns.apply_latest(store, decide, {"Factor": "IX"}, actor, also)
    return commit, items[0]


# -- the operation -----------------------------------------------------------------------------------


def mine(
    store: Store, inp: PatternsMineInput, now: datetime, progress: Progress | None = None
) -> PatternsMineResult:
    """Read what is new since the last run, propose or merge candidates, advance the cursors."""
    root = store.datadir.root
    report = progress or (lambda done, total, msg: None)
    result = PatternsMineResult(commits_read=0, sessions_read=0)
    found: list[PatternCandidate] = []
    stats: git_mining.GitStats | None = None
    head: str | None = None
    session_cursor: str | None = None
    failed: dict[str, list[str]] = {}
    todo = 0
    restart = False
    if "git" in inp.sources:
        cursor = store.index.get_meta(GIT_CURSOR)
        head = git_mining.head(root)
        restart = cursor is not None and head is not None and not git_mining.is_ancestor(root, cursor)
        if restart:
            cursor = None  # history was rewritten: mine it again from the start
        todo = git_mining.count(root, cursor, inp.since) if head and head != cursor else 0
        stats = git_mining.GitStats() if restart else load_git_stats(store)
        total = todo + 2
        report(0, total, f"reading {todo} commits")
        if todo:
            for c in git_mining.read_commits(
                root, cursor, inp.since, lambda d, t: report(d, t + 2, f"read {d} of {t} commits"), todo
            ):
                found += git_mining.observe(stats, c)
                result.commits_read += 1
            found += git_mining.summarise(stats)
            found = git_mining.refine(root, found, stats)
            git_mining.quote_subjects(root, found)
    total = todo + 2
    if "sessions" in inp.sources:
        report(todo, total, "reading ended sessions")
        cands, result.sessions_read, session_cursor, failed = session_candidates(
            store.db, store.index.get_meta(SESSION_CURSOR)
        )
        found += cands
    report(todo + 1, total, f"merging {len(found)} findings")

    def index(db: Database) -> None:
        if stats is not None:
            if restart:
                db.execute("UPDATE mining_files SET changes = 0, recent_fixes = '[]', last_shas = '[]'")
            _save_git_stats(db, stats, head)
        if "sessions" in inp.sources:
            _save_failures(db, failed)
            if session_cursor:
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [SESSION_CURSOR, session_cursor]
                )

    result.commit, result.candidates = merge_and_write(store, found, now, "patterns: mined", also=index)
    if result.commit is None:
        with store.index.transaction() as db:
            index(db)
    report(total, total, f"{len(result.candidates)} candidates")
    return result
