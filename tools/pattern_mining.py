"""`patterns_mine` (Factor IX): turn history into candidate patterns, with evidence.

Sources:
- git: reverts (an anti-pattern: what was undone and why), fix-after-fix chains on the same file
  (a debug spiral's trace), hot spots, files that always change together, the commit message
  convention in use;
- sessions: learnings recorded at session end, and files that keep appearing in failed sessions.

Mining is incremental: the last mined git commit and session end are remembered in SQLite, so a
second run reads only what is new. Candidates are deterministic in title for the same finding, so
a finding seen again merges into the existing pattern (evidence joined, confidence raised)
instead of being repeated. Only a person promotes candidates.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from factorops.store.store import Store
from factorops.tools import patterns
from factorops.tools.compact import CompactModel
from factorops.tools.errors import DomainError
from factorops.tools.ids import new_id
from factorops.tools.pattern_model import Evidence, Pattern, PatternCandidate

Source = Literal["git", "sessions"]
Progress = Callable[[float, float, str], None]
_CONVENTIONAL = re.compile(r"^(feat|fix|chore|docs|refactor|test|perf|ci|build|style|revert)(\([^)]*\))?!?: ")
_FIX = re.compile(r"\b(fix|fixes|fixed|hotfix|bugfix|repair|correct)\b", re.IGNORECASE)
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")


def _since(value: str | None) -> str | None:
    if value is not None and (len(value) > 40 or not value.strip() or value.startswith("-")):
        raise ValueError("give a date such as 2026-01-01 or '3 months ago' (at most 40 characters)")
    return value


class PatternsMineInput(BaseModel):
    sources: list[Source] = ["git", "sessions"]
    since: Annotated[str | None, AfterValidator(_since), Field(description="git date")] = None


class MinedItem(CompactModel):
    id: str
    title: str
    kind: str
    merged: bool


class PatternsMineResult(CompactModel):
    commits_read: int
    sessions_read: int
    candidates: list[MinedItem] = Field(default_factory=list)


@dataclass
class Commit:
    sha: str
    subject: str
    when: int
    body: str
    files: list[str] = field(default_factory=list)


def read_commits(root: Path, since_sha: str | None, since_date: str | None) -> list[Commit]:
    args = ["git", "log", "--no-merges", "--format=%x00%H%x01%s%x01%at%x01%b%x02", "--name-only"]
    if since_date:
        args.append(f"--since={since_date}")
    if since_sha:
        args.append(f"{since_sha}..HEAD")
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        if "does not have any commits" in proc.stderr or "unknown revision" in proc.stderr and not since_sha:
            return []
        if since_sha:  # history was rewritten: mine from the start
            return read_commits(root, None, since_date)
        raise DomainError("sources", f"git history could not be read: {proc.stderr.strip()[:200]}")
    commits: list[Commit] = []
    for block in proc.stdout.split("\0")[1:]:
        head, _, names = block.partition("\x02")
        sha, subject, when, body = (head.split("\x01") + ["", "", "0", ""])[:4]
        files = [n for n in names.strip().splitlines() if n]
        commits.append(Commit(sha, subject, int(when or 0), body, files))
    commits.reverse()  # oldest first
    return commits


def git_candidates(commits: list[Commit], all_commits: int) -> list[PatternCandidate]:
    out: list[PatternCandidate] = []
    by_sha = {c.sha: c for c in commits}
    for c in commits:
        m = _REVERTS.search(c.body)
        if c.subject.startswith('Revert "') or m:
            original = by_sha.get(m.group(1)) if m else None
            what = original.subject if original else c.subject.removeprefix('Revert "').rstrip('"')
            out.append(
                PatternCandidate(
                    title=f"Reverted change: {what[:150]}",
                    kind="anti-pattern",
                    problem=f"The change '{what}' was reverted ({c.sha[:10]}).",
                    solution="Check the revert's reason before trying this change again; validate it first.",
                    evidence=Evidence(commits=[c.sha] + ([original.sha] if original else [])),
                    scope=c.files[:20],
                    tags=["revert", "git"],
                    confidence=0.6,
                    source="git:revert",
                )
            )
    # fix-after-fix: >= 3 fix commits touching the same file within 10 consecutive commits
    recent: dict[str, list[tuple[int, Commit]]] = defaultdict(list)
    flagged: set[str] = set()
    for i, c in enumerate(commits):
        if not _FIX.search(c.subject):
            continue
        for f in c.files:
            recent[f] = [(j, x) for j, x in recent[f] if j >= i - 10] + [(i, c)]
            chain = [x for _, x in recent[f]]
            if len(chain) >= 3 and f not in flagged:
                flagged.add(f)
                out.append(
                    PatternCandidate(
                        title=f"Fix after fix in {f}",
                        kind="anti-pattern",
                        problem=f"{len(chain)} fixes to {f} in quick succession: a debug spiral's trace.",
                        solution=f"Before changing {f} again, load its context and tests, and run validation "
                        "after each step instead of stacking fixes.",
                        evidence=Evidence(commits=[x.sha for x in chain]),
                        scope=[f],
                        tags=["fix-chain", "git"],
                        confidence=min(0.9, 0.4 + 0.1 * len(chain)),
                        source="git:fix-chain",
                    )
                )
    if len(commits) >= 20:
        counts = Counter(f for c in commits for f in c.files)
        for f, n in counts.most_common(5):
            if n >= max(10, len(commits) // 10):
                out.append(
                    PatternCandidate(
                        title=f"Hot spot: {f}",
                        kind="pattern",
                        problem=f"{f} changed in {n} of {len(commits)} commits read.",
                        solution=f"Changes to {f} are frequent: keep them small and validated; consider "
                        "splitting the file.",
                        scope=[f],
                        tags=["hotspot", "git"],
                        confidence=0.5,
                        source="git:hotspot",
                    )
                )
        pairs: Counter[tuple[str, str]] = Counter()
        for c in commits:
            files = sorted(set(c.files))
            if 2 <= len(files) <= 12:
                for a_i, a in enumerate(files):
                    for b in files[a_i + 1 :]:
                        pairs[(a, b)] += 1
        for (a, b), n in pairs.most_common(5):
            if n >= 5 and n >= 0.6 * min(counts[a], counts[b]):
                out.append(
                    PatternCandidate(
                        title=f"Change {a} together with {b}",
                        kind="pattern",
                        problem=f"{a} and {b} changed together in {n} commits.",
                        solution="When editing one of them, load and check the other.",
                        scope=[a, b],
                        tags=["co-change", "git"],
                        confidence=min(0.9, 0.4 + n / 20),
                        source="git:co-change",
                    )
                )
        conventional = sum(1 for c in commits if _CONVENTIONAL.match(c.subject))
        if conventional >= 0.7 * len(commits):
            out.append(
                PatternCandidate(
                    title="Commit messages follow Conventional Commits",
                    kind="pattern",
                    problem="Commit subjects in this repository use `type(scope): summary`.",
                    solution="Write commit subjects as feat|fix|docs|refactor|test|chore(scope): summary.",
                    tags=["convention", "git"],
                    confidence=round(conventional / len(commits), 2),
                    source="git:convention",
                )
            )
    return out


def session_candidates(store: Store, since: str | None) -> tuple[list[PatternCandidate], int, str | None]:
    rows = store.db.execute(
        """SELECT id, goal, outcome, learnings, ended_at FROM sessions
           WHERE status = 'ended' AND (? IS NULL OR ended_at > ?) ORDER BY ended_at""",
        [since, since],
    ).fetchall()
    out: list[PatternCandidate] = []
    failed_files: Counter[str] = Counter()
    failed_sessions: dict[str, list[str]] = defaultdict(list)
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
        if outcome in ("failed", "abandoned"):
            for (ft,) in store.db.execute(
                "SELECT files_touched FROM checkpoints WHERE session_id = ?", [sid]
            ):
                for f in set(json.loads(ft)):
                    failed_files[f] += 1
                    failed_sessions[f].append(sid)
    for f, n in failed_files.items():
        if n >= 2:
            out.append(
                PatternCandidate(
                    title=f"Sessions touching {f} keep failing",
                    kind="anti-pattern",
                    problem=f"{n} failed or abandoned sessions touched {f}.",
                    solution=f"Plan work on {f} in small validated steps; ask for review before large edits.",
                    evidence=Evidence(sessions=failed_sessions[f][:50]),
                    scope=[f],
                    tags=["repeated-failure", "session"],
                    confidence=min(0.9, 0.4 + 0.15 * n),
                    source="sessions:failures",
                )
            )
    last = rows[-1][4] if rows else since
    return out, len(rows), last


def _norm(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


def store_candidates(store: Store, found: list[PatternCandidate], now: datetime) -> list[MinedItem]:
    """Merge each candidate into the pattern with the same kind and title, or record a new one."""
    existing = {
        (_norm(t), k): pid
        for pid, t, k in store.db.execute(
            "SELECT id, title, kind FROM patterns WHERE status != 'retired'"
        ).fetchall()
    }
    items: list[MinedItem] = []
    for cand in found:
        key = (_norm(cand.title), cand.kind)
        pid = existing.get(key)
        if pid is not None:
            old = patterns.get(store, pid)
            merged_ev = patterns.merge_evidence(old.evidence, cand.evidence)
            if merged_ev == old.evidence:
                continue  # nothing new
            p = old.model_copy(
                update={
                    "evidence": merged_ev,
                    "confidence": min(0.95, max(old.confidence, cand.confidence) + 0.05),
                    "updated": now,
                }
            )
            patterns.save(store, p, f"pattern: mined again {pid}")
            items.append(MinedItem(id=pid, title=p.title, kind=p.kind, merged=True))
        else:
            p = Pattern(
                **cand.model_dump(), id=new_id("pat", now), status="candidate", created=now, updated=now
            )
            patterns.save(store, p, f"pattern: mined candidate {p.title[:60]}")
            existing[key] = p.id
            items.append(MinedItem(id=p.id, title=p.title, kind=p.kind, merged=False))
    return items


def mine(
    store: Store, inp: PatternsMineInput, now: datetime, progress: Progress | None = None
) -> PatternsMineResult:
    root = store.datadir.root
    report = progress or (lambda done, total, msg: None)
    result = PatternsMineResult(commits_read=0, sessions_read=0)
    found: list[PatternCandidate] = []
    steps = len(inp.sources) + 1
    step = 0
    if "git" in inp.sources:
        report(step, steps, "reading git history")
        cursor = store.index.get_meta("mined_git_head")
        commits = read_commits(root, cursor, inp.since)
        result.commits_read = len(commits)
        found += git_candidates(commits, len(commits))
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        step += 1
        report(step, steps, f"read {len(commits)} commits")
    else:
        head = ""
    if "sessions" in inp.sources:
        cursor_s = store.index.get_meta("mined_sessions_until")
        cands, n, last = session_candidates(store, cursor_s)
        found += cands
        result.sessions_read = n
        step += 1
        report(step, steps, f"read {n} ended sessions")
    for i, _ in enumerate(found):
        if i % 20 == 0:
            report(step + i / max(1, len(found)), steps, f"storing {len(found)} candidates")
    result.candidates = store_candidates(store, found, now)
    with store.index.transaction() as db:
        if head:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('mined_git_head', ?)", [head])
        if "sessions" in inp.sources and last:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('mined_sessions_until', ?)", [last])
    report(steps, steps, f"{len(result.candidates)} candidates")
    return result
