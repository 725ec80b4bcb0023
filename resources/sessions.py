"""Read views of sessions for assistants and people: compact Markdown, newest first."""

from __future__ import annotations

from datetime import datetime

from factorops.store.store import Store
from factorops.tools.sessions import lifecycle as sessions
from factorops.tools.sessions import queries as session_queries
from factorops.tools.sessions.lifecycle import ResumeState, SessionResumeInput
from factorops.tools.sessions.render import render_resume_lines


def sessions_index(store: Store, limit: int = 50) -> str:
    rows = sessions.list_sessions(store, limit=limit)
    if not rows:
        return "# Sessions\n\nNo sessions yet. An assistant starts one with the `session_start` tool.\n"
    lines = [
        "# Sessions",
        "",
        "| id | status | outcome | checkpoints | updated | goal |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        goal = r.goal.replace("|", "\\|").replace("\n", " ")[:80]
        lines.append(
            f"| {r.id} | {r.status} | {r.outcome or '-'} | {r.checkpoints} | "
            f"{r.updated_at:%Y-%m-%d %H:%M} | {goal} |"
        )
    lines.append("")
    lines.append("Read one with `agentops://sessions/{id}`.")
    return "\n".join(lines) + "\n"


def session_detail(store: Store, session_id: str, now: datetime) -> str:
    state = sessions.resume(store, SessionResumeInput(session_id=session_id), now)
    found = session_queries.detail(store, session_id)
    checkpoints = found.checkpoints if found else []
    out = [render_resume(state), "## Timeline", ""]
    if not checkpoints:
        out.append("No checkpoints yet.")
    for cp in checkpoints:
        first = cp.summary.splitlines()[0][:120] if cp.summary else ""
        out.append(f"{cp.seq}. {cp.created_at:%Y-%m-%d %H:%M:%S}: {first}")
    return "\n".join(out) + "\n"


def render_resume(state: ResumeState) -> str:
    """The resume state as a message an assistant can act on directly."""
    return "\n".join([*render_resume_lines(state), ""])


def resume_prompt_text(state: ResumeState) -> str:
    return (
        render_resume(state)
        + "\nContinue this work from the next steps above. Save a checkpoint (checkpoint_save with "
        f'session_id "{state.session_id}") after each meaningful step.\n'
    )
