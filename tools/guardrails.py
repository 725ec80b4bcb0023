"""`guardrail_check` (Factor XI): stop a repeated mistake before it happens.

Active guardrail patterns carry a rule (a command regex, an action regex, path globs and an effect,
`warn` or `block`). An intended action is matched against all of them; the strictest effect wins
and every matching rule is reported with why. It is called before many actions, so compiled rules
are cached per process and rebuilt only when the patterns change (a version counter in SQLite that
every pattern write bumps).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatch
from typing import Literal

from pydantic import BaseModel, Field

from factorops.store.store import Store
from factorops.tools.compact import CompactModel

Decision = Literal["allow", "warn", "block"]


class GuardrailCheckInput(BaseModel):
    action: str = Field(min_length=1, max_length=2000, description="What you are about to do")
    command: str | None = Field(default=None, max_length=10_000)
    paths: list[str] = Field(default_factory=list, max_length=200)


class GuardrailMatch(CompactModel):
    id: str
    title: str
    effect: Literal["warn", "block"]
    why: str


class GuardrailCheckResult(CompactModel):
    decision: Decision
    matches: list[GuardrailMatch] = Field(default_factory=list)


@dataclass(frozen=True)
class _Rule:
    id: str
    title: str
    effect: Literal["warn", "block"]
    command: re.Pattern[str] | None
    action: re.Pattern[str] | None
    globs: tuple[str, ...]
    advice: str


_cache_lock = threading.Lock()
_cache: dict[str, tuple[str, list[_Rule]]] = {}  # db path -> (patterns_version, rules)


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return None  # a hand-edited bad regex disables that part of the rule, not the check


def active_rules(store: Store) -> list[_Rule]:
    version = store.index.get_meta("patterns_version") or "0"
    key = str(store.datadir.db_path)
    cached = _cache.get(key)
    if cached and cached[0] == version:
        return cached[1]
    rows = store.db.execute(
        "SELECT id, title, rule, solution FROM patterns WHERE kind = 'guardrail' AND status = 'active' AND rule IS NOT NULL"
    ).fetchall()
    rules = []
    for pid, title, rule_json, solution in rows:
        rule = json.loads(rule_json)
        rules.append(
            _Rule(
                id=pid,
                title=title,
                effect=rule.get("effect", "warn"),
                command=_compile(rule.get("command_regex")),
                action=_compile(rule.get("action_regex")),
                globs=tuple(rule.get("path_globs") or ()),
                advice=(solution or "").strip().splitlines()[0][:200] if solution else "",
            )
        )
    with _cache_lock:
        _cache[key] = (version, rules)
    return rules


def check(store: Store, inp: GuardrailCheckInput, now: datetime) -> GuardrailCheckResult:
    matches: list[GuardrailMatch] = []
    text = inp.command or ""
    for r in active_rules(store):
        if r.command is None and r.action is None and not r.globs:
            continue
        reasons = []
        if r.command is not None:
            m = r.command.search(text) or (r.command.search(inp.action) if not text else None)
            if not m:
                continue
            reasons.append(f"command matches {m.group(0)!r}")
        if r.action is not None:
            m = r.action.search(inp.action)
            if not m:
                continue
            reasons.append(f"action matches {m.group(0)!r}")
        if r.globs:
            hit = next((p for p in inp.paths for g in r.globs if fnmatch(p, g)), None)
            if hit is None:
                continue
            reasons.append(f"touches {hit}")
        why = "; ".join(reasons) + (f". {r.advice}" if r.advice else "")
        matches.append(GuardrailMatch(id=r.id, title=r.title, effect=r.effect, why=why))
    decision: Decision = "allow"
    if any(m.effect == "block" for m in matches):
        decision = "block"
    elif matches:
        decision = "warn"
    return GuardrailCheckResult(decision=decision, matches=matches)
