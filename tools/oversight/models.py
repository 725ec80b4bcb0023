"""The oversight tools' inputs (Factors IV, VII, VIII): the one description of their arguments,
light to import.

The MCP face registers `approval_request`, `approval_status`, `validation_run` and `route_task` from
these models at start-up (tools/list needs their schemas), so this module imports pydantic only;
`approvals`, `validation` and `routing` (the implementations) are imported on a tool's first call.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

if TYPE_CHECKING:
    from factorops.tools.kernel.config import Workflow

Risk = Literal["low", "medium", "high", "critical"]
# The workflows a route names, in the order ties are broken.
WORKFLOWS: tuple[Workflow, ...] = ("implement", "plan", "research", "review")


class ApprovalRequestInput(BaseModel):
    action: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    risk: Risk
    details: str = Field(default="", max_length=8000)
    # What a person needs to decide quickly; shown by `factorops approvals` and the dashboard.
    alternatives: str = Field(default="", max_length=2000, description="Considered instead")
    rollback: str = Field(default="", max_length=2000, description="How to undo")
    timeout_s: int | None = Field(default=None, ge=10, le=7 * 86400, description="Default 24h")
    session_id: str | None = Field(default=None, max_length=64)


class ApprovalStatusInput(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    wait_s: float = Field(default=0, ge=0, le=600)


class ValidationRunInput(BaseModel):
    gate: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="Default: all gates"
    )
    session_id: str | None = Field(default=None, max_length=64)


class RouteTaskInput(BaseModel):
    task: str
    # Links the decision to the session doing the task: its outcome is the route's outcome.
    session_id: str | None = None
    # "workflow/tier" the caller went with (after a suggestion or a choice); a different route
    # than recommended is recorded as an override.
    chosen: str | None = None

    # Bounds checked here, not in the schema: every session pays for tools/list in tokens.
    @field_validator("task")
    @classmethod
    def _task(cls, v: str) -> str:
        if not v.strip() or len(v) > 4000:
            raise ValueError("task: 1 to 4000 characters")
        return v

    @field_validator("session_id")
    @classmethod
    def _session(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", v):
            raise ValueError("session_id: a session id such as ses-20261125-ab12cd")
        return v

    @field_validator("chosen")
    @classmethod
    def _chosen(cls, v: str | None) -> str | None:
        if v is None:
            return v
        wf, _, tier = v.strip().lower().partition("/")
        if wf not in WORKFLOWS or tier not in ("small", "medium", "large"):
            raise ValueError(
                "chosen: 'workflow/tier', workflow one of research, plan, implement, review and "
                "tier one of small, medium, large (e.g. 'plan/large')"
            )
        return f"{wf}/{tier}"
