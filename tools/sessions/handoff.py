"""The resume handoff: what a fresh assistant needs to continue, within a token budget.

Whatever was saved, the reply a client receives from `session_resume` stays within
`BUDGET_TOKENS` (o200k, counted on the JSON text the client gets). It holds the latest checkpoint
(summary, next steps, files), every decision of every checkpoint (newest first, de-duplicated), the
questions still open, one line per older checkpoint, and the code state the work was saved at.
When that does not fit, the handoff is shortened in a fixed order (older lines first, every
decision last) and `left_out` names each cut and how to fetch it (`session_resume` with
`checkpoint=N`, or the checkpoint's ledger file).

Open questions accumulate across checkpoints: a question stays open until a later checkpoint lists
it in `answered_questions` (compared ignoring case, spacing and a trailing "?" or "."); asking it
again re-opens it. Decisions are compared the same way; the newest wording is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pydantic_core
from pydantic import Field

from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel

from .gitstate import CodeState, GitState, compare

BUDGET_TOKENS = 2000


class LeftOut(CompactModel):
    what: str
    fetch: str


class ResumeState(CompactModel):
    session_id: str
    goal: str
    status: Literal["open", "ended"]
    age: str
    stale: bool | None = None
    checkpoints: int
    shown_checkpoint: int | None = None  # set when one checkpoint was asked for
    summary: str | None = None
    next_steps: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    files_touched: list[str] = Field(default_factory=list)
    last_checkpoint_at: datetime | None = None
    earlier: list[str] = Field(default_factory=list)  # one line per older checkpoint, newest first
    git: CodeState | None = None
    left_out: list[LeftOut] = Field(default_factory=list)


@dataclass
class Saved:
    """One checkpoint as indexed."""

    id: str
    seq: int
    summary: str
    next_steps: list[str]
    decisions: list[str]
    open_questions: list[str]
    answered: list[str]
    files: list[str]
    created_at: datetime
    git: GitState | None


def key(text: str) -> str:
    """How decisions and questions are compared: case, spacing and a trailing ? or . ignored."""
    return " ".join(text.casefold().split()).rstrip("?. ")


def load(store: Store, session_id: str, seq: int | None = None) -> list[Saved]:
    where, args = ("AND seq = ?", [session_id, seq]) if seq is not None else ("", [session_id])
    rows = store.db.execute(
        f"""SELECT id, seq, summary, next_steps, decisions, open_questions, answered_questions,
                   files_touched, created_at, git
            FROM checkpoints WHERE session_id = ? {where} ORDER BY seq""",
        args,
    ).fetchall()
    return [
        Saved(
            id=r[0],
            seq=r[1],
            summary=r[2],
            next_steps=json.loads(r[3]),
            decisions=json.loads(r[4]),
            open_questions=json.loads(r[5]),
            answered=json.loads(r[6]),
            files=json.loads(r[7]),
            created_at=datetime.fromisoformat(r[8]),
            git=GitState.model_validate_json(r[9]) if r[9] else None,
        )
        for r in rows
    ]


def all_decisions(cps: list[Saved]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for cp in reversed(cps):
        for d in cp.decisions:
            if key(d) not in seen:
                seen.add(key(d))
                out.append(d)
    return out


def still_open(cps: list[Saved]) -> list[str]:
    """Questions asked and not answered since: the most recently asked checkpoint first, each
    checkpoint's questions in their own order."""
    open_: dict[str, tuple[int, int, str]] = {}
    for cp in cps:
        for q in cp.answered:
            open_.pop(key(q), None)
        for i, q in enumerate(cp.open_questions):
            open_[key(q)] = (cp.seq, i, q)  # asked again: it moves to the newer place
    return [q for _, _, q in sorted(open_.values(), key=lambda t: (-t[0], t[1]))]


def tokens(state: CompactModel, exact: bool = False) -> int:
    """Tokens of the JSON text the client receives for this result (as the MCP SDK writes it).
    Unless `exact`, a text of fewer bytes than half the budget is not tokenized: a token is at
    least one byte, so it surely fits, and the vocabulary need not load."""
    from factorops.tools.kernel.tokens import count_tokens

    text = pydantic_core.to_json(state, fallback=str, indent=2).decode()
    if not exact and len(text.encode()) <= BUDGET_TOKENS // 2:
        return len(text.encode())
    return count_tokens(text)


def alone_tokens(rec: dict[str, object]) -> int:
    """About what one checkpoint record costs in a handoff on its own (its JSON text; at most its
    byte count when that is below the budget, so small checkpoints never load the tokenizer)."""
    from factorops.tools.kernel.tokens import count_tokens

    text = json.dumps(rec, indent=2, ensure_ascii=False)
    size = len(text.encode())
    return size if size <= BUDGET_TOKENS else count_tokens(text)


def build(store: Store, state: ResumeState, seq: int | None, budget: int = BUDGET_TOKENS) -> ResumeState:
    """Fill `state` (the session's header) from its checkpoints: the latest with every decision and
    open question of all of them, or checkpoint `seq` alone; then fit it to `budget`."""
    sid = state.session_id
    cps = load(store, sid, seq)
    if not cps:
        return state
    cp = cps[-1]
    state.summary, state.next_steps, state.files_touched = cp.summary, cp.next_steps, cp.files
    state.last_checkpoint_at = cp.created_at
    if seq is None:
        state.decisions, state.open_questions = all_decisions(cps), still_open(cps)
        state.earlier = [
            f"#{c.seq} {c.created_at:%Y-%m-%d %H:%M}: {' '.join(c.summary.split())[:160]}"
            for c in reversed(cps[:-1])
        ]
        if len(cps) > 1:
            state.left_out.append(
                LeftOut(
                    what=f"checkpoints 1-{cp.seq - 1} in full (summary, next steps, files)",
                    fetch=f"session_resume session_id={sid} checkpoint=N",
                )
            )
        fetch = f"session_resume session_id={sid} checkpoint={cp.seq}"
    else:
        state.shown_checkpoint = cp.seq
        state.decisions, state.open_questions = cp.decisions, cp.open_questions
        fetch = f"the ledger file {_ledger_file(store, sid, cp.id)}"
    saved = next((c for c in reversed(cps) if c.git is not None), None)
    if saved is not None and saved.git is not None:
        state.git = compare(store.datadir.root, saved.git, saved.seq)
    return fit(state, budget, fetch, sid)


def _ledger_file(store: Store, session_id: str, checkpoint_id: str) -> str:
    row = store.db.execute("SELECT ledger_dir FROM sessions WHERE id = ?", [session_id]).fetchone()
    path = store.ledger.path / str(row[0]) / "checkpoints" / f"{checkpoint_id}.json"
    try:
        return str(path.relative_to(store.datadir.root))
    except ValueError:
        return str(path)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def fit(state: ResumeState, budget: int, fetch: str, sid: str) -> ResumeState:
    """Shorten `state` step by step, oldest and least needed first, until it fits `budget`."""
    shortened: dict[str, int] = {}

    def note(what: str, n: int = 1) -> None:
        shortened[what] = shortened.get(what, 0) + n

    def shorten_list(name: str, items: list[str], n: int) -> list[str]:
        out = [_cut(i, n) for i in items]
        note(name, sum(1 for a, b in zip(items, out, strict=True) if a != b))
        return out

    def earlier_short() -> None:
        state.earlier = [_cut(e, 80) for e in state.earlier]

    def files(n: int) -> Callable[[], None]:
        def step() -> None:
            if len(state.files_touched) > n:
                note("files touched", len(state.files_touched) - n)
                state.files_touched = state.files_touched[:n]

        return step

    def next_steps(chars: int, count: int) -> Callable[[], None]:
        def step() -> None:
            state.next_steps = shorten_list("next steps", state.next_steps, chars)
            if len(state.next_steps) > count:
                note("next steps", len(state.next_steps) - count)
                state.next_steps = state.next_steps[:count]

        return step

    def summary(chars: int) -> Callable[[], None]:
        def step() -> None:
            if state.summary and len(state.summary) > chars:
                note("summary")
                state.summary = _cut(state.summary, chars)

        return step

    def code() -> None:
        if state.git is not None:
            state.git.uncommitted = state.git.uncommitted[:5]
            state.git.diff_stat = state.git.diff_stat[-4:]

    def drop_earlier() -> None:
        while state.earlier and tokens(state) > budget:
            state.earlier.pop()  # the oldest
            note("one-line summaries of older checkpoints")

    def items(chars: int) -> Callable[[], None]:
        def step() -> None:
            state.decisions = shorten_list("decisions (shortened)", state.decisions, chars)
            state.open_questions = shorten_list("open questions (shortened)", state.open_questions, chars)

        return step

    def drop_items() -> None:
        while (state.decisions or state.open_questions) and tokens(state) > budget:
            if len(state.open_questions) >= len(state.decisions):
                state.open_questions.pop()
                note("oldest open questions")
            else:
                state.decisions.pop()
                note("oldest decisions")

    def goal() -> None:
        state.goal = _cut(state.goal, 200)

    steps: list[Callable[[], None]] = [
        earlier_short,
        files(10),
        next_steps(160, 30),
        summary(1200),
        code,
        drop_earlier,
        next_steps(160, 5),
        summary(400),
        items(120),
        items(60),
        files(3),
        next_steps(80, 2),
        summary(150),
        drop_items,
        goal,
    ]
    for step in steps:
        if tokens(state) <= budget:
            break
        step()
        _note_cuts(state, shortened, fetch, sid)
    return state


ACROSS = (
    "one-line summaries of older checkpoints",
    "decisions (shortened)",
    "open questions (shortened)",
    "oldest decisions",
    "oldest open questions",
)


def _note_cuts(state: ResumeState, shortened: dict[str, int], fetch: str, sid: str) -> None:
    """One `left_out` entry for what was cut of the shown checkpoint, one for what was cut of the
    material gathered from all checkpoints (fetched checkpoint by checkpoint)."""
    keep = [x for x in state.left_out if not x.what.startswith("shortened or left out: ")]
    for group, how in (
        ([w for w in shortened if w not in ACROSS], fetch),
        (
            [w for w in shortened if w in ACROSS],
            f"session_resume session_id={sid} checkpoint=N, N = 1..{state.checkpoints}",
        ),
    ):
        listed = ", ".join(f"{w} ({shortened[w]})" for w in group if shortened[w])
        if listed:
            keep.append(LeftOut(what=f"shortened or left out: {listed}", fetch=how))
    state.left_out = keep
