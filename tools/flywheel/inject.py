"""The knowledge flywheel: inject the few relevant patterns, measure whether they helped, let unused
ones decay, and ship starter guardrails for the failure patterns everyone meets.

- Inject: `session_start` and `context_load` include the top active patterns for the goal or task,
  within a small token budget, and record which were shown (SQLite only: it is a measurement).
- Measure: shown is not used. At `session_end` the assistant cites the patterns that helped and
  those that hurt (`helped`, `hurt`); only a citation counts as a use and moves confidence (toward
  1 when it helped, down when it hurt), whatever the session's outcome. Being shown (recorded in
  `pattern_injections`, SQLite only) changes nothing in the pattern. The counters and the citing
  session ids live in the pattern's ledger file, so the history is reviewable, and maturity
  (`maturity.py`) rests on distinct citing sessions.
- Decay: confidence fades with time since last use (half-life, default 30 days). Patterns whose
  faded confidence falls below a threshold are proposed for retirement; a person confirms.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import Field

from factorops.store import ledger_layout
from factorops.store.components import Component, Migration
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor, require_person
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.tokens import ESTIMATE_SLACK, estimate_tokens
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.model import Pattern

from .opening import open_project  # noqa: F401 (its home was here; callers import it from here)

HALF_LIFE_DAYS = 30.0
RETIRE_BELOW = 0.2
INJECT_LIMIT = 3
INJECT_BUDGET = 300
# `limit` hits of bounded snippets never come near it: the search does not count tokens exactly
SEARCH_BUDGET = 20_000
CITATIONS_MAX = 20  # pattern ids a session may cite as helped, and as hurt

COMPONENT = Component(
    name="flywheel",
    migrations=(
        Migration(
            "flywheel-001",
            """
            CREATE TABLE pattern_injections (
                session_id TEXT NOT NULL,
                pattern_id TEXT NOT NULL,
                shown_at TEXT NOT NULL,
                via TEXT NOT NULL,
                PRIMARY KEY (session_id, pattern_id)
            );
            """,
        ),
    ),
)


class InjectedPattern(CompactModel):
    id: str
    title: str
    kind: str
    advice: str = Field(default="", description="the solution or rule, first lines")


def relevant(
    store: Store, text: str, now: datetime, limit: int = INJECT_LIMIT, budget: int = INJECT_BUDGET
) -> list[InjectedPattern]:
    """Active patterns matching `text`, strongest first, within `budget` tokens.

    The budget bounds what is injected (each pattern as its reply JSON) by `estimate_tokens`, which
    errs high: a count that only sizes a reply never loads the tokenizer (~190 ms and ~75 MiB inside
    a server's first `session_start`, issue #19). The search itself is bounded by `limit` only."""
    if not text.strip():
        return []
    res = patterns.search(
        store,
        patterns.PatternsSearchInput(
            query=text[:500], status="active", limit=limit, budget_tokens=SEARCH_BUDGET
        ),
        now,
    )
    out: list[InjectedPattern] = []
    used = 0
    for hit in res.results:
        if hit.kind == "guardrail":
            continue  # guardrails act through guardrail_check, not as reading matter
        p = patterns.get(store, hit.id)
        item = InjectedPattern(id=p.id, title=p.title, kind=p.kind, advice=p.solution.strip()[:300])
        cost = estimate_tokens(item.model_dump_json())
        if (used + cost) * ESTIMATE_SLACK > budget:
            break
        used += cost
        out.append(item)
    return out


def record_shown(
    store: Store, session_id: str | None, shown: list[InjectedPattern], via: str, now: datetime
) -> None:
    if not session_id or not shown:
        return
    with store.index.transaction() as db:
        for p in shown:
            db.execute(
                "INSERT OR IGNORE INTO pattern_injections (session_id, pattern_id, shown_at, via) VALUES (?, ?, ?, ?)",
                [session_id, p.id, now.isoformat(), via],
            )


def check_citations(store: Store, helped: list[str], hurt: list[str]) -> None:
    """Refuse a citation of a pattern this project does not have, or one cited both ways, before
    anything is written (the field and the id are named)."""
    for field, ids in (("helped", helped), ("hurt", hurt)):
        if len(ids) > CITATIONS_MAX:
            raise DomainError(field, f"at most {CITATIONS_MAX} pattern ids (got {len(ids)})")
    both = sorted(set(helped) & set(hurt))
    if both:
        raise DomainError("hurt", f"pattern {both[0]} is cited as both helped and hurt; cite it once")
    for field, ids in (("helped", helped), ("hurt", hurt)):
        for pid in ids:
            try:
                patterns.get(store, pid)
            except DomainError:
                raise DomainError(
                    field,
                    f"no pattern {pid!r} in this project; cite ids from patterns_search or the briefing",
                ) from None


def measure(
    store: Store,
    session_id: str,
    outcome: str,
    now: datetime,
    helped: list[str] | tuple[str, ...] = (),
    hurt: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """Credit the patterns a session cited as having helped, debit those it cited as having hurt;
    one ledger commit. Patterns only shown are not touched: retrieval is not use."""
    updated: list[Pattern] = []
    for pid, good in [
        *((x, True) for x in dict.fromkeys(helped)),
        *((x, False) for x in dict.fromkeys(hurt)),
    ]:
        try:
            p = patterns.get(store, pid)
        except DomainError:
            continue
        conf = p.confidence + (0.1 * (1 - p.confidence) if good else -0.1 * p.confidence)
        update: dict[str, object] = {
            "times_used": p.times_used + 1,
            "confidence": round(min(0.99, max(0.01, conf)), 4),
            "last_cited": now,
            "updated": now,
        }
        if good and session_id not in p.helped_in:
            update |= {"times_helped": p.times_helped + 1, "helped_in": [*p.helped_in, session_id]}
        elif not good and session_id not in p.hurt_in:
            update |= {"times_hurt": p.times_hurt + 1, "hurt_in": [*p.hurt_in, session_id]}
        updated.append(p.model_copy(update=update))
    patterns.save_many(
        store,
        updated,
        f"flywheel: {len(updated)} pattern(s) cited by a {outcome} session "
        f"(helped: {', '.join(helped) or '-'}; hurt: {', '.join(hurt) or '-'})",
        {"Session": session_id, "Factor": "IX"},
    )
    return [p.id for p in updated]


def faded(p: Pattern, now: datetime, half_life_days: float = HALF_LIFE_DAYS) -> float:
    days = max(0.0, (now - p.updated).total_seconds() / 86400)
    return p.confidence * math.pow(0.5, days / half_life_days)


class DecayProposal(CompactModel):
    id: str
    title: str
    confidence: float
    faded: float
    days_unused: int


def retirement_proposals(
    store: Store, now: datetime, threshold: float = RETIRE_BELOW, half_life_days: float = HALF_LIFE_DAYS
) -> list[DecayProposal]:
    out = []
    for row in patterns.list_patterns(store, status="active", limit=100_000):
        p = patterns.get(store, str(row["id"]))
        if "starter" in p.tags:
            continue  # starter guardrails are removed as a set, not decayed
        f = faded(p, now, half_life_days)
        if f < threshold:
            out.append(
                DecayProposal(
                    id=p.id,
                    title=p.title,
                    confidence=p.confidence,
                    faded=round(f, 3),
                    days_unused=int((now - p.updated).total_seconds() // 86400),
                )
            )
    return sorted(out, key=lambda d: d.faded)


# -- starter guardrails ---------------------------------------------------------------------------


def starter_id(tags: list[str]) -> str:
    slug = next(t.split(":", 1)[1] for t in tags if t.startswith("starter:"))
    return f"starter-{slug}"


class StarterReport(CompactModel):
    """What `starter install` did, rule by rule."""

    installed: list[str] = Field(default_factory=list)  # were missing
    reactivated: list[str] = Field(default_factory=list)  # were retired
    restored: list[str] = Field(
        default_factory=list
    )  # differed from the shipped rule; no person changed them
    kept: list[str] = Field(default_factory=list)  # "ID (changed by WHO)": a person's change stays
    commit: str | None = None

    @property
    def changed(self) -> list[str]:
        return [*self.installed, *self.reactivated, *self.restored]


def install_starters(store: Store, now: datetime, actor: Actor | None = None) -> StarterReport:
    """Install the starter guardrails as active patterns, against the latest state; one commit.

    With a person (`factorops starter install`): also re-activate retired ones and restore any whose
    content differs from the shipped rule, unless a person changed it (its `changed_by`), which is
    kept and reported. Without an actor (a new project's first use) only missing rules are installed.
    Idempotent.
    """
    # Imported here, not at the top: opening a store imports this module, and the starters bring the
    # guardrail matcher and the shell parser (tree-sitter-bash), which only a check or an install needs.
    from factorops.tools.guardrails import starters as starter_guardrails

    if actor is not None:
        require_person(actor, "install or restore the starter guardrails")
    shipped = starter_guardrails.starter_guardrails()
    reports: list[StarterReport] = []

    def decide() -> patterns.Plan:
        rep = StarterReport()
        todo: list[Pattern] = []
        for cand in shipped:
            pid = starter_id(cand.tags)
            if not (store.ledger.path / ledger_layout.pattern_file(store.ledger.path, pid)).exists():
                todo.append(Pattern(**cand.model_dump(), id=pid, status="active", created=now, updated=now))
                rep.installed.append(pid)
                continue
            if actor is None:
                continue
            current = patterns.get(store, pid)
            update: dict[str, object] = {}
            if not patterns.same_content(current, cand):
                by = current.changed_by
                if by is not None and by.is_person:
                    rep.kept.append(f"{pid} (changed by {patterns.one_line(by.label)})")
                else:
                    update.update(cand.model_dump(include=set(patterns.CONTENT_FIELDS)))
                    update["changed_by"] = None
                    rep.restored.append(pid)
            if current.status != "active":
                update["status"] = "active"
                rep.reactivated.append(pid)
            if update:
                todo.append(Pattern.model_validate({**current.model_dump(), **update, "updated": now}))
        reports[:] = [rep]
        return patterns.Plan(
            kind=",".join(p.id for p in todo),
            message=f"guardrails: starter guardrails: {len(rep.installed)} installed, "
            f"{len(rep.reactivated)} re-activated, {len(rep.restored)} restored to the shipped rule",
            write=todo,
        )

    commit, _ = patterns.apply_latest(store, decide, {"Factor": "XI"}, actor)
    report = reports[0]
    report.commit = commit
    return report


def install_starter(store: Store, now: datetime, actor: Actor | None = None) -> list[str]:
    """`install_starters`, answering only which rules it wrote."""
    return install_starters(store, now, actor).changed


def remove_starter(store: Store, now: datetime) -> list[str]:
    """Retire every starter guardrail (they stay in the ledger's history); one commit."""
    todo = []
    for row in patterns.list_patterns(store, status="active", kind="guardrail", limit=100_000):
        if str(row["id"]).startswith("starter-"):
            todo.append(
                patterns.get(store, str(row["id"])).model_copy(update={"status": "retired", "updated": now})
            )
    patterns.save_many(store, todo, f"guardrails: remove {len(todo)} starter guardrails", {"Factor": "XI"})
    return [p.id for p in todo]


def active_starters(store: Store) -> list[str]:
    """Ids of the starter guardrails that are active."""
    rows = store.db.execute(
        "SELECT id FROM patterns WHERE kind = 'guardrail' AND status = 'active' AND id LIKE 'starter-%' "
        "ORDER BY id"
    ).fetchall()
    return [str(r[0]) for r in rows]


def starter_active(store: Store, slug: str) -> bool:
    row = store.db.execute("SELECT status FROM patterns WHERE id = ?", [f"starter-{slug}"]).fetchone()
    return row is not None and row[0] == "active"
