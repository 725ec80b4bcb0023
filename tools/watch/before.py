"""Before a tool runs: may it? The one decision both clients' hooks translate.

In order: the person's own commands (`factorops approve`, `deny`, `patterns promote|retire`,
`token`) are denied to the assistant; a command whose circuit breaker is open is denied; then the
project's active guardrails: a `block` denies with its reason, a `warn` passes with its advice as
context. A guardrail only ever takes permission away: `allow` means "no opinion", never an explicit
allow that would skip the client's own permission prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from . import commands, spiral
from .fence import fence

if TYPE_CHECKING:
    from factorops.store.store import Store

    from .settings import WatchSettings

Effect = Literal["none", "warn", "deny"]


@dataclass(frozen=True)
class Verdict:
    effect: Effect
    reason: str = ""  # deny: what the assistant (and the person) are told
    context: str = ""  # warn / none: advice added to the assistant's context


def before(
    store: Store | None,
    now: datetime,
    *,
    command: str | None = None,
    paths: list[str] | None = None,
    action: str | None = None,
    spiral_settings: WatchSettings | None = None,
) -> Verdict:
    """`spiral_settings`: also call a debug spiral the command is in (a client with no after-run
    event cannot be told after the failure)."""
    if command:
        person = commands.person_only(command)
        if person is not None:
            return Verdict(
                "deny",
                f"{person} is a person's decision: an assistant may propose (approval_request, "
                "pattern_record), never decide. Ask the person to run it themselves.",
            )
    if store is None:
        return Verdict("none")
    note = ""
    if command:
        g = spiral.gate(store, command, now)
        if not g.allowed:
            return Verdict("deny", g.reason)
        note = g.reason
        if spiral_settings is not None:
            call = spiral.standing(store, command, spiral_settings)
            note = " ".join(x for x in (note, call) if x)
    if not (command or paths or action):
        return Verdict("none", context=note)
    # Plain data all the way (no pydantic): this runs in the client hook, once per tool call. The
    # same rules and matcher as the `guardrail_check` tool (`check.matcher` builds it the same way).
    from factorops.tools.guardrails.checks import CheckContext
    from factorops.tools.guardrails.fast_rules import compile_active

    res = compile_active(store).check_plain(
        action=(action or "")[:2000],
        command=command,
        paths=(paths or [])[:200],
        context=CheckContext(str(store.datadir.root)),
    )
    if res.decision == "block":
        why = "; ".join(f"{m.title}: {m.why}" for m in res.matches if m.effect == "block")
        return Verdict(
            "deny",
            f"blocked by a factorops guardrail. {why} (If this is truly needed, ask the person.)",
        )
    if res.decision == "warn":
        advice = "\n".join(f"- {m.title}: {m.why}" for m in res.matches)
        return Verdict(
            "warn", context=fence("factorops guardrail warning", advice) + (f"\n{note}" if note else "")
        )
    return Verdict("none", context=note)
