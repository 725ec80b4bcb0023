"""The session tools' inputs (Factor VI): the one description of their arguments, light to import.

The MCP face registers the tools from these models at start-up (tools/list needs their schemas), so
this module imports pydantic only; `lifecycle` (the implementation) is imported on a tool's first call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

# Documented caps (docs/tools.md): big enough for real work, small enough to stay cheap to resume.
GOAL_MAX = 500
SUMMARY_MAX = 4000
ITEM_MAX = 500
LIST_MAX = 30
FILES_MAX = 200
LEARNING_MAX = 1000

Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ITEM_MAX)]
FilePath = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
Learning = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LEARNING_MAX)]
SessionId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Outcome = Literal["success", "partial", "failed", "abandoned"]


class SessionStartInput(BaseModel):
    """Start tracking a piece of work; returns a briefing from the last unfinished session."""

    goal: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=GOAL_MAX)] = Field(
        description="What this session should achieve"
    )
    tags: list[Item] = Field(default_factory=list, max_length=10)


class CheckpointInput(BaseModel):
    """Save progress so a fresh session can continue from here."""

    session_id: SessionId
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)
    ] = Field(description="State of the work now")
    next_steps: list[Item] = Field(default_factory=list, max_length=LIST_MAX)
    decisions: list[Item] = Field(default_factory=list, max_length=LIST_MAX)
    open_questions: list[Item] = Field(default_factory=list, max_length=LIST_MAX)
    answered_questions: list[Item] = Field(default_factory=list, max_length=LIST_MAX)
    files_touched: list[FilePath] = Field(default_factory=list, max_length=FILES_MAX)
    transcript_tokens: int | None = Field(default=None, ge=1, le=100_000_000)  # for the compression ratio


class SessionResumeInput(BaseModel):
    """Load what is needed to continue a session (default: the latest unfinished one)."""

    session_id: SessionId | None = None
    checkpoint: int | None = Field(default=None, ge=1)


class SessionEndInput(BaseModel):
    """Close a session with its outcome and what was learned."""

    session_id: SessionId
    outcome: Outcome
    learnings: list[Learning] = Field(default_factory=list, max_length=20)
    approval_id: str | None = Field(
        default=None,
        max_length=64,
        description="Approved request to claim success without a passing validation",
    )
    # Citations: only these move a pattern's confidence and maturity (being shown does not). The
    # bound is checked by flywheel.check_citations, not the schema: tools/list costs tokens.
    helped: list[SessionId] = Field(default_factory=list, description="Pattern ids that helped")
    hurt: list[SessionId] = Field(default_factory=list)
