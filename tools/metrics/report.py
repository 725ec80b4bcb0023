"""Metrics (Factor V): every tool call recorded cheaply, and a report of outcomes over a period.

Events are SQLite-only derived data (a rebuild keeps them; they are not worth a commit each).
Recording must cost next to nothing on the hot path, so events are buffered in memory and written
in one transaction per batch (or when the process closes the store). A process killed by SIGKILL
loses at most one unflushed batch of metrics, never a ledger record.
"""

from __future__ import annotations

import logging
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from factorops.store.components import Component, Migration
from factorops.store.store import Store
from factorops.tools.flywheel import queries as flywheel_queries
from factorops.tools.kernel import bands
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.oversight import queries as oversight_queries
from factorops.tools.patterns import queries as pattern_queries
from factorops.tools.sessions import queries as session_queries
from factorops.tools.watch import caller_band as watch_live
from factorops.tools.watch import queries as watch_queries

from . import outcomes as metrics_outcomes
from . import rollup as metrics_rollup
from .events import (  # noqa: F401 (recording lives in `events`, light: the server's call hook imports it)
    CHARS_PER_TOKEN,
    FLUSH_AFTER_S,
    FLUSH_EVERY,
    MAX_PENDING,
    EventBuffer,
    Row,
    buffer_for,
    close,
    flush,
    record_call,
    record_context_use,
)
from .models import MetricsReportInput, Period

log = logging.getLogger("factorops.metrics")

COMPONENT = Component(
    name="metrics",
    migrations=(
        Migration(
            "metrics-001",
            """
            CREATE TABLE events (
                ts TEXT NOT NULL,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                session_id TEXT,
                latency_ms REAL,
                outcome TEXT,
                n1 INTEGER,
                n2 INTEGER
            );
            CREATE INDEX events_ts ON events (ts);
            CREATE INDEX events_kind ON events (kind, ts);
            """,
        ),
        Migration("metrics-002", metrics_rollup.MIGRATION_SQL),
    ),
)

# -- report ----------------------------------------------------------------------------------------

# Alert limits (the methodology's numbers): a tool failing more often than this, a context window
# fuller than this, a gate running longer than this.
ERROR_RATE_LIMIT = 0.05
CONTEXT_LIMIT = 0.40
GATE_LIMIT_S = 300.0


class ToolStat(CompactModel):
    """A tool's golden signals: traffic (calls), errors, error rate, p50 and p95 latency."""

    tool: str
    calls: int
    errors: int
    error_rate: float = 0.0
    p50_ms: float
    p95_ms: float = 0.0
    avg_tokens_in: int = 0  # estimated: characters / 4 (counting tokens on every call costs too much)
    avg_tokens_out: int = 0


class Alert(CompactModel):
    kind: Literal["error_rate", "context", "gate"]
    subject: str  # the tool, session or gate
    value: float
    limit: float
    message: str


class MetricsReport(CompactModel):
    period: Period
    since: datetime | None = None
    alerts: list[Alert] = []
    sessions: int
    outcomes: dict[str, int]
    context_loads: int
    context_over_40pct: int
    median_context_share: float | None = None
    context_band: bands.BandName | None = None  # the band of the median share
    context_bands: dict[str, int] = {}  # context loads per band
    context_now: watch_live.ContextBand | None = None  # measured by the hooks, latest client session
    validations: int
    validation_pass_rate: float | None = None
    approvals: int
    approval_median_minutes: float | None = None
    patterns_active: int
    pattern_searches: int
    patterns_shown_per_session: float | None = None
    pattern_help_rate: float | None = None
    repeat_failure_rate: float | None = None
    spirals: int = 0  # debug spirals called (hooks and validation_run)
    breakers_opened: int = 0
    breakers_open_now: int = 0
    routed: int = 0  # route_task decisions
    routing_overrides: int = 0  # the caller chose another route than recommended
    override_rate: float | None = None  # overrides / decisions whose taken route is known
    routing_accuracy: float | None = None  # followed decisions whose session ended: share succeeded
    delivery: metrics_outcomes.Outcomes | None = None  # lead time, failure rate, recovery, flywheel
    tools: list[ToolStat]


def _since(period: Period, now: datetime) -> datetime | None:
    return (
        None
        if period == "all"
        else now - {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}[period]
    )


def report(store: Store, inp: MetricsReportInput, now: datetime) -> MetricsReport:
    flush(store)
    since = _since(inp.period, now)
    s = since.astimezone(UTC).isoformat() if since else ""
    db = store.db
    outcomes = session_queries.outcome_counts(store, s)
    shares = [
        n1 / n2
        for n1, n2 in db.execute(
            "SELECT n1, n2 FROM events WHERE kind = 'context' AND ts >= ? AND n2 > 0", [s]
        ).fetchall()
    ]
    val = oversight_queries.validation_counts(store, s)
    asked = oversight_queries.approval_counts(store, s)
    lat = asked.minutes_to_decide
    tools = [
        ToolStat(
            tool=name,
            calls=calls,
            errors=errors,
            error_rate=round(errors / calls, 3) if calls else 0.0,
            p50_ms=round(metrics_rollup.p50(hist), 2),
            p95_ms=round(metrics_rollup.p95(hist), 2),
            avg_tokens_in=round(chars_in / calls / CHARS_PER_TOKEN),
            avg_tokens_out=round(chars_out / calls / CHARS_PER_TOKEN),
        )
        for name, calls, errors, chars_in, chars_out, hist in sorted(
            metrics_rollup.per_tool(db.conn, metrics_rollup.hour_of(s)), key=lambda r: (-r[1], r[0])
        )
    ]
    shown, shown_sessions = flywheel_queries.injections(store, s)
    thresholds = watch_live.settings_for(store)
    per_band: dict[str, int] = {}
    for x in shares:
        name = bands.name_of(100 * x, thresholds)
        per_band[name] = per_band.get(name, 0) + 1
    median = statistics.median(shares) if shares else None
    watched = watch_queries.counts(store, s)
    used, helped = pattern_queries.usage_totals(store)
    routed = _routing(store, s)
    now_band = watch_live.band_for(store, now, None)
    return MetricsReport(
        **routed,
        alerts=_alerts(store, s, tools, db, now_band),
        delivery=metrics_outcomes.compute(store, s, since, now),
        patterns_shown_per_session=round(shown / shown_sessions, 2) if shown_sessions else None,
        pattern_help_rate=round(helped / used, 3) if used else None,
        repeat_failure_rate=_repeat_failure_rate(session_queries.failed_goals(store), s),
        period=inp.period,
        since=since,
        sessions=sum(outcomes.values()),
        outcomes=outcomes,
        context_loads=len(shares),
        context_over_40pct=sum(1 for x in shares if x > 0.4),
        median_context_share=round(median, 3) if median is not None else None,
        context_band=bands.name_of(100 * median, thresholds) if median is not None else None,
        context_bands={b: per_band[b] for b in bands.BAND_NAMES if b in per_band},
        context_now=now_band,
        spirals=watched.spirals,
        breakers_opened=watched.breakers_opened,
        breakers_open_now=watched.breakers_open_now,
        validations=val.runs,
        validation_pass_rate=round(val.passed / val.runs, 3) if val.runs else None,
        approvals=asked.requested,
        approval_median_minutes=round(statistics.median(lat), 1) if lat else None,
        patterns_active=pattern_queries.active_count(store),
        pattern_searches=next((t.calls for t in tools if t.tool == "patterns_search"), 0),
        tools=tools,
    )


def _alerts(
    store: Store, since: str, tools: list[ToolStat], db: Any, now_band: watch_live.ContextBand | None
) -> list[Alert]:
    """Tools failing more than 5% of their calls, context loads (and the live context) over 40% of
    the window, gate runs past 300 s or timed out: in the period, worst first."""
    out = [
        Alert(
            kind="error_rate",
            subject=t.tool,
            value=t.error_rate,
            limit=ERROR_RATE_LIMIT,
            message=f"{t.tool}: {t.errors} of {t.calls} calls failed ({t.error_rate:.0%} > 5%)",
        )
        for t in sorted(tools, key=lambda t: -t.error_rate)
        if t.error_rate > ERROR_RATE_LIMIT
    ]
    over = db.execute(
        "SELECT COALESCE(session_id, '-'), MAX(1.0 * n1 / n2), COUNT(*) FROM events "
        "WHERE kind = 'context' AND ts >= ? AND n2 > 0 AND 1.0 * n1 / n2 > ? GROUP BY 1 ORDER BY 2 DESC",
        [since, CONTEXT_LIMIT],
    ).fetchall()
    for sid, share, n in over[:5]:
        who = "no session" if sid == "-" else f"session {sid}"
        out.append(
            Alert(
                kind="context",
                subject=sid,
                value=round(share, 3),
                limit=CONTEXT_LIMIT,
                message=f"context use {share:.0%} > 40% ({who}, {n} load{'s' * (n != 1)} over)",
            )
        )
    if now_band is not None and now_band.percent > 100 * CONTEXT_LIMIT:
        out.append(
            Alert(
                kind="context",
                subject="now",
                value=round(now_band.percent / 100, 3),
                limit=CONTEXT_LIMIT,
                message=f"context use now {now_band.percent:.0f}% > 40% ({now_band.band})",
            )
        )
    for g in oversight_queries.slow_gates(store, since, GATE_LIMIT_S)[:5]:
        out.append(
            Alert(
                kind="gate",
                subject=g.gate,
                value=g.seconds,
                limit=GATE_LIMIT_S,
                message=(
                    f"gate {g.gate} ran {g.seconds:.0f} s (> 300 s)"
                    if g.seconds > GATE_LIMIT_S
                    else f"gate {g.gate} timed out after {g.seconds:.0f} s"
                )
                + f" at {g.started_at[:16]}",
            )
        )
    return out


def _routing(store: Store, since: str) -> dict[str, Any]:
    """Override rate and accuracy of route_task's decisions (docs/operations.md).

    A decision's taken route is the one chosen, else the recommendation in auto and suggest mode
    (unknown in choose mode until the caller chooses). Override rate: decisions taken another way
    than recommended / decisions whose taken route is known. Accuracy: of the decisions followed
    and linked to a session that has ended, the share that ended in success."""
    rows = oversight_queries.routing_decisions(store, since)
    ends = session_queries.outcomes(store, sorted({r.session_id for r in rows if r.session_id}))
    known = overrides = followed_ended = followed_ok = 0
    for r in rows:
        taken = r.chosen or (r.recommended if r.mode != "choose" else None)
        if taken is None:
            continue
        known += 1
        if taken != r.recommended:
            overrides += 1
            continue
        outcome = ends.get(r.session_id) if r.session_id else None
        if outcome is not None:
            followed_ended += 1
            followed_ok += outcome == "success"
    return {
        "routed": len(rows),
        "routing_overrides": overrides,
        "override_rate": round(overrides / known, 3) if known else None,
        "routing_accuracy": round(followed_ok / followed_ended, 3) if followed_ended else None,
    }


def _repeat_failure_rate(rows: list[tuple[str, str]], since: str) -> float | None:
    """Share of failed sessions whose goal repeats (>= 2 shared words) an earlier failed goal:
    the number the flywheel should push down over time."""
    import re

    seen: list[set[str]] = []
    repeats = total = 0
    for goal, started in rows:
        words = set(re.findall(r"[a-z]{4,}", goal.lower()))
        if started >= since:
            total += 1
            repeats += any(len(words & w) >= 2 for w in seen)
        seen.append(words)
    return round(repeats / total, 3) if total else None


def _or_dash(x: float | None, unit: str = "") -> str:
    return "-" if x is None else f"{x:g}{unit}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def render(r: MetricsReport) -> str:
    lines = [f"# Metrics ({r.period})", ""]
    if r.alerts:
        lines += ["## Alerts", ""] + [f"- ALERT {a.kind}: {a.message}" for a in r.alerts] + [""]
    lines.append(
        f"- sessions: {r.sessions} ({', '.join(f'{k} {v}' for k, v in r.outcomes.items()) or 'none'})"
    )
    lines.append(
        f"- context loads: {r.context_loads}, over the 40% rule: {r.context_over_40pct}"
        + (f"; median band {r.context_band}" if r.context_band else "")
        + (f" ({', '.join(f'{k} {v}' for k, v in r.context_bands.items())})" if r.context_bands else "")
    )
    if r.context_now is not None:
        c = r.context_now
        lines.append(
            f"- context now: {c.percent:.0f}% of {c.window_tokens} tokens ({c.band})"
            + (f": {c.advice}" if c.advice else "")
        )
    lines.append(
        f"- debug spirals: {r.spirals}; circuit breakers opened: {r.breakers_opened}"
        f" (open now: {r.breakers_open_now})"
    )
    if r.validation_pass_rate is not None:
        lines.append(f"- validations: {r.validations}, pass rate {r.validation_pass_rate:.0%}")
    lines.append(
        f"- approvals: {r.approvals}"
        + (
            f", median decision {r.approval_median_minutes} min"
            if r.approval_median_minutes is not None
            else ""
        )
    )
    lines.append(f"- active patterns: {r.patterns_active}; pattern searches: {r.pattern_searches}")
    if r.routed:
        lines.append(
            f"- routing: {r.routed} decisions, {r.routing_overrides} overridden"
            + (f" (override rate {r.override_rate:.0%})" if r.override_rate is not None else "")
            + (f", accuracy {r.routing_accuracy:.0%}" if r.routing_accuracy is not None else "")
        )
    if r.patterns_shown_per_session is not None:
        lines.append(
            f"- flywheel: {r.patterns_shown_per_session} patterns shown per session, "
            f"help rate {r.pattern_help_rate if r.pattern_help_rate is not None else '-'}"
        )
    if r.repeat_failure_rate is not None:
        lines.append(
            f"- repeat-failure rate: {r.repeat_failure_rate:.0%} of failed sessions repeat an earlier failure"
        )
    if (d := r.delivery) is not None:
        lines.append(
            f"- lead time (start to validated success): {_or_dash(d.lead_time_hours, ' h')} median"
            f" over {d.validated_sessions} validated sessions; throughput {_or_dash(d.throughput_per_week)} per week"
        )
        lines.append(
            f"- change failure rate: {_pct(d.change_failure_rate)} ({d.failed_sessions} failed, "
            f"{d.reverted_sessions} reverted"
            + ("" if d.reverts_checked else "; no git history: reverts not checked")
            + f"); time to recover: {_or_dash(d.time_to_recover_minutes, ' min')} median over {d.recoveries}"
        )
        if (f := d.flywheel) is not None:
            lines.append(
                f"- flywheel: {f.retrievals} retrievals x citation rate {_pct(f.citation_rate)} = "
                f"{f.helpful} helpful uses vs decay {f.hurt + f.decayed} ({f.hurt} harmful citations, "
                f"{f.decayed} decayed patterns): {'compounding' if f.compounding else 'not compounding'}"
            )
    if r.tools:
        lines += [
            "",
            "| tool | calls | errors | error rate | p50 ms | p95 ms | ~tokens in | ~tokens out |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t.tool} | {t.calls} | {t.errors} | {t.error_rate:.1%} | {t.p50_ms} | {t.p95_ms} "
            f"| {t.avg_tokens_in} | {t.avg_tokens_out} |"
            for t in r.tools
        ]
    return "\n".join(lines) + "\n"
