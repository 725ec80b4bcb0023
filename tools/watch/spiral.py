"""The debug-spiral detector and the circuit breaker: stop an assistant repeating what fails.

A debug spiral: the same normalised command failing `spiral_repeats` times in a row (3), or
`spiral_similar` failures of similar commands (same family: `pytest`, `git push`) within
`spiral_window_s` (5 in 10 minutes), in one client session. The reply that sees it says so and
suggests a checkpoint and a fresh session, or asking a person.

The circuit breaker, per normalised command in the project: closed while the command works; open
after `breaker_failures` failures in a row (5): the command is refused with the reason for
`breaker_cooldown_s`; then half-open: one try goes through. Its success closes the breaker, its
failure opens it again for another cool-down.

Runs and breaker states are SQLite-only rows written in the caller's transaction-free store (the
hooks call this on every shell command); the transitions worth reviewing come back as
`WatchEvent`s for the caller to commit to the ledger with `records.log_events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import commands
from .records import WatchEvent, iso
from .settings import DEFAULTS, WatchSettings

if TYPE_CHECKING:
    from factorops.store.store import Store

ERROR_MAX = 300


@dataclass
class Outcome:
    """What recording one run found: a spiral (and why), the breaker's state, events to log."""

    command: str
    spiral: str | None = None
    breaker: str = "closed"
    events: list[WatchEvent] = field(default_factory=list)

    def advice(self) -> str | None:
        parts = []
        if self.spiral:
            parts.append(
                f"Debug spiral: {self.spiral}. Stop retrying variations: save a checkpoint "
                "(checkpoint_save) with what you tried and what you learned, then start a fresh "
                "session, or ask a person."
            )
        if self.breaker == "open":
            parts.append(
                f"The circuit breaker for `{self.command}` is now open: the command will be refused "
                "until its cool-down ends, then allowed once."
            )
        return " ".join(parts) or None


@dataclass(frozen=True)
class Gate:
    """The breaker's answer before a command runs."""

    allowed: bool
    reason: str = ""


def _consecutive_failures(store: Store, command: str, client_session: str | None = None) -> int:
    where, args = ("command = ?", [command])
    if client_session is not None:
        where, args = ("command = ? AND client_session = ?", [command, client_session])
    rows = store.db.execute(
        f"SELECT ok FROM watch_runs WHERE {where} ORDER BY id DESC LIMIT 1000", args
    ).fetchall()
    n = 0
    for (ok,) in rows:
        if ok:
            break
        n += 1
    return n


def record_run(
    store: Store,
    client_session: str,
    command: str,
    ok: bool,
    now: datetime,
    error: str = "",
    settings: WatchSettings = DEFAULTS,
) -> Outcome:
    """Record that `command` succeeded or failed; detect a spiral and move the breaker."""
    key = commands.normalise(command)
    fam = commands.family(command)
    out = Outcome(command=key)
    with store.index.transaction() as db:
        if ok:
            last = db.execute(
                "SELECT ok FROM watch_runs WHERE command = ? ORDER BY id DESC LIMIT 1", [key]
            ).fetchone()
            if last is not None and not last[0]:  # a success only matters after a failure
                db.execute(
                    "INSERT INTO watch_runs (client_session, command, family, ok, at) VALUES (?, ?, ?, 1, ?)",
                    [client_session, key, fam, iso(now)],
                )
        else:
            db.execute(
                "INSERT INTO watch_runs (client_session, command, family, ok, at, error) VALUES (?, ?, ?, 0, ?, ?)",
                [client_session, key, fam, iso(now), error[:ERROR_MAX]],
            )
        state = db.execute("SELECT state FROM watch_breakers WHERE command = ?", [key]).fetchone()
        current = state[0] if state else "closed"
        if ok:
            if current != "closed":
                db.execute("DELETE FROM watch_breakers WHERE command = ?", [key])
                out.events.append(
                    WatchEvent(
                        "breaker_closed", key, client_session, now, f"`{key}` succeeded ({current} before)"
                    )
                )
            return out
        in_row = _consecutive_failures(store, key, client_session)
        since = iso(now - timedelta(seconds=settings.spiral_window_s))
        similar = db.execute(
            "SELECT COUNT(*) FROM watch_runs WHERE client_session = ? AND family = ? AND ok = 0 AND at >= ?",
            [client_session, fam, since],
        ).fetchone()[0]
        if in_row >= settings.spiral_repeats:
            out.spiral = f"`{key}` failed {in_row} times in a row"
        elif similar >= settings.spiral_similar:
            minutes = settings.spiral_window_s / 60
            out.spiral = f"{similar} failures of `{fam}` commands within {minutes:g} minutes"
        starts = in_row == settings.spiral_repeats or (
            in_row < settings.spiral_repeats and similar == settings.spiral_similar
        )
        if out.spiral and starts:  # one ledger record when a spiral begins, not one per failure
            out.events.append(WatchEvent("spiral", key, client_session, now, out.spiral))
        failures = _consecutive_failures(store, key)
        if current == "half_open" or (current == "closed" and failures >= settings.breaker_failures):
            until = now + timedelta(seconds=settings.breaker_cooldown_s)
            db.execute(
                """INSERT INTO watch_breakers (command, state, opened_at, until) VALUES (?, 'open', ?, ?)
                   ON CONFLICT(command) DO UPDATE SET state='open', opened_at=excluded.opened_at,
                       until=excluded.until, trial_at=NULL""",
                [key, iso(now), iso(until)],
            )
            why = (
                f"the one try after the cool-down failed too ({failures} failures in a row)"
                if current == "half_open"
                else f"{failures} failures in a row"
            )
            out.events.append(WatchEvent("breaker_open", key, client_session, now, why))
            out.breaker = "open"
        else:
            out.breaker = current
    return out


def standing(store: Store, command: str, settings: WatchSettings = DEFAULTS) -> str | None:
    """The debug spiral `command` is in now, with the advice: its last `spiral_repeats` runs in the
    project failed. Read only, for a client whose events never report a command's outcome."""
    key = commands.normalise(command)
    n = _consecutive_failures(store, key)
    if n < settings.spiral_repeats:
        return None
    return Outcome(command=key, spiral=f"`{key}` failed its last {n} runs in a row").advice()


def gate(store: Store, command: str, now: datetime) -> Gate:
    """May `command` run now? Refused while its breaker is open; after the cool-down the breaker
    half-opens and lets exactly one try through until that try's outcome is recorded (or another
    cool-down has passed without one)."""
    key = commands.normalise(command)
    row = store.db.execute(
        "SELECT state, opened_at, until, trial_at FROM watch_breakers WHERE command = ?", [key]
    ).fetchone()
    if row is None:
        return Gate(True)
    state, opened_at, until, trial_at = row
    until_at = datetime.fromisoformat(until)
    if state == "open" and now < until_at:
        left = int((until_at - now).total_seconds()) + 1
        return Gate(
            False,
            f"circuit breaker open for `{key}`: it failed repeatedly (opened {opened_at[:19]}Z). It is "
            f"refused for another {left} s, then allowed once. Meanwhile find the cause (read the "
            "error, check assumptions), save a checkpoint, or ask a person.",
        )
    cooldown = until_at - datetime.fromisoformat(opened_at)
    if trial_at is not None and now < datetime.fromisoformat(trial_at) + cooldown:
        return Gate(
            False,
            f"circuit breaker half-open for `{key}`: its one try is under way; wait for its result.",
        )
    with store.index.transaction() as db:
        db.execute(
            "UPDATE watch_breakers SET state = 'half_open', trial_at = ? WHERE command = ?", [iso(now), key]
        )
    return Gate(True, f"circuit breaker half-open for `{key}`: this is its one try after the cool-down")


def breaker_state(store: Store, command: str) -> str:
    row = store.db.execute(
        "SELECT state FROM watch_breakers WHERE command = ?", [commands.normalise(command)]
    ).fetchone()
    return "closed" if row is None else str(row[0])
