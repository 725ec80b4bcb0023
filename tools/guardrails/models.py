"""The pydantic forms of a guardrail check's input and outcome, as the `guardrail_check` tool takes
and the session checks return them. The matcher (`match.py`) works on plain data and converts at the
end, so the client hook, which runs it on every tool call, never imports pydantic. The MCP face
registers `guardrail_check` from `GuardrailCheckInput` at start-up, so this module stays light;
`check.py` (the store, the matcher, the shell parser) is imported on the tool's first call."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

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


def _bounded(max_len: int) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None and len(value) > max_len:
            raise ValueError(f"at most {max_len} characters (got {len(value)})")
        return value

    return AfterValidator(check)


def _paths(value: list[str]) -> list[str]:
    if len(value) > 200:
        raise ValueError(f"at most 200 paths (got {len(value)}); check large changes in batches")
    return value


class GuardrailCheckInput(BaseModel):
    action: Annotated[str, _bounded(2000), Field(description="What you are about to do")] = Field(
        default_factory=str
    )
    command: Annotated[str | None, _bounded(10_000)] = None
    paths: Annotated[list[str], AfterValidator(_paths)] = Field(default_factory=list)
