"""HTML for the dashboard's pages, from plain data: no request, no store, no SQL here.

Server-rendered with one stylesheet and no JavaScript. Everything that came from an assistant or a
record is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from html import escape

from factorops.tools.flywheel.maturity import Assessment
from factorops.tools.kernel.display import one_line, visible
from factorops.tools.metrics.report import MetricsReport
from factorops.tools.patterns.model import Pattern
from factorops.tools.sessions.lifecycle import ResumeState, SessionSummary
from factorops.tools.sessions.queries import SessionDetail
from factorops.tools.sessions.render import resume_sections, status_line

from . import svg

NAV = (("approvals", "Approvals"), ("patterns", "Patterns"), ("sessions", "Sessions"), ("metrics", "Metrics"))
PERIODS = ("day", "week", "month", "all")
STATUSES = ("candidate", "active", "retired")
Row = Mapping[str, object]
Csrf = Callable[[str], str]  # form action path -> CSRF token


def page(title: str, active: str, body: str, flash: str = "") -> str:
    nav = "".join(
        f'<a href="/{key}" class="{"on" if key == active else ""}">{label}</a>' for key, label in NAV
    )
    note = f'<div class="flash" role="status">{escape(flash)}</div>' if flash else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · factorops</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css">'
        f"</head><body><header><strong>factorops</strong><nav>{nav}</nav></header>"
        f"<main><h1>{escape(title)}</h1>{note}{body}</main></body></html>"
    )


def not_found(what: str) -> str:
    """The body of every 404: what was missing and where to go instead."""
    links = " · ".join(f'<a href="/{key}">{label}</a>' for key, label in NAV)
    return (
        f'<div class="card"><p>{escape(what)}</p>'
        f"<p>The link may be old, or the record may be in another project's dashboard.</p>"
        f"<p>Go to: {links}</p></div>"
    )


def sign_in(next_path: str, nonce: str, error: str = "") -> str:
    """A form to paste a token into; it posts (never a URL: URLs end up in histories and logs)
    and comes back to `next_path`, the page that was asked for."""
    alert = f'<div class="flash error" role="alert">{escape(error)}</div>' if error else ""
    return (
        f'{alert}<form id="sign-in" class="card" method="post" action="/sign-in">'
        "<p>Paste a token: this install's (<code>factorops token show</code>) or your own "
        "(<code>factorops token add NAME</code> makes one).</p>"
        '<p><label for="token">Token</label><br>'
        '<input type="password" id="token" name="token" autocomplete="current-password" required autofocus></p>'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<input type="hidden" name="nonce" value="{escape(nonce)}">'
        '<button class="approve">Sign in</button></form>'
        '<p class="muted">The link <code>factorops dashboard</code> printed signs you in too.</p>'
    )


def approval(r: Row) -> str:
    """A request no longer pending: what was asked and how it ended."""
    reason = f" ({escape(str(r['reason']))})" if r.get("reason") else ""
    return (
        f'<div class="card" id="{escape(str(r["id"]))}"><p><strong class="action">{_shown(r["action"])}</strong></p>'
        f'<dl class="fields"><dt>status</dt><dd><span class="badge {escape(str(r["status"]))}">'
        f"{escape(str(r['status']))}</span>{reason}</dd>"
        f"<dt>risk</dt><dd>{escape(str(r['risk']))}</dd>"
        f"<dt>decided by</dt><dd>{_shown(r.get('decided_by') or '')}</dd>"
        f"<dt>when</dt><dd>{escape(str(r.get('decided_at') or '')[:19])}</dd>"
        f"<dt>comment</dt><dd>{_shown(r.get('comment') or '')}</dd></dl>"
        '<p><a href="/approvals">All approvals</a></p></div>'
    )


def _shown(value: object) -> str:
    """Assistant-written text for a person deciding on it: invisible characters shown, then escaped."""
    return escape(visible(str(value if value is not None else "")))


def approvals(pending: Sequence[Row], recent: Sequence[Row], csrf: Csrf) -> str:
    body = []
    if not pending:
        body.append('<p class="muted">Nothing waiting for a decision.</p>')
    for r in pending:
        aid = escape(str(r["id"]))
        form_csrf = csrf(f"/approvals/{r['id']}/decide")
        body.append(
            f'<div class="card" id="{aid}"><div><span class="risk-{escape(str(r["risk"]))}">'
            f"{escape(str(r['risk'])).upper()}</span> · <code>{aid}</code> · times out {escape(str(r['expires_at'])[:19])}"
            + (
                f' · <span class="badge escalated">escalated {escape(str(r["escalated_at"])[:19])}</span>'
                if r.get("escalated_at")
                else ""
            )
            + "</div>"
            f'<p><strong class="action">{_shown(r["action"])}</strong></p>'
            f'<p class="muted">{_shown(r["rationale"])}</p>'
            + (f'<pre class="details">{_shown(r.get("details"))}</pre>' if r.get("details") else "")
            + '<dl class="fields">'
            + f'<dt>risk</dt><dd class="risk-{escape(str(r["risk"]))}">{escape(str(r["risk"]))}</dd>'
            + "".join(
                f'<dt>{label}</dt><dd class="{key}">'
                + (_shown(r.get(key)) if r.get(key) else '<span class="muted">(not given)</span>')
                + "</dd>"
                for label, key in (("alternatives considered", "alternatives"), ("rollback", "rollback"))
            )
            + "</dl>"
            + "".join(
                f'<p class="muted">note by {_shown(n.get("by"))}: {_shown(n.get("note"))}</p>'
                for n in json.loads(str(r.get("notes") or "[]"))
            )
            + (
                f'<p class="muted">session <code>{_shown(r.get("session_id"))}</code></p>'
                if r.get("session_id")
                else ""
            )
            + f'<form method="post" action="/approvals/{aid}/decide">'
            f'<input type="hidden" name="csrf" value="{form_csrf}">'
            f'<input type="text" name="comment" placeholder="comment (optional)" aria-label="comment"> '
            f'<button class="approve" name="decision" value="approve">Approve</button> '
            f'<button class="deny" name="decision" value="deny">Deny</button></form></div>'
        )
    if recent:
        body.append(
            "<h2>Recent decisions</h2><table><tr><th>when</th><th>action</th><th>decision</th><th>by</th><th>comment</th></tr>"
        )
        for r in recent:
            body.append(
                f"<tr><td>{escape(str(r['decided_at'] or '')[:19])}</td><td>{escape(one_line(str(r['action'])))}</td>"
                f'<td><span class="badge {escape(str(r["status"]))}">{escape(str(r["status"]))}</span>'
                + (f" {escape(str(r['reason']))}" if r.get("reason") else "")
                + (" (escalated)" if r.get("escalated_at") else "")
                + "</td>"
                f"<td>{escape(one_line(str(r['decided_by'] or '')))}</td><td>{escape(one_line(str(r['comment'] or '')))}</td></tr>"
            )
        body.append("</table>")
    return "".join(body)


def _stage(a: Assessment | None) -> str:
    """A pattern's maturity for a person: the stage, and for a candidate the evidence carries,
    that a person may promote it (the why in full on the pattern's page and as a tooltip)."""
    if a is None:
        return ""
    mark = ' <span class="badge eligible">eligible for promotion</span>' if a.eligible else ""
    return f'<span title="{escape(a.why)}">{escape(a.stage)}</span>{mark}'


def patterns(
    rows: Sequence[Row], query: str, status: str | None, stages: Mapping[str, Assessment] | None = None
) -> str:
    opts = "".join(
        f'<option value="{v}"{" selected" if status == v else ""}>{v or "any status"}</option>'
        for v in ("", *STATUSES)
    )
    body = [
        f'<form method="get" action="/patterns"><input type="search" name="q" value="{escape(query)}" placeholder="search patterns" aria-label="search"> '
        f'<select name="status" aria-label="status">{opts}</select> <button>Search</button></form><br>',
        "<table><tr><th>title</th><th>kind</th><th>status</th><th>maturity</th><th>confidence</th></tr>",
    ]
    for r in rows:
        pid = escape(str(r["id"]))
        body.append(
            f'<tr><td><a href="/patterns/{pid}">{escape(one_line(str(r["title"])))}</a></td><td>{escape(str(r["kind"]))}</td>'
            f'<td><span class="badge {escape(str(r["status"]))}">{escape(str(r["status"]))}</span></td>'
            f"<td>{_stage((stages or {}).get(str(r['id'])))}</td>"
            f"<td>{float(str(r['confidence'])):.2f}</td></tr>"
        )
    body.append("</table>")
    if not rows:
        body.append('<p class="muted">No patterns match.</p>')
    return "".join(body)


def pattern(p: Pattern, csrf: Csrf, maturity: Assessment | None = None) -> str:
    """A pattern for a person: its fields as a definition list, problem and solution as text
    (Markdown-lite), no front matter and no JSON."""
    actions = ""
    if p.status == "candidate":
        actions = (
            f'<form method="post" class="inline" action="/patterns/{escape(p.id)}/promote">'
            f'<input type="hidden" name="csrf" value="{csrf(f"/patterns/{p.id}/promote")}">'
            '<button class="approve">Promote to active</button></form> '
        )
    if p.status in ("candidate", "active"):
        what = "Retire" if p.status == "active" else "Retire (decline)"
        actions += (
            f'<form method="post" class="inline" action="/patterns/{escape(p.id)}/retire">'
            f'<input type="hidden" name="csrf" value="{csrf(f"/patterns/{p.id}/retire")}">'
            f'<button class="deny">{what}</button></form>'
        )
    if actions:
        actions = f'<div class="actions">{actions}</div>'
    fields: list[tuple[str, str]] = [
        ("id", f"<code>{escape(p.id)}</code>"),
        ("kind", escape(p.kind)),
        ("status", f'<span class="badge {p.status}">{p.status}</span>'),
        ("confidence", f"{p.confidence:.2f}"),
        ("used", f"{p.times_used} times, helped {p.times_helped}"),
    ]
    if maturity is not None:
        fields.append(("maturity", f"{_stage(maturity)}: {escape(maturity.why)}"))
    fields += [
        ("source", escape(p.source)),
        ("created", f"{p.created:%Y-%m-%d %H:%M}"),
        ("updated", f"{p.updated:%Y-%m-%d %H:%M}"),
    ]
    if p.tags:
        fields.append(("tags", " ".join(f'<span class="badge">{_shown(t)}</span>' for t in p.tags)))
    if p.scope:
        fields.append(("scope", " ".join(f"<code>{_shown(g)}</code>" for g in p.scope)))
    if p.revises:
        fields.append(("revises", f'<a href="/patterns/{escape(p.revises)}">{escape(p.revises)}</a>'))
    if p.changed_by is not None:
        fields.append(("changed by", _shown(p.changed_by.label)))
    if p.rule is not None:
        r = p.rule
        parts = [f"effect {escape(r.effect)}"]
        parts += [f"command matches <code>{_shown(r.command_regex)}</code>"] if r.command_regex else []
        parts += [f"action matches <code>{_shown(r.action_regex)}</code>"] if r.action_regex else []
        parts += [f"check <code>{escape(r.check)}</code>"] if r.check else []
        parts += (
            [f"paths {' '.join(f'<code>{_shown(g)}</code>' for g in r.path_globs)}"] if r.path_globs else []
        )
        fields.append(("rule", "; ".join(parts)))
    ev = p.evidence
    for label, refs in (
        ("sessions", ev.sessions),
        ("checkpoints", ev.checkpoints),
        ("commits", ev.commits),
        ("transcripts", ev.transcripts),
    ):
        if refs:
            fields.append((f"evidence: {label}", " ".join(f"<code>{_shown(x)}</code>" for x in refs)))
    if ev.excerpt:
        fields.append(("evidence: excerpt", f"<q>{_shown(ev.excerpt)}</q>"))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in fields)
    return (
        f'<dl class="fields pattern">{dl}</dl>{actions}'
        f'<section class="prose"><h2>Problem</h2>{markdown_lite(p.problem)}'
        f"<h2>Solution</h2>{markdown_lite(p.solution)}</section>"
    )


def markdown_lite(text: str) -> str:
    """Enough Markdown for a pattern's text, everything escaped first: paragraphs, `-`/`*` lists,
    fenced code blocks and `inline code`. Anything else stays as plain text."""
    if not text.strip():
        return '<p class="muted">(not described)</p>'
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    code: list[str] | None = None

    def inline(line: str) -> str:
        parts = _shown(line).split("`")
        return "".join(
            f"<code>{x}</code>" if i % 2 and i < len(parts) - 1 else x for i, x in enumerate(parts)
        )

    def flush() -> None:
        if para:
            out.append(f"<p>{'<br>'.join(inline(x) for x in para)}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline(x)}</li>" for x in items) + "</ul>")
            items.clear()

    for line in text.strip().splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                out.append(f"<pre><code>{_shown(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
        elif line.strip().startswith("```"):
            flush()
            code = []
        elif line.lstrip().startswith(("- ", "* ")):
            if para:
                flush()
            items.append(line.lstrip()[2:])
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            para.append(line.strip())
    if code is not None:
        out.append(f"<pre><code>{_shown(chr(10).join(code))}</code></pre>")
    flush()
    return "".join(out)


def sessions(rows: Sequence[SessionSummary]) -> str:
    body = ["<table><tr><th>updated</th><th>goal</th><th>status</th><th>checkpoints</th></tr>"]
    for r in rows:
        badge = r.outcome or r.status
        body.append(
            f'<tr><td>{r.updated_at:%Y-%m-%d %H:%M}</td><td><a href="/sessions/{escape(r.id)}">{escape(r.goal[:100])}</a></td>'
            f'<td><span class="badge {escape(badge)}">{escape(badge)}</span></td><td>{r.checkpoints}</td></tr>'
        )
    body.append("</table>")
    if not rows:
        body.append('<p class="muted">No sessions yet.</p>')
    return "".join(body)


def session(s: SessionDetail, state: ResumeState | None = None) -> str:
    """One session: the handoff a fresh assistant would get (`state`: summary, next steps,
    decisions of every checkpoint, open questions, code state, ...), then every checkpoint."""
    badge = s.outcome or s.status
    body = [f'<p><span class="badge {escape(badge)}">{escape(badge)}</span> <code>{escape(s.id)}</code></p>']
    if state is not None:
        body.append(
            f'<section class="card resume"><h2>Resume</h2><p class="muted">{_shown(status_line(state))}</p>'
        )
        for sec in resume_sections(state):
            items = "".join(f"<li>{_shown(i)}</li>" for i in sec.items)
            body.append(f"<h3>{escape(sec.title)}</h3><ul>{items}</ul>")
        body.append("</section>")
    for cp in s.checkpoints:
        steps = "".join(f"<li>{escape(step)}</li>" for step in cp.next_steps)
        body.append(
            f'<div class="card"><div class="muted">#{cp.seq} · {cp.created_at:%Y-%m-%d %H:%M:%S}'
            f" · {len(cp.files_touched)} file(s)</div><p>{escape(cp.summary)}</p>"
            + (f"<div>Next:<ul>{steps}</ul></div>" if steps else "")
            + "</div>"
        )
    if not s.checkpoints:
        body.append('<p class="muted">No checkpoints yet.</p>')
    return "".join(body)


# One colour per session outcome, told apart without colour too (labels and a text legend).
OUTCOME_COLORS = {
    "success": "#2e7d4f",
    "partial": "#c77700",
    "failed": "#b3362d",
    "abandoned": "#6b7485",
    "open": "#3b6ea5",
}
PERIOD_TEXT = {
    "day": "the last 24 hours",
    "week": "the last 7 days",
    "month": "the last 30 days",
    "all": "all time",
}


def metrics(r: MetricsReport, period: str) -> str:
    links = " ".join(
        f'<a href="/metrics?period={p}" aria-current="page" class="on">{p}</a>'
        if p == period
        else f'<a href="/metrics?period={p}">{p}</a>'
        for p in PERIODS
    )
    since = f" (since {r.since:%Y-%m-%d %H:%M} UTC)" if r.since is not None else ""
    shown = f'<p class="period">Showing <strong>{PERIOD_TEXT.get(period, period)}</strong>{since} · period: {links}</p>'
    facts = (
        f"<p>{r.sessions} sessions · {r.context_loads} context loads ({r.context_over_40pct} over 40%) · "
        f"{r.validations} validations"
        + (f" ({r.validation_pass_rate:.0%} passed)" if r.validation_pass_rate is not None else "")
        + f" · {r.approvals} approvals · {r.patterns_active} active patterns</p>"
    )
    banner = ""
    if r.alerts:
        banner = (
            f'<div class="flash error alerts" role="alert"><strong>{len(r.alerts)} '
            f"alert{'s' * (len(r.alerts) != 1)}</strong><ul>"
            + "".join(f'<li data-kind="{a.kind}">{escape(a.message)}</li>' for a in r.alerts)
            + "</ul></div>"
        )
    signals = ""
    if r.tools:
        signals = (
            '<h2>Golden signals per tool</h2><table class="signals"><tr><th>tool</th><th>calls</th>'
            "<th>errors</th><th>error rate</th><th>p50 ms</th><th>p95 ms</th></tr>"
            + "".join(
                f"<tr><td>{escape(t.tool)}</td><td>{t.calls}</td><td>{t.errors}</td>"
                f"<td>{t.error_rate:.1%}</td><td>{t.p50_ms:g}</td><td>{t.p95_ms:g}</td></tr>"
                for t in r.tools
            )
            + "</table>"
        )
    charts = (
        svg.bars(
            "Session outcomes",
            sorted(r.outcomes.items(), key=lambda kv: -kv[1]),
            colors=OUTCOME_COLORS,
            css_class="outcomes",
            legend=True,
        )
        + svg.bars("Tool calls", [(t.tool, t.calls) for t in r.tools[:12]])
        + svg.bars("Tool p50 latency (ms)", [(t.tool, t.p50_ms) for t in r.tools[:12]], color="#8a5a9e")
        + svg.bars("Tool p95 latency (ms)", [(t.tool, t.p95_ms) for t in r.tools[:12]], color="#6a3a7e")
        + svg.bars(
            "Tool error rate (%)",
            [(t.tool, round(100 * t.error_rate, 1)) for t in r.tools[:12] if t.errors],
            color="#b03a2e",
        )
    )
    return f"{banner}{shown}{facts}{_delivery(r)}{signals}{charts}"


def _delivery(r: MetricsReport) -> str:
    """Outcomes as a team reads them: a sentence of numbers, then a chart per measure by week."""
    d = r.delivery
    if d is None:
        return ""

    def num(x: float | None, fmt: str) -> str:
        return "–" if x is None else format(x, fmt)

    f = d.flywheel
    text = (
        f"<p>Lead time {num(d.lead_time_hours, 'g')} h (median, start to validated success) · "
        f"throughput {num(d.throughput_per_week, 'g')} validated sessions/week · change failure rate "
        f"{num(d.change_failure_rate, '.0%')} ({d.failed_sessions} failed, {d.reverted_sessions} reverted"
        + ("" if d.reverts_checked else "; no git history, reverts not checked")
        + f") · time to recover {num(d.time_to_recover_minutes, 'g')} min"
        + (
            f" · flywheel {'compounding' if f.compounding else 'not compounding'}: "
            f"{f.retrievals} retrievals × {num(f.citation_rate, '.0%')} cited = {f.helpful} helpful uses, "
            f"decay {f.hurt + f.decayed}"
            if f is not None
            else ""
        )
        + "</p>"
    )
    wk = d.weeks
    charts = (
        svg.bars(
            "Throughput: validated sessions per week",
            [(w.week, w.validated) for w in wk],
            css_class="delivery",
        )
        + svg.bars(
            "Lead time per week (median hours)",
            [(w.week, w.lead_time_hours) for w in wk if w.lead_time_hours is not None],
            color="#2e7d4f",
            css_class="delivery",
        )
        + svg.bars(
            "Change failure rate per week (%)",
            [(w.week, round(100 * w.failed / w.ended, 1)) for w in wk if w.ended],
            color="#b03a2e",
            css_class="delivery",
        )
    )
    if f is not None:
        charts += svg.bars(
            "Flywheel: helpful uses vs decay",
            [
                ("helpful uses", f.helpful),
                ("harmful citations", f.hurt),
                ("decayed patterns", f.decayed),
            ],
            colors={"helpful uses": "#2e7d4f", "harmful citations": "#b03a2e", "decayed patterns": "#8c8c8c"},
            css_class="delivery flywheel",
            legend=True,
        )
    return f"<h2>Outcomes</h2>{text}{charts}"
