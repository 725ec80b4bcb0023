"""`guardrail_check` (Factor XI): stop a repeated mistake before it happens.

Active guardrail patterns carry a rule (command regex, action regex, path globs, effect `warn` or
`block`); `guardrail_match.GuardrailMatcher` does the matching (strictest effect wins, every match
reported with why). This module adds the store: it is called before many actions, so the compiled
matcher is cached per process and per database, and rebuilt only when `patterns_version` (a
counter every pattern write bumps inside its own transaction) has moved. A call therefore costs
one primary-key read of the meta table plus the matching itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel

from . import fast_rules
from .checks import CheckContext
from .match import GuardrailMatcher
from .models import Decision, GuardrailHit

VERSION_KEY = "patterns_version"


def _bounded(max_len: int) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None and len(value) > max_len:
            raise ValueError(f"at most {max_len} characters (got {len(value)})")
        return value

    return AfterValidator(check)


def _paths(value: list[str]) -> list[str]:
    if len(value) > 200:
        raise ValueError(f"at most 200 paths (got {len(value)}); check large changes in batches")
    return value


class GuardrailCheckInput(BaseModel):
    action: Annotated[str, _bounded(2000), Field(description="What you are about to do")] = Field(
        default_factory=str
    )
    command: Annotated[str | None, _bounded(10_000)] = None
    paths: Annotated[list[str], AfterValidator(_paths)] = Field(default_factory=list)


class GuardrailCheckResult(CompactModel):
    decision: Decision
    matches: list[GuardrailHit] = Field(default_factory=list)
    note: str | None = None  # e.g. that no guardrails are active, so "allow" means nothing was checked


NONE_ACTIVE = (
    "no guardrails are active in this project, so nothing was checked: 'allow' here is not a review. "
    "A person can install the starter set with `factorops starter install`."
)


def matcher(store: Store) -> GuardrailMatcher:
    """The compiled active guardrails of this store, kept on the store and rebuilt only when
    patterns changed."""
    version = store.index.get_meta(VERSION_KEY) or "0"
    return store.derived("guardrails.matcher", version, lambda: _compile(store))


def _compile(store: Store) -> GuardrailMatcher:
    return fast_rules.compile_active(store)


def check(store: Store, inp: GuardrailCheckInput, now: datetime) -> GuardrailCheckResult:
    """allow / warn / block for an intended action, with every active guardrail that matched."""
    compiled = matcher(store)
    # The project's facts (default/current branch) are read from git only if a check needs them,
    # once per call.
    context = CheckContext(str(store.datadir.root))
    decided = compiled.check(action=inp.action, command=inp.command, paths=inp.paths, context=context)
    return GuardrailCheckResult(
        decision=decided.decision,
        matches=decided.matches,
        note=None if compiled.rules else NONE_ACTIVE,
    )
