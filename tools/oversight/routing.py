"""`route_task` (Factors VII, III, X): which workflow, which model tier, how small the steps.

Deterministic and explainable: keyword rules (the team's own from config.toml first, then
built-in ones), the shape of the task (several asks, many files), and what happened before to
sessions with similar goals. Every recommendation comes with its reasons.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from factorops.store.store import Store
from factorops.tools.kernel import config
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.config import Tier, Workflow
from factorops.tools.kernel.errors import DomainError

_BUILTIN: list[tuple[re.Pattern[str], Workflow]] = [
    (
        re.compile(
            r"\b(why|investigate|research|explore|understand|find out|figure out|compare|evaluate)\b", re.I
        ),
        "research",
    ),
    (re.compile(r"\b(design|plan|architect\w*|propose|proposal|rfc|strategy|roadmap)\b", re.I), "plan"),
    (re.compile(r"\b(review|audit|inspect|critique|check the pr|code review)\b", re.I), "review"),
]
_LARGE = re.compile(
    r"\b(architecture|security|migrat\w+|concurren\w+|distributed|auth\w*|crypto\w*|performance|rewrite)\b",
    re.I,
)
_SMALL = re.compile(r"\b(typo|rename|format|lint|bump|comment|docstring|readme|spelling)\b", re.I)
_SPLIT = re.compile(r"(?:\n\s*(?:[-*]|\d+[.)])\s+|;\s+|\.\s+(?=[A-Z])|\b(?:and then|then|also|after that)\b)")


class RouteTaskInput(BaseModel):
    task: str = Field(min_length=1, max_length=4000)


class RouteTaskResult(CompactModel):
    workflow: Workflow
    tier: Tier
    split: bool
    steps: list[str] = Field(default_factory=list)
    gates: list[str] = Field(default_factory=list)
    reasons: list[str]
    warnings: list[str] = Field(default_factory=list)  # settings problems outside [routing]


def route(store: Store, inp: RouteTaskInput, now: datetime) -> RouteTaskResult:
    cfg = config.load_for(store.datadir)
    rules = cfg.routing.rules  # a broken [routing] is this tool's error
    warnings = cfg.warnings("routing")
    task = inp.task.strip()
    reasons: list[str] = []
    workflow: Workflow | None = None
    tier: Tier | None = None
    gates: list[str] = []
    for rule in rules:
        if any(re.search(m, task, re.I) for m in rule.match):
            workflow = workflow or rule.workflow
            tier = tier or rule.tier
            gates += [g for g in rule.gates if g not in gates]
            reasons.append(f"team rule {rule.match!r} matched" + (f": {rule.note}" if rule.note else ""))
    if workflow is None:
        for rx, wf in _BUILTIN:
            m = rx.search(task)
            if m:
                workflow = wf
                reasons.append(f"'{m.group(0)}' suggests {wf}")
                break
    if workflow is None:
        workflow = "implement"
        reasons.append("a change to make: implement")
    if tier is None:
        if m := _LARGE.search(task):
            tier = "large"
            reasons.append(f"'{m.group(0)}' is high-stakes: large tier")
        elif (m := _SMALL.search(task)) and len(task) < 200:
            tier = "small"
            reasons.append(f"'{m.group(0)}' is mechanical: small tier")
        else:
            tier = cfg.routing.default_tier
    parts = [p.strip(" .,-") for p in _SPLIT.split(task) if p and len(p.strip(" .,-")) > 8]
    split = len(parts) >= 2 or len(task) > 600
    if split:
        reasons.append(f"{len(parts)} separate asks: do them as small validated steps (Factor X)")
    # Past outcomes: sessions whose goals share words with this task.
    words = {w for w in re.findall(r"[a-z]{5,}", task.lower())}
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
    return RouteTaskResult(
        workflow=workflow,
        tier=tier,
        split=split,
        steps=steps[:10],
        gates=gates,
        reasons=reasons,
        warnings=warnings,
    )
