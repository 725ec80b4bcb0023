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

from pydantic import Field

from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel

from . import fast_rules
from .checks import CheckContext
from .match import GuardrailMatcher
from .models import Decision, GuardrailCheckInput, GuardrailHit

VERSION_KEY = "patterns_version"


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
