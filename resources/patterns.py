"""Read views of patterns and guardrails: an index table, one pattern as Markdown, active guardrails."""

from __future__ import annotations

from datetime import datetime

from factorops.store.store import Store
from factorops.tools.patterns import markdown as pattern_markdown
from factorops.tools.patterns import records as patterns


def patterns_index(store: Store, now: datetime | None = None) -> str:
    rows = patterns.list_patterns(store, limit=200)
    rows = [r for r in rows if r["status"] != "retired"]
    if not rows:
        return (
            "# Patterns\n\nNone yet. Assistants record candidates with `pattern_record` or `patterns_mine`; "
            "a person promotes them with `factorops patterns promote ID`.\n"
        )
    out = ["# Patterns", "", "| id | kind | status | confidence | title |", "|---|---|---|---|---|"]
    for r in rows:
        title = str(r["title"]).replace("|", "\\|")
        out.append(
            f"| {r['id']} | {r['kind']} | {r['status']} | {float(str(r['confidence'])):.2f} | {title} |"
        )
    if now is not None:  # maturity from citations: what a person may promote or retire
        out += review_markdown(store, now)
    out += ["", "Read one with `agentops://patterns/{id}`."]
    return "\n".join(out) + "\n"


def review_markdown(store: Store, now: datetime) -> list[str]:
    from factorops.tools.flywheel import contradictions, maturity

    lines = maturity.review_lines(maturity.review(store, now))
    lines += contradictions.lines(contradictions.find(store))
    return ["", "## For a person to decide", "", "```", *lines, "```"] if lines else []


def pattern_detail(store: Store, pattern_id: str) -> str:
    return pattern_markdown.render(patterns.get(store, pattern_id))


def guardrails_view(store: Store) -> str:
    rows = store.db.execute(
        "SELECT id, title, rule, solution FROM patterns WHERE kind = 'guardrail' AND status = 'active' ORDER BY title"
    ).fetchall()
    if not rows:
        return (
            "# Active guardrails\n\nNone active: `guardrail_check` allows every action until a person "
            "installs the starter set (`factorops starter install`) or promotes a recorded guardrail.\n"
        )
    import json

    out = ["# Active guardrails", ""]
    for pid, title, rule, solution in rows:
        r = json.loads(rule) if rule else {}
        match = r.get("command_regex") or r.get("action_regex") or ", ".join(r.get("path_globs") or [])
        out.append(f"- **{title}** ({r.get('effect', 'warn')}; `{match}`) — {pid}")
        if solution:
            out.append(f"  {solution.strip().splitlines()[0]}")
    return "\n".join(out) + "\n"
