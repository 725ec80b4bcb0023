"""The pydantic forms of a guardrail check's outcome, as the `guardrail_check` tool and the session
checks return them. The matcher (`match.py`) works on plain data and converts at the end, so the
client hook, which runs it on every tool call, never imports pydantic."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from factorops.tools.kernel.compact import CompactModel

Decision = Literal["allow", "warn", "block"]


class GuardrailHit(CompactModel):
    """One rule that matched, as the `guardrail_check` tool's result lists it (`id` is empty for a
    rule that is not a stored pattern, e.g. a built-in session check)."""

    id: str = ""
    title: str
    effect: Literal["warn", "block"]
    why: str


class GuardrailDecision(BaseModel):
    """The outcome of a check: the strictest effect of the matches (allow when none)."""

    decision: Decision
    matches: list[GuardrailHit] = Field(default_factory=list)
