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

import math
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
from factorops.tools.patterns import queries as pattern_queries
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


def reverted_commit_times(store: Store, since: datetime | None) -> list[datetime] | None:
    """Commit times of the project's reverted commits made since `since` (None when there is no
    git history). A session's commit and its revert both come after the session started."""
    args = ["log", f"--max-count={MAX_COMMITS}", "--format=%H%x1f%ct%x1f%B%x1e"]
    if since is not None:
        args.append(f"--since={since.astimezone(UTC).isoformat()}")
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
    passed_sessions = oversight_queries.validated_sessions(store)
    reverted_times = reverted_commit_times(store, since)
    weeks: dict[str, Week] = {}
    leads: dict[str, list[float]] = defaultdict(list)
    all_leads: list[float] = []
    validated = failed = reverted = ended = 0
    monday: dict[object, str] = {}

    def week_of(t: datetime) -> str:
        d = t.astimezone(UTC).date()
        if d not in monday:
            monday[d] = (d - timedelta(days=d.weekday())).isoformat()
        return monday[d]

    for s in sessions:
        key = week_of(s.ended_at or s.started_at)
        wk = weeks.get(key) or weeks.setdefault(key, Week(week=key))
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
    failing_since: dict[str, str] = {}
    for r in runs:
        if not r.passed:
            failing_since.setdefault(r.gate, r.started_at)
        elif r.gate in failing_since:
            start = failing_since.pop(r.gate)
            if r.started_at >= since_iso:
                took = datetime.fromisoformat(r.started_at) - datetime.fromisoformat(start)
                recover.append(took.total_seconds() / 60)
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
    # Only cited patterns can have citations or grow, or be harmful: read just their files. The rest
    # can only fade: counted in SQL with the decay's cut-off date for each confidence.
    for pid in pattern_queries.cited_ids(store):
        try:
            p = patterns.get(store, pid)
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

    def faded_before(confidence: float) -> datetime:
        # confidence * 0.5 ** (days / half_life) < retire_below  <=>  days > half_life * log2(c / r)
        if m.retire_below <= 0:
            return now - timedelta(days=365_000)  # nothing fades below 0
        if confidence < m.retire_below:
            return now + timedelta(days=36_500)
        return now - timedelta(days=m.half_life_days * math.log2(confidence / m.retire_below))

    decayed += pattern_queries.uncited_updated_before(store, faded_before)
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
