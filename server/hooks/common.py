"""What both clients' translators share: reading event fields, the shell-command verdict and the
dispatch by `hook_event_name`. The answer formats stay in each client's module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .run import BadEvent, Context

if TYPE_CHECKING:
    from factorops.tools.watch.before import Verdict

Handler = Callable[[Context], dict[str, Any] | None]


def text(v: object) -> str | None:
    """A non-empty string field, else None."""
    return v if isinstance(v, str) and v else None


def command_verdict(ctx: Context, command: str, *, spiral_note: bool = False) -> Verdict:
    """May the assistant run this shell command? The person's own commands are refused before any
    store is opened (the cheapest path); then the breaker and the guardrails. `spiral_note`: also
    call a debug spiral the command is in (for a client with no after-run event to call it)."""
    from factorops.tools.watch.before import before

    verdict = before(None, ctx.now, command=command)
    if verdict.effect != "none":
        return verdict
    return before(
        ctx.store(), ctx.now, command=command, spiral_settings=ctx.settings() if spiral_note else None
    )


def dispatch(handlers: Mapping[str, Handler], ctx: Context) -> dict[str, Any] | None:
    name = ctx.event.get("hook_event_name")
    handler = handlers.get(name) if isinstance(name, str) else None
    if handler is None:
        raise BadEvent(f"hook_event_name {name!r} is not one factorops handles ({', '.join(handlers)})")
    return handler(ctx)
