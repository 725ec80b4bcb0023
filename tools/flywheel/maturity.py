"""Maturity from evidence (issue #18): how far the sessions that cited a pattern carry it.

discovery -> validated (helped in `validated` distinct sessions, default 3) -> general (5) ->
standard (15); deprecated when it is repeatedly harmful (hurt in `deprecate_hurt` sessions, default
3, and in more sessions than it helped) or unused past decay (its confidence, halved every
`half_life_days` since it was last cited or changed, is below `retire_below`). Thresholds are the
team's (`[maturity]` in config.toml). Only citations count (`session_end(helped=…, hurt=…)`):
being shown is not evidence.

Maturity is derived, never stored: it is computed from the pattern's citing sessions and the time,
so changing a threshold changes every pattern's stage at once. It decides nothing by itself: a
person promotes an eligible candidate (`factorops patterns promote ID`) or retires a deprecated
pattern; the CLI, the patterns resource and the dashboard show who is eligible and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.config import Maturity, load_for
from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.model import Pattern

from .inject import faded

Stage = Literal["discovery", "validated", "general", "standard", "deprecated"]
GROWING: tuple[Stage, ...] = ("validated", "general", "standard")


class Assessment(CompactModel):
    """A pattern's stage and the evidence for it, in words a person can check."""

    id: str
    title: str
    kind: str
    status: str
    stage: Stage
    helped: int  # distinct sessions that cited it as having helped
    hurt: int  # distinct sessions that cited it as having hurt
    sessions: list[str]  # the sessions it helped in, newest first (at most 5)
    why: str

    @property
    def eligible(self) -> bool:
        """A candidate the evidence carries: a person may promote it (the review lists it, the
        dashboard marks it). One definition for both."""
        return self.status == "candidate" and self.stage in GROWING


def thresholds(store: Store) -> Maturity:
    """The project's `[maturity]` settings (defaults, with a logged warning, when broken)."""
    return load_for(store.datadir).maturity


def assess(p: Pattern, now: datetime, m: Maturity) -> Assessment:
    helped = list(dict.fromkeys(p.helped_in))
    hurt = list(dict.fromkeys(p.hurt_in))
    h, x = len(helped), len(hurt)
    counts = f"helped in {h} session{'s' * (h != 1)}, hurt in {x}"
    stage: Stage
    if x >= m.deprecate_hurt and x > h:
        stage, why = (
            "deprecated",
            f"repeatedly harmful: {counts} (deprecated at {m.deprecate_hurt} hurt > helped)",
        )
    elif "starter" not in p.tags and (f := faded(p, now, m.half_life_days)) < m.retire_below:
        last = p.last_cited or p.updated
        days = int(max(0.0, (now - last).total_seconds()) // 86400)
        stage = "deprecated"
        why = f"unused for {days} days: faded confidence {f:.2f} < {m.retire_below} ({counts})"
    elif h >= m.standard:
        stage, why = "standard", f"{counts} (standard at {m.standard})"
    elif h >= m.general:
        stage, why = "general", f"{counts} (general at {m.general}, standard at {m.standard})"
    elif h >= m.validated:
        stage, why = "validated", f"{counts} (validated at {m.validated}, general at {m.general})"
    else:
        stage, why = "discovery", f"{counts} (validated at {m.validated})"
    return Assessment(
        id=p.id,
        title=p.title,
        kind=p.kind,
        status=p.status,
        stage=stage,
        helped=h,
        hurt=x,
        sessions=helped[::-1][:5],
        why=why,
    )


def assess_all(store: Store, now: datetime, m: Maturity | None = None) -> list[Assessment]:
    """Every candidate and active pattern, assessed (retired ones have no future to judge)."""
    m = m or thresholds(store)
    out = []
    for row in patterns.list_patterns(store, limit=100_000):
        if row["status"] == "retired":
            continue
        try:
            p = patterns.get(store, str(row["id"]))
        except DomainError:
            continue  # a broken file is reported by the views that read it
        out.append(assess(p, now, m))
    return out


class Review(CompactModel):
    """What a person may decide: candidates the evidence carries, active patterns it condemns."""

    eligible: list[Assessment] = []  # candidates at validated or beyond: promote?
    deprecated: list[Assessment] = []  # active patterns that are deprecated: retire?


def review(store: Store, now: datetime, m: Maturity | None = None) -> Review:
    rows = assess_all(store, now, m)
    eligible = [a for a in rows if a.eligible]
    deprecated = [a for a in rows if a.status == "active" and a.stage == "deprecated"]
    eligible.sort(key=lambda a: (-a.helped, a.id))
    deprecated.sort(key=lambda a: (-a.hurt, a.id))
    return Review(eligible=eligible, deprecated=deprecated)


def review_lines(r: Review) -> list[str]:
    """The review as plain lines (the CLI prints them; the resource wraps them in Markdown)."""
    out: list[str] = []
    if r.eligible:
        out.append("Eligible for promotion (a person decides: factorops patterns promote ID):")
        for a in r.eligible:
            sessions = ", ".join(a.sessions)
            out.append(f"  {a.id}  {a.stage}: {a.why}; sessions {sessions}  {patterns.one_line(a.title, 80)}")
    if r.deprecated:
        out.append("Deprecated, proposed for retirement (factorops patterns retire ID):")
        for a in r.deprecated:
            out.append(f"  {a.id}  {a.why}  {patterns.one_line(a.title, 80)}")
    return out
