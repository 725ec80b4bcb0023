"""The active guardrails of a store as plain data, and their compiled matcher, without pydantic.

The client hook runs before every tool call as a fresh process, so what it imports is its cost:
this module reads the active guardrail rows with plain SQL, checks each stored rule the way
`GuardrailRule` would (the same fields, bounds and defaults) and builds the
`match.GuardrailMatcher` from plain dataclasses. `check.py` (the `guardrail_check` tool) builds its
matcher here too, so the hook and the tool decide from the same rules in the same way.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from .checks import CHECKS
from .match import GuardrailMatcher

if TYPE_CHECKING:
    from factorops.store.store import Store

# The bounds of `patterns.model.GuardrailRule` (a stored rule was validated by it when written).
MAX_REGEX = 500
MAX_GLOBS = 50
MAX_CHECK = 40
_CHECK_NAME = re.compile(r"^[a-z_]+$")
_DATA = "starter_guardrails.toml"


class BadRule(ValueError):
    """A stored rule that `GuardrailRule` would refuse; the message names the field."""


@dataclass(frozen=True, slots=True)
class PlainRule:
    effect: Literal["warn", "block"] = "warn"
    command_regex: str | None = None
    action_regex: str | None = None
    path_globs: tuple[str, ...] = ()
    check: str | None = None


@dataclass(frozen=True, slots=True)
class PlainGuard:
    id: str
    title: str
    solution: str
    rule: PlainRule


def _opt_str(pid: str, data: dict[str, Any], key: str, max_len: int) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise BadRule(f"guardrail {pid}: rule.{key} must be text, got {type(v).__name__}")
    if len(v) > max_len:
        raise BadRule(f"guardrail {pid}: rule.{key} is longer than {max_len} characters")
    return v


def parse_rule(pid: str, stored: object) -> PlainRule:
    """A stored rule (the JSON of `GuardrailRule`) as plain data; BadRule names what is wrong."""
    if not isinstance(stored, dict):
        raise BadRule(f"guardrail {pid}: rule must be an object, got {type(stored).__name__}")
    effect = stored.get("effect", "warn")
    if effect not in ("warn", "block"):
        raise BadRule(f"guardrail {pid}: rule.effect must be 'warn' or 'block', got {effect!r}")
    globs = stored.get("path_globs", [])
    if globs is None or not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
        raise BadRule(f"guardrail {pid}: rule.path_globs must be a list of text")
    if len(globs) > MAX_GLOBS:
        raise BadRule(f"guardrail {pid}: rule.path_globs has more than {MAX_GLOBS} globs")
    check = _opt_str(pid, stored, "check", MAX_CHECK)
    if check is not None and not _CHECK_NAME.match(check):
        raise BadRule(f"guardrail {pid}: rule.check must be lower-case letters and '_', got {check!r}")
    return PlainRule(
        effect=effect,
        command_regex=_opt_str(pid, stored, "command_regex", MAX_REGEX),
        action_regex=_opt_str(pid, stored, "action_regex", MAX_REGEX),
        path_globs=tuple(globs),
        check=check,
    )


@lru_cache(maxsize=1)
def shipped_checks() -> dict[str, str]:
    """Stored starter id (`starter-<slug>`) -> the built-in command check its shipped rule names
    (what `starters.shipped_checks` gives, read from the same file without building patterns)."""
    text = resources.files("factorops.tools.guardrails").joinpath("data", _DATA).read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for entry in tomllib.loads(text)["rule"]:
        if entry.get("check") in CHECKS:
            out[f"starter-{entry['slug']}"] = entry["check"]
    return out


def with_shipped_check(pid: str, rule: PlainRule) -> PlainRule:
    """A stored starter rule written before rules could name a check gets the shipped rule's check.

    Projects created earlier keep their starter guardrails in the ledger with regexes only; reading
    the check from the shipped rule (by the starter id) brings the shell-aware checks to them
    without rewriting the ledger. A rule that already names a check keeps its own.
    """
    if rule.check is None and pid.startswith("starter-"):
        shipped = shipped_checks().get(pid)
        if shipped is not None:
            return PlainRule(rule.effect, rule.command_regex, rule.action_regex, rule.path_globs, shipped)
    return rule


def active_guards(store: Store) -> list[PlainGuard]:
    rows = store.db.execute(
        "SELECT id, title, solution, rule FROM patterns "
        "WHERE kind = 'guardrail' AND status = 'active' AND rule IS NOT NULL ORDER BY id"
    ).fetchall()
    return [
        PlainGuard(
            str(pid),
            str(title),
            str(solution or ""),
            with_shipped_check(pid, parse_rule(pid, json.loads(rule))),
        )
        for pid, title, solution, rule in rows
    ]


def compile_active(store: Store) -> GuardrailMatcher:
    """The matcher of the store's active guardrails (not cached: see `check.matcher`)."""
    return GuardrailMatcher(active_guards(store))
