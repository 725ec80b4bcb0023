"""What the session-start hook hands the assistant, and the checkpoint saved before compaction.

The briefing is the last unfinished session's resume state and the few most relevant active
patterns, fenced as reference data and kept within `BRIEFING_TOKENS` (o200k) so it costs little
at every start. Before an automatic compaction the transcript still holds the whole session: a
checkpoint is built from it (goal, files touched, commands run, last state) so nothing the summary
drops is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .fence import fence

if TYPE_CHECKING:
    from factorops.store.store import Store

BRIEFING_TOKENS = 1500
PATTERNS_MAX = 5


def _tokens(text: str) -> int:
    from factorops.tools.kernel.tokens import count_tokens

    return count_tokens(text)


def briefing(store: Store, now: datetime, budget: int = BRIEFING_TOKENS) -> str | None:
    """The fenced briefing, or None when there is nothing to brief (no open session, no pattern)."""
    from factorops.tools.flywheel import inject
    from factorops.tools.kernel.errors import DomainError
    from factorops.tools.sessions import lifecycle as sessions
    from factorops.tools.sessions.render import resume_sections

    lines: list[str] = []
    topic = ""
    try:
        state = sessions.resume(store, sessions.SessionResumeInput(), now)
    except DomainError:
        state = None
    if state is not None:
        topic = " ".join([state.goal, state.summary or "", *state.next_steps])
        stale = ", stale: idle past the limit; end it or resume it" if state.stale else ""
        lines.append(f"Unfinished session {state.session_id} ({state.age} ago{stale}): {state.goal}")
        for section in resume_sections(state):
            if section.title == "Where it stands":
                lines.append(f"Last checkpoint: {section.items[0]}")
            else:
                lines.append(f"{section.title}: " + "; ".join(section.items[:10]))
        lines.append(
            f"Resume with session_resume (session_id={state.session_id}) or start anew with session_start."
        )
    shown = inject.relevant(store, topic, now, limit=PATTERNS_MAX) if topic.strip() else []
    if shown:
        lines.append("Relevant patterns:")
        lines.extend(f"- [{p.kind}] {p.title}: {' '.join(p.advice.split())}" for p in shown)
    if not lines:
        return None
    return _fit(lines, budget)


def _fit(lines: list[str], budget: int) -> str:
    """Drop lines from the end, then shorten the last, until the fenced text fits `budget`."""
    text = fence("factorops briefing", "\n".join(lines))
    while _tokens(text) > budget and lines:
        if len(lines) > 1:
            lines = lines[:-1]
        else:
            lines = [lines[0][: max(40, len(lines[0]) // 2)] + " …"]
            if len(lines[0]) <= 42:
                break
        text = fence("factorops briefing", "\n".join(lines))
    return text


@dataclass
class TranscriptDigest:
    goal: str = ""
    files: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    last_state: str = ""


def digest(path: Path) -> TranscriptDigest:
    """Goal (the first thing the person asked), files the assistant changed, commands it ran and
    its last words, from a Claude Code transcript."""
    from factorops.tools.flywheel import transcripts as tr

    d = TranscriptDigest()
    for ev in tr.scan(path):
        if isinstance(ev, tr.Text) and not ev.sidechain and not ev.meta:
            if ev.role == "user" and not d.goal and not ev.text.lstrip().startswith("<"):
                d.goal = ev.text.strip()
            elif ev.role == "assistant":
                d.last_state = ev.text.strip()
        elif isinstance(ev, tr.ToolUse) and not ev.sidechain:
            if ev.is_edit:
                d.files.extend(p for p in ev.paths if p not in d.files)
            elif ev.command:
                d.commands.append(ev.command.strip())
    return d


def checkpoint_from_transcript(
    store: Store, factorops_session: str | None, path: Path, now: datetime, project_root: Path
) -> tuple[str, str]:
    """Save a checkpoint from the transcript into `factorops_session` (a new session with the
    transcript's goal when None or ended). Returns (session id, checkpoint id)."""
    from factorops.tools.sessions import lifecycle as sessions
    from factorops.tools.sessions import queries as session_queries

    d = digest(path)
    goal = " ".join((d.goal or f"work in {project_root.name}").split())[: sessions.GOAL_MAX]
    sid = factorops_session
    if sid is not None:
        detail = session_queries.detail(store, sid)
        if detail is None or detail.status != "open":
            sid = None
    if sid is None:
        sid = sessions.start(store, sessions.SessionStartInput(goal=goal, tags=["hook"]), now).session_id
    files = []
    for f in d.files:
        p = Path(f)
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(project_root)
            except ValueError:
                continue
        files.append(str(p)[:400])
    commands = list(dict.fromkeys(c.splitlines()[0][: sessions.ITEM_MAX] for c in reversed(d.commands) if c))[
        :10
    ]
    last = " ".join(d.last_state.split())
    summary = (
        f"Saved by the PreCompact hook before compaction. Goal: {goal[:300]}\n"
        f"Last state: {last[:1500] or 'unknown'}\n"
        f"Recent commands (newest first): {json.dumps(commands, ensure_ascii=False)}"
    )[: sessions.SUMMARY_MAX]
    res = sessions.checkpoint(
        store,
        sessions.CheckpointInput(
            session_id=sid,
            summary=summary,
            next_steps=["Continue from the last state above; re-read the files touched first"],
            files_touched=files[: sessions.FILES_MAX],
        ),
        now,
    )
    return sid, res.checkpoint_id
