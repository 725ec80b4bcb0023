"""`route_task` (Factors VII, III, X): which workflow, which model tier, how small the steps.

Deterministic and explainable: keyword rules (the team's own from config.toml first, then
built-in ones), the shape of the task (several asks, many files), and what happened before to
sessions with similar goals. Every recommendation comes with its reasons.

Confidence (docs/operations.md#route_tasktask-session_idnone-chosennone) is derived from that evidence, not asserted:

- match strength: each built-in keyword hit for a workflow weighs 1, each team rule 3; a workflow
  with weight w is matched with strength 1 - 0.35**w (one hit 0.65, two 0.88, a team rule 0.96).
  With no hit at all, implement is a guess of weight 0.5 (0.41).
- margin: the runner-up workflow's weight w2 shrinks it by the factor 0.5 + 0.5 * (w - w2) / w
  (a tie halves it); tier signals that disagree (both "large" and "small" words) take 15% off.
- history: earlier decisions that took the same route for a similar task (two shared words, or
  the same text) and whose linked session ended are a Beta update with the prior worth 4
  outcomes: (4 * prior + successes) / (4 + ended).

The mode follows from the confidence and `[routing]`: `auto` above `auto_above` (0.9), `suggest`
from `suggest_above` (0.7), else `choose` with the top three routes. Every decision is recorded
(SQLite only, like metrics events: telemetry, not a ledger record; a rebuild keeps it) with the
session it was linked to and, when the caller says so, the route it chose: a chosen route that
differs from the recommendation is an override. Metrics reads them through `queries.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from factorops.store.components import Component, Migration
from factorops.store.store import Store
from factorops.tools.kernel import config
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.config import Tier, Workflow
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.ids import new_id

from .models import WORKFLOWS, RouteTaskInput

_BUILTIN: list[tuple[re.Pattern[str], Workflow]] = [
    (
        re.compile(
            r"\b(why|investigate|research|explore|understand|find out|figure out|compare|evaluate)\b", re.I
        ),
        "research",
    ),
    (re.compile(r"\b(design|plan|architect\w*|propose|proposal|rfc|strategy|roadmap)\b", re.I), "plan"),
    (re.compile(r"\b(review|audit|inspect|critique|check the pr|code review)\b", re.I), "review"),
    (
        re.compile(
            r"\b(add|fix|implement|build|change|update|remove|delete|refactor|rename|bump|write|support)\b",
            re.I,
        ),
        "implement",
    ),
]
_ORDER: tuple[Workflow, ...] = WORKFLOWS
TEAM_RULE_WEIGHT = 3.0
PRIOR_OUTCOMES = 4  # how many outcomes the evidence-based prior is worth against history
Mode = Literal["auto", "suggest", "choose"]
Outcomes = Callable[[Store, list[str]], dict[str, str | None]]

COMPONENT = Component(
    name="routing",
    migrations=(
        Migration(
            "routing-001",
            """
            CREATE TABLE routing_decisions (
                id TEXT PRIMARY KEY,
                ts TEXT NOT NULL,
                task TEXT NOT NULL,
                session_id TEXT,
                workflow TEXT NOT NULL,
                tier TEXT NOT NULL,
                confidence REAL NOT NULL,
                mode TEXT NOT NULL,
                chosen TEXT
            );
            CREATE INDEX routing_decisions_ts ON routing_decisions (ts);
            CREATE INDEX routing_decisions_session ON routing_decisions (session_id);
            """,
        ),
    ),
)
_LARGE = re.compile(
    r"\b(architecture|security|migrat\w+|concurren\w+|distributed|auth\w*|crypto\w*|performance|rewrite)\b",
    re.I,
)
_SMALL = re.compile(r"\b(typo|rename|format|lint|bump|comment|docstring|readme|spelling)\b", re.I)
_SPLIT = re.compile(r"(?:\n\s*(?:[-*]|\d+[.)])\s+|;\s+|\.\s+(?=[A-Z])|\b(?:and then|then|also|after that)\b)")


class RouteOption(CompactModel):
    workflow: Workflow
    tier: Tier
    confidence: float
    why: str


class RouteTaskResult(CompactModel):
    workflow: Workflow
    tier: Tier
    split: bool
    steps: list[str] = Field(default_factory=list)
    gates: list[str] = Field(default_factory=list)
    reasons: list[str]
    confidence: float = 0.0
    mode: Mode = "choose"
    alternatives: list[RouteOption] = Field(default_factory=list)  # in choose mode: pick one
    override: bool = False  # `chosen` differs from the recommendation
    warnings: list[str] = Field(default_factory=list)  # settings problems outside [routing]


def _strength(weight: float) -> float:
    return 1 - 0.35**weight if weight > 0 else 0.0


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{5,}", text.lower()))


def _history(store: Store, task: str, route: str, outcomes: Outcomes | None) -> tuple[int, int]:
    """(successes, ended) of earlier decisions that took `route` for a similar task."""
    if outcomes is None:
        return 0, 0
    words = _words(task)
    norm = " ".join(task.lower().split())
    linked: list[str] = []
    for t, sid, wf, tier, chosen in store.db.execute(
        "SELECT task, session_id, workflow, tier, chosen FROM routing_decisions WHERE session_id IS NOT NULL"
    ).fetchall():
        taken = chosen or f"{wf}/{tier}"
        if taken == route and (" ".join(t.lower().split()) == norm or len(words & _words(t)) >= 2):
            linked.append(sid)
    ends = outcomes(store, sorted(set(linked)))
    ended = [o for o in ends.values() if o is not None]
    return sum(1 for o in ended if o == "success"), len(ended)


def route(
    store: Store, inp: RouteTaskInput, now: datetime, outcomes: Outcomes | None = None
) -> RouteTaskResult:
    """Recommend a route, with a confidence and a mode, and record the decision. `outcomes` looks
    up sessions' outcomes (the sessions component's query, passed in by the face)."""
    cfg = config.load_for(store.datadir)
    rules = cfg.routing.rules  # a broken [routing] is this tool's error
    warnings = cfg.warnings("routing")
    task = inp.task.strip()
    reasons: list[str] = []
    workflow: Workflow | None = None
    tier: Tier | None = None
    gates: list[str] = []
    weight: dict[Workflow, float] = dict.fromkeys(_ORDER, 0.0)
    for rule in rules:
        if any(re.search(m, task, re.I) for m in rule.match):
            if rule.workflow:
                weight[rule.workflow] += TEAM_RULE_WEIGHT
            workflow = workflow or rule.workflow
            tier = tier or rule.tier
            gates += [g for g in rule.gates if g not in gates]
            reasons.append(f"team rule {rule.match!r} matched" + (f": {rule.note}" if rule.note else ""))
    hits: dict[Workflow, list[str]] = {}
    for rx, wf in _BUILTIN:
        found = list(dict.fromkeys(m.group(0).lower() for m in rx.finditer(task)))
        if found:
            hits[wf] = found
            weight[wf] += len(found)
    if workflow is None:
        for _rx, wf in _BUILTIN:
            if wf in hits and wf != "implement":
                workflow = wf
                reasons.append(f"'{hits[wf][0]}' suggests {wf}")
                break
    if workflow is None:
        workflow = "implement"
        reasons.append("a change to make: implement")
        if not weight["implement"]:
            weight["implement"] = 0.5  # nothing matched: a guess
    large, small = _LARGE.search(task), _SMALL.search(task)
    tier_conflict = bool(large and small)
    if tier is None:
        if m := large:
            tier = "large"
            reasons.append(f"'{m.group(0)}' is high-stakes: large tier")
        elif (m := small) and len(task) < 200:
            tier = "small"
            reasons.append(f"'{m.group(0)}' is mechanical: small tier")
        else:
            tier = cfg.routing.default_tier
    parts = [p.strip(" .,-") for p in _SPLIT.split(task) if p and len(p.strip(" .,-")) > 8]
    split = len(parts) >= 2 or len(task) > 600
    if split:
        reasons.append(f"{len(parts)} separate asks: do them as small validated steps (Factor X)")
    # Past outcomes: sessions whose goals share words with this task.
    words = _words(task)
    if words:
        rows = store.db.execute("SELECT goal, outcome FROM sessions WHERE status = 'ended'").fetchall()
        similar = [o for g, o in rows if len(words & set(re.findall(r"[a-z]{5,}", g.lower()))) >= 2]
        failed = sum(1 for o in similar if o in ("failed", "abandoned"))
        if len(similar) >= 2 and failed / len(similar) >= 0.5:
            order: list[Tier] = ["small", "medium", "large"]
            if tier != "large":
                tier = order[order.index(tier) + 1]
            split = True
            reasons.append(
                f"{failed} of {len(similar)} similar past sessions failed: a larger tier, smaller steps"
            )
    if workflow in ("implement", "review") and not gates:
        try:
            gates = [g.name for g in cfg.gates]
        except DomainError as exc:  # broken gates are validation_run's error, not routing's
            warnings.append(f"no gates suggested: {exc.message}")
        if gates:
            reasons.append("run the configured gates after each step")
    steps = parts if split and len(parts) >= 2 else []
    ranked = sorted(_ORDER, key=lambda w: (w != workflow, -weight[w], _ORDER.index(w)))

    def confidence(wf: Workflow, explain: bool) -> tuple[float, str]:
        w = weight[wf]
        rival = max(weight[x] for x in _ORDER if x != wf)
        margin = max(0.0, (w - rival) / w) if w > 0 else 0.0
        prior = _strength(w) * (0.5 + 0.5 * margin) * (0.85 if tier_conflict else 1.0)
        ok, ended = _history(store, task, f"{wf}/{tier}", outcomes)
        c = (PRIOR_OUTCOMES * prior + ok) / (PRIOR_OUTCOMES + ended)
        why = f"match {_strength(w):.2f}, margin {margin:.2f}" + (
            ", tier signals disagree" if tier_conflict else ""
        )
        if ended:
            why += f", {ok} of {ended} similar routed sessions succeeded"
        if explain:
            reasons.append(f"confidence {c:.2f}: {why}")
        return round(c, 3), why

    conf, _ = confidence(workflow, True)
    mode: Mode = (
        "auto"
        if conf > cfg.routing.auto_above
        else "suggest"
        if conf >= cfg.routing.suggest_above
        else "choose"
    )
    alternatives: list[RouteOption] = []
    if mode == "choose":
        for wf in ranked[:3]:
            c, why = confidence(wf, False)
            alternatives.append(RouteOption(workflow=wf, tier=tier, confidence=c, why=why))
    override = inp.chosen is not None and inp.chosen != f"{workflow}/{tier}"
    _record(store, inp, now, workflow, tier, conf, mode)
    return RouteTaskResult(
        workflow=workflow,
        tier=tier,
        split=split,
        steps=steps[:10],
        gates=gates,
        reasons=reasons,
        confidence=conf,
        mode=mode,
        alternatives=alternatives,
        override=override,
        warnings=warnings,
    )


def _record(
    store: Store, inp: RouteTaskInput, now: datetime, workflow: str, tier: str, conf: float, mode: str
) -> None:
    """One row per decision; a `chosen` route for a task already routed (same text, same session,
    nothing chosen yet) completes that decision instead of counting the task twice."""
    with store.index.transaction() as db:
        if inp.chosen is not None:
            row = db.conn.execute(
                "SELECT id FROM routing_decisions WHERE task = ? AND session_id IS ? AND chosen IS NULL "
                "ORDER BY ts DESC LIMIT 1",
                [inp.task, inp.session_id],
            ).fetchone()
            if row is not None:
                db.conn.execute("UPDATE routing_decisions SET chosen = ? WHERE id = ?", [inp.chosen, row[0]])
                return
        db.conn.execute(
            "INSERT INTO routing_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                new_id("rt", now),
                now.astimezone(UTC).isoformat(),
                inp.task,
                inp.session_id,
                workflow,
                tier,
                conf,
                mode,
                inp.chosen,
            ],
        )
