"""The watch's measurements in the tools' replies: live context and spirals where the faces call.

The tools below the watch (context, sessions, oversight) cannot see a transcript or the spiral
detector, and may not import the watch; the MCP face calls these wrappers instead, so the
orchestration lives in the domain and every face gets the same answer.

Which client session is the caller's? The server is not told. The hooks record each client session
(its transcript, its latest measured use, the factorops session it is linked to) with the time it
was last active. Of the client sessions active within `LIVE_MAX_AGE`, the one linked to the tool's
`session_id` is taken, else the most recently active one (with one assistant per project, the
caller). `session_start` links that client session to the session it starts, so later calls (and
the checkpoint saved before a compaction) find it by id.

Measured against what the caller says (`context_load`'s `used_tokens`): the larger use wins. A
model cannot see its own use, so its `used_tokens` is at best an estimate and usually the default
0; a larger number from the caller is respected (it may know of context the transcript's last turn
does not show yet), so the budget is never looser than either side says. The caller's
`window_tokens`, when given, wins over the window guessed from the model's id.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING

from factorops.tools.kernel import config
from factorops.tools.kernel.errors import DomainError
from factorops.tools.oversight import validation
from factorops.tools.sessions import lifecycle as sessions

from . import activity, records, spiral
from .caller_band import (  # noqa: F401 (re-exported: the band is part of every live reply)
    LIVE_MAX_AGE,
    ClientSession,
    ContextBand,
    Source,
    band_for,
    band_reply,
    client_session,
    measure,
    settings_for,
)

if TYPE_CHECKING:
    from factorops.store.store import Store

# -- the tools' replies ----------------------------------------------------------------------------


class SessionStartLive(sessions.SessionStartResult):
    context: ContextBand | None = None


class CheckpointLive(sessions.CheckpointResult):
    context: ContextBand | None = None


class ResumeLive(sessions.ResumeState):
    context: ContextBand | None = None


def session_start(store: Store, inp: sessions.SessionStartInput, now: datetime) -> SessionStartLive:
    """`session_start`, linked to the caller's client session so its context can be measured."""
    result = sessions.start(store, inp, now)
    cs = client_session(store, now)
    if cs is not None:
        activity.link_session(store, cs.client, cs.client_session, result.session_id, now)
    return SessionStartLive(**dict(result), context=band_for(store, now, result.session_id))


def checkpoint(store: Store, inp: sessions.CheckpointInput, now: datetime) -> CheckpointLive:
    result = sessions.checkpoint(store, inp, now)
    return CheckpointLive(**dict(result), context=band_for(store, now, inp.session_id))


def resume(store: Store, inp: sessions.SessionResumeInput, now: datetime) -> ResumeLive:
    result = sessions.resume(store, inp, now)
    return ResumeLive(**dict(result), context=band_for(store, now, result.session_id))


# -- validation_run: a run for the spiral detector and the breaker -----------------------------------


class ValidationLive(validation.ValidationRunResult):
    spiral: str | None = None  # a debug spiral called, or a breaker opened, with the advice


def gate_command(argv: list[str]) -> str:
    """A validation gate's command as the spiral detector and the breaker key it: the same text a
    shell run of it has, so `pytest -q` typed in a shell and the gate running it are one command."""
    return shlex.join(argv)


def _error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    return lines[-1][: spiral.ERROR_MAX] if lines else ""


def validate(
    store: Store,
    inp: validation.ValidationRunInput,
    now: datetime,
    progress: validation.Progress | None = None,
) -> ValidationLive:
    """`validation_run` as one more run of each gate's command: a gate whose circuit breaker is
    open is refused (the whole run, so a partial run never reads as a pass), and each gate's
    outcome feeds the spiral detector and the breaker, in the caller's client session when one is
    known (so a gate failing after the same command failed in the shell is one spiral)."""
    settings = settings_for(store)
    cs = client_session(store, now, inp.session_id)
    who = cs.client_session if cs is not None else f"mcp:{inp.session_id or '-'}"
    keys: dict[str, str] = {}
    try:
        cfg = config.load_for(store.datadir)
        gates = [cfg.gate(inp.gate)] if inp.gate else cfg.gates
    except DomainError:
        gates = []  # validation.run refuses with the same message
    for g in gates:
        key = gate_command(g.command)
        verdict = spiral.gate(store, key, now)
        if not verdict.allowed:
            raise DomainError("gate", f"gate {g.name!r} is refused: {verdict.reason}")
        keys[g.name] = key
    result = validation.run(store, inp, now, progress)
    calls: list[str] = []
    events: list[records.WatchEvent] = []
    for r in result.results:
        command = keys.get(r.gate)
        if command is None:
            continue
        out = spiral.record_run(store, who, command, r.passed, now, _error_line(r.output), settings)
        events.extend(out.events)
        advice = out.advice()
        if advice:
            calls.append(f"gate {r.gate}: {advice}")
    if events:
        records.log_events(store, events)
    return ValidationLive(**dict(result), spiral=" ".join(calls) or None)
