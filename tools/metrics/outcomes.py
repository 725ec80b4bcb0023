"""Outcomes a team can read (issue #18), in the spirit of the delivery metrics teams already track.

- lead time: session start -> its validated success (a session that ended `success` and has a run
  whose gates all passed; success claimed through an approved override is not validated);
- change failure rate: of the sessions that ended, the share that failed or whose commits were
  reverted. A session's commits are the project's commits committed between its start and end;
  a commit is reverted when a later commit says "This reverts commit <sha>" (git's own wording)
  and that revert was not itself reverted. Read from the project's history (HEAD, at most
  MAX_COMMITS) with the store's git runner; without a git history only failed sessions count and
  `reverts_checked` is false;
- time to recover: per gate, from its first failing run to its next passing run;
- throughput: validated sessions per week;
- flywheel: retrieval (patterns shown to sessions + pattern searches) x citation rate (helpful
  citations per retrieval) = helpful uses, against decay (harmful citations plus patterns that are
  deprecated now: repeatedly harmful or faded past the decay). Compounding when the helpful uses
  outnumber the decay.

Every number is computed from other components' query functions and the project's git history.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from factorops.store import git
from factorops.store.store import Store
from factorops.tools.flywheel import maturity
from factorops.tools.flywheel import queries as flywheel_queries
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError
from factorops.tools.oversight import queries as oversight_queries
from factorops.tools.patterns import records as patterns
from factorops.tools.sessions import queries as session_queries

from . import rollup

MAX_COMMITS = 10_000
MAX_WEEKS = 12  # weeks charted
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")


class Week(CompactModel):
    week: str  # the Monday that starts it (UTC), YYYY-MM-DD
    validated: int = 0
    lead_time_hours: float | None = None  # median
    ended: int = 0
    failed: int = 0  # failed or reverted
    helpful: int = 0  # helpful citations from sessions started that week


class Flywheel(CompactModel):
    retrievals: int
    citation_rate: float | None = None
    helpful: int
    hurt: int
    decayed: int  # patterns deprecated now (harmful, or faded past the decay)
    growing: int  # patterns validated, general or standard now
    compounding: bool


class Outcomes(CompactModel):
    lead_time_hours: float | None = None  # median
    validated_sessions: int = 0
    change_failure_rate: float | None = None
    failed_sessions: int = 0
    reverted_sessions: int = 0
    reverts_checked: bool = False
    time_to_recover_minutes: float | None = None  # median
    recoveries: int = 0
    throughput_per_week: float | None = None
    flywheel: Flywheel | None = None
    weeks: list[Week] = []


def _monday(t: datetime) -> str:
    d = t.astimezone(UTC).date()
    return (d - timedelta(days=d.weekday())).isoformat()


def reverted_commit_times(store: Store) -> list[datetime] | None:
    """Commit times of the project's reverted commits (None when there is no git history)."""
    args = ["log", f"--max-count={MAX_COMMITS}", "--format=%H%x1f%ct%x1f%B%x1e"]
    try:
        out = git.run_text(store.datadir.root, *args, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    when: dict[str, datetime] = {}
    reverts: dict[str, list[str]] = {}  # revert commit -> what it reverts
    for rec in out.stdout.split("\x1e"):
        parts = rec.strip("\n").split("\x1f")
        if len(parts) != 3:
            continue
        sha, ct, body = parts
        when[sha] = datetime.fromtimestamp(int(ct), UTC)
        if found := _REVERTS.findall(body):
            reverts[sha] = found

    def full(prefix: str) -> str | None:
        return next((s for s in when if s.startswith(prefix)), None)

    undone = {t for r in reverts.values() for p in r if (t := full(p))}
    # A revert that was itself reverted does not count: the change stands.
    standing = {full(p) for r, ps in reverts.items() if r not in undone for p in ps}
    return sorted(when[s] for s in standing if s is not None)


def compute(store: Store, since_iso: str, since: datetime | None, now: datetime) -> Outcomes:
    sessions = session_queries.timeline(store, since_iso)
    runs = oversight_queries.gate_runs(store, "")
    # Validated: a run (all its gates) that passed, in the session.
    run_ok: dict[str, bool] = {}
    run_session: dict[str, str | None] = {}
    for r in runs:
        run_ok[r.run_id] = run_ok.get(r.run_id, True) and r.passed
        run_session[r.run_id] = r.session_id
    passed_sessions = {sid for rid, sid in run_session.items() if sid and run_ok[rid]}
    reverted_times = reverted_commit_times(store)
    weeks: dict[str, Week] = {}
    leads: dict[str, list[float]] = defaultdict(list)
    all_leads: list[float] = []
    validated = failed = reverted = ended = 0
    for s in sessions:
        wk = weeks.setdefault(
            _monday(s.ended_at or s.started_at), Week(week=_monday(s.ended_at or s.started_at))
        )
        if s.ended_at is None or s.outcome is None:
            continue
        ended += 1
        wk.ended += 1
        was_reverted = reverted_times is not None and any(
            s.started_at <= t <= s.ended_at for t in reverted_times
        )
        if s.outcome == "failed" or was_reverted:
            failed += 1
            wk.failed += 1
            reverted += was_reverted
        if s.outcome == "success" and s.id in passed_sessions:
            validated += 1
            wk.validated += 1
            hours = (s.ended_at - s.started_at).total_seconds() / 3600
            leads[wk.week].append(hours)
            all_leads.append(hours)
    for w, xs in leads.items():
        weeks[w].lead_time_hours = round(statistics.median(xs), 2)
    # Time to recover, per gate: first failing run -> next passing run.
    recover: list[float] = []
    failing_since: dict[str, datetime] = {}
    for r in runs:
        if not r.passed:
            failing_since.setdefault(r.gate, r.started_at)
        elif r.gate in failing_since:
            start = failing_since.pop(r.gate)
            if since is None or r.started_at >= since:
                recover.append((r.started_at - start).total_seconds() / 60)
    first = since or (sessions[0].started_at if sessions else now)
    span_weeks = max(1.0, (now - first).total_seconds() / (7 * 86400))
    fly = _flywheel(store, since_iso, sessions, now, weeks)
    return Outcomes(
        lead_time_hours=round(statistics.median(all_leads), 2) if all_leads else None,
        validated_sessions=validated,
        change_failure_rate=round(failed / ended, 3) if ended else None,
        failed_sessions=failed - reverted,
        reverted_sessions=reverted,
        reverts_checked=reverted_times is not None,
        time_to_recover_minutes=round(statistics.median(recover), 1) if recover else None,
        recoveries=len(recover),
        throughput_per_week=round(validated / span_weeks, 2) if sessions else None,
        flywheel=fly,
        weeks=[weeks[k] for k in sorted(weeks)][-MAX_WEEKS:],
    )


def _flywheel(
    store: Store,
    since_iso: str,
    sessions: list[session_queries.SessionTimes],
    now: datetime,
    weeks: dict[str, Week],
) -> Flywheel:
    started = {s.id: s.started_at for s in sessions}
    shown, _ = flywheel_queries.injections(store, since_iso)
    searches = sum(
        r[1] for r in rollup.per_tool(store.db.conn, rollup.hour_of(since_iso)) if r[0] == "patterns_search"
    )
    m = maturity.thresholds(store)
    helpful = hurt = decayed = growing = 0
    for row in patterns.list_patterns(store, limit=100_000):
        if row["status"] == "retired":
            continue
        try:
            p = patterns.get(store, str(row["id"]))
        except DomainError:
            continue
        stage = maturity.assess(p, now, m).stage
        decayed += stage == "deprecated"
        growing += stage in maturity.GROWING
        for sid in dict.fromkeys(p.helped_in):
            if sid in started:
                helpful += 1
                weeks.setdefault(_monday(started[sid]), Week(week=_monday(started[sid]))).helpful += 1
        hurt += sum(1 for sid in dict.fromkeys(p.hurt_in) if sid in started)
    retrievals = shown + searches
    return Flywheel(
        retrievals=retrievals,
        citation_rate=round(helpful / retrievals, 3) if retrievals else None,
        helpful=helpful,
        hurt=hurt,
        decayed=decayed,
        growing=growing,
        compounding=helpful > hurt + decayed,
    )
