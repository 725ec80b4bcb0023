"""The starter guardrails (Factor XI) as data, and the session checks that are not command matchers.

The rules live in `data/starter_guardrails.toml` so a person can read and change them without
reading Python; this module turns them into `PatternCandidate(kind="guardrail")` records that
`factorops init` can install (all tagged `starter`, so they can be removed together) and the
matcher (`guardrail_match.GuardrailMatcher`) can check.

Four rules are about a session's state rather than a command: context use above 40%, repeated
failing validations, success claimed without a passing validation, and two open sessions touching
the same files. They are plain functions over simple inputs returning the matcher's decision
model, so the session tools can call them with whatever they already know.
"""

from __future__ import annotations

import posixpath
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns.model import GuardrailRule, PatternCandidate

from .checks import CHECKS
from .match import GuardrailDecision, GuardrailHit, decide

STARTER_TAG = "starter"
SOURCE = "starter"
_DATA = "starter_guardrails.toml"


@lru_cache(maxsize=1)
def _load() -> tuple[PatternCandidate, ...]:
    text = resources.files("factorops.tools.guardrails").joinpath("data", _DATA).read_text(encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    out: list[PatternCandidate] = []
    for entry in data["rule"]:
        tags = [STARTER_TAG, "guardrail", f"starter:{entry['slug']}", *entry.get("tags", [])]
        command_check = entry.get("check") if entry.get("check") in CHECKS else None
        if "check" in entry and command_check is None:
            tags.append(f"check:{entry['check']}")  # a session check, evaluated by a session tool
        out.append(
            PatternCandidate(
                title=entry["title"],
                kind="guardrail",
                problem=entry["problem"],
                solution=entry["solution"],
                tags=tags,
                confidence=0.9,
                rule=GuardrailRule(
                    effect=entry["effect"],
                    command_regex=entry.get("command_regex"),
                    action_regex=entry.get("action_regex"),
                    check=command_check,
                ),
                source=SOURCE,
            )
        )
    return tuple(out)


def starter_guardrails() -> list[PatternCandidate]:
    """Fresh copies of every starter rule (callers may change them before storing)."""
    return [p.model_copy(deep=True) for p in _load()]


@lru_cache(maxsize=1)
def shipped_checks() -> dict[str, str]:
    """Stored starter id (`starter-<slug>`) -> the built-in command check its shipped rule names."""
    out: dict[str, str] = {}
    for p in _load():
        slug = next(t.split(":", 1)[1] for t in p.tags if t.startswith("starter:"))
        if p.rule is not None and p.rule.check:
            out[f"starter-{slug}"] = p.rule.check
    return out


def starter_rule(slug: str) -> PatternCandidate:
    """One starter rule by its slug (the `starter:<slug>` tag)."""
    tag = f"starter:{slug}"
    for p in _load():
        if tag in p.tags:
            return p.model_copy(deep=True)
    raise DomainError("slug", f"no starter guardrail {slug!r}; see tools/data/{_DATA} for the slugs")


def _hit(slug: str, why: str, effect: Literal["warn", "block"] | None = None) -> GuardrailHit:
    rule = starter_rule(slug)
    assert rule.rule is not None
    return GuardrailHit(
        title=rule.title,
        effect=effect or rule.rule.effect,
        why=f"{why}. {rule.solution}",
    )


# ---------------------------------------------------------------------------------------------
# Session checks


def check_context_use(used: int, window: int = 200_000, limit: float = 0.4) -> GuardrailDecision:
    """Warn once the context holds more than `limit` of the window (Factor II)."""
    if not isinstance(used, int) or used < 0:
        raise DomainError("used", "give the tokens in the context as a whole number >= 0")
    if not isinstance(window, int) or window <= 0:
        raise DomainError("window", "give the context window size in tokens, a whole number > 0")
    if not 0 < limit <= 1:
        raise DomainError("limit", "give the share of the window as a number in (0, 1], e.g. 0.4")
    if used <= limit * window:
        return decide([])
    why = f"context holds {used:,} of {window:,} tokens ({used / window:.0%}, over {limit:.0%})"
    return decide([_hit("context-use", why)])


def check_failed_validations(failures: int, threshold: int = 3) -> GuardrailDecision:
    """After `threshold` failing validations in one session, suggest a checkpoint and a fresh start."""
    if not isinstance(failures, int) or failures < 0:
        raise DomainError("failures", "give the failing validations of this session as a whole number >= 0")
    if not isinstance(threshold, int) or threshold < 1:
        raise DomainError("threshold", "give the threshold as a whole number >= 1 (default 3)")
    if failures < threshold:
        return decide([])
    return decide([_hit("failed-validations", f"{failures} validations failed in this session")])


def check_success_claim(
    last_change_at: datetime | None,
    last_passing_validation_at: datetime | None,
    override: bool = False,
) -> GuardrailDecision:
    """Refuse `outcome=success` unless a validation passed after the last change, or a person overrides.

    No change at all means nothing to validate. An override turns the block into a warning that
    stays on the record, so the decision is visible later.
    """
    for name, value in (
        ("last_change_at", last_change_at),
        ("last_passing_validation_at", last_passing_validation_at),
    ):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise DomainError(name, "give a timezone-aware datetime (e.g. 2026-11-25T12:00:00+00:00) or null")
    if last_change_at is None:
        return decide([])
    if last_passing_validation_at is not None and last_passing_validation_at >= last_change_at:
        return decide([])
    if last_passing_validation_at is None:
        why = "no validation has passed in this session since the last change"
    else:
        why = (
            f"the last passing validation ({last_passing_validation_at.isoformat()}) is older than "
            f"the last change ({last_change_at.isoformat()})"
        )
    if override:
        return decide([_hit("success-needs-validation", why + "; a person overrode this", effect="warn")])
    return decide([_hit("success-needs-validation", why)])


def _norm(path: str) -> str:
    p = posixpath.normpath(path.replace("\\", "/"))
    return p[2:] if p.startswith("./") else p


def check_file_collision(
    this_session_files: Iterable[str], other_open_sessions: Mapping[str, Iterable[str]]
) -> GuardrailDecision:
    """Warn when another open session has touched any of the same files (paths compared normalised)."""
    mine = {_norm(p) for p in this_session_files if isinstance(p, str) and p.strip()}
    if not isinstance(other_open_sessions, Mapping):
        raise DomainError("other_open_sessions", "give a mapping of session id to the files it touched")
    hits: list[GuardrailHit] = []
    for sid, files in sorted(other_open_sessions.items()):
        if isinstance(files, str):
            raise DomainError(
                "other_open_sessions", f"files of session {sid!r} must be a list of paths, not a string"
            )
        shared = sorted(mine & {_norm(p) for p in files if isinstance(p, str)})
        if shared:
            listed = ", ".join(shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
            hits.append(_hit("file-collision", f"open session {sid} also touches {listed}"))
    return decide(hits)
