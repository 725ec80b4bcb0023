"""The resume state in words: one renderer for every face that shows it.

The `agentops://sessions/{id}` resource and the resume prompt (Markdown), the session-start
briefing (one line a section, within a token budget) and the dashboard's session page (HTML) all
show the same sections in the same order, from `resume_sections`; each face only lays them out.
The order puts what a fresh assistant acts on first and what it can fetch later last (a briefing
that does not fit drops lines from the end).
"""

from __future__ import annotations

from dataclasses import dataclass

from .gitstate import CodeState
from .handoff import ResumeState


@dataclass(frozen=True)
class Section:
    title: str
    items: list[str]


def code_state_lines(g: CodeState) -> list[str]:
    """The code state a checkpoint was saved at, and how far HEAD moved since, as plain lines."""
    where = f"on branch {g.branch}" if g.branch else "detached HEAD"
    at = f" (checkpoint #{g.saved_at_checkpoint})" if g.saved_at_checkpoint is not None else ""
    out = [f"Saved at {g.head[:12]} {where}{at}."]
    if g.uncommitted_count:
        listed = ", ".join(g.uncommitted)
        more = g.uncommitted_count - len(g.uncommitted)
        out.append(
            f"{g.uncommitted_count} uncommitted file(s) then: {listed}"
            + (f" (+{more} more)" if more > 0 else "")
        )
    if g.head_moved:
        since = f", {g.commits_since} commit(s) since" if g.commits_since is not None else ""
        out.append(f"HEAD has moved: now {(g.head_now or '?')[:12]}{since}.")
        out += g.diff_stat
    elif g.note is None:
        out.append("HEAD is where it was.")
    if g.note:
        out.append(f"Note: {g.note}.")
    return out


def resume_sections(state: ResumeState) -> list[Section]:
    """Every non-empty part of the handoff after its header, in the order a face shows them."""
    sections = [
        Section("Where it stands", [state.summary] if state.summary else []),
        Section("Next steps", state.next_steps),
        Section("Decisions made", state.decisions),
        Section("Open questions", state.open_questions),
        Section("Files touched", state.files_touched),
        Section("Code state", code_state_lines(state.git) if state.git is not None else []),
        Section("Earlier checkpoints", state.earlier),
        Section("Left out", [f"{x.what}: {x.fetch}" for x in state.left_out]),
    ]
    return [s for s in sections if s.items]


def status_line(state: ResumeState) -> str:
    stale = " Stale: idle past the limit; end it or resume it." if state.stale else ""
    shown = f" Showing checkpoint #{state.shown_checkpoint}." if state.shown_checkpoint is not None else ""
    return f"Status: {state.status}; {state.checkpoints} checkpoint(s); last activity {state.age} ago.{stale}{shown}"


def render_resume_lines(state: ResumeState) -> list[str]:
    """The resume state as Markdown lines an assistant can act on directly."""
    out = [f"# Resume session {state.session_id}", "", f"Goal: {state.goal}", status_line(state)]
    for s in resume_sections(state):
        if s.title == "Where it stands":
            out += ["", f"## {s.title}", *s.items]
        else:
            out += ["", f"## {s.title}", *[f"- {i}" for i in s.items]]
    return out
