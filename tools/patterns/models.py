"""The pattern tools' inputs (Factors IX, XII): the one description of their arguments, light to import.

The MCP face registers `pattern_record`, `patterns_search` and `patterns_mine` from these models at
start-up (tools/list needs their schemas), so this module imports pydantic and the record's shape
(`model.py`) only; `records`, `search` and `mining` (the implementations) are imported on a tool's
first call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .model import PatternKind, PatternStatus

# Bounds are checked by validators rather than JSON-schema keywords: every assistant pays for the
# tools/list schema in tokens on every session, and `maxLength: 4000` tells a model nothing useful.


def _text(max_len: int, min_len: int = 0) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if len(value) < min_len:
            raise ValueError("must not be empty")
        if len(value) > max_len:
            raise ValueError(f"at most {max_len} characters (got {len(value)})")
        return value

    return AfterValidator(check)


def _items(max_items: int) -> AfterValidator:
    def check(value: list[str]) -> list[str]:
        if len(value) > max_items:
            raise ValueError(f"at most {max_items} items (got {len(value)})")
        return value

    return AfterValidator(check)


def _range(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return AfterValidator(check)


def _unit() -> AfterValidator:
    def check(value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError("must be between 0 and 1")
        return value

    return AfterValidator(check)


Tag = Annotated[str, _text(50, 1)]
Glob = Annotated[str, _text(300, 1)]
Ref = Annotated[str, _text(200, 1)]


class PatternRecordInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str | None, Field(description="To update")] = None
    title: Annotated[str, _text(200, 1)]
    kind: PatternKind = "pattern"
    problem: Annotated[str, _text(4000)] = Field(default_factory=str)
    solution: Annotated[str, _text(4000), Field(description="Or the rule")] = Field(default_factory=str)
    tags: Annotated[list[Tag], _items(20)] = Field(default_factory=list)
    scope: Annotated[list[Glob], _items(50), Field(description="Path globs")] = Field(default_factory=list)
    evidence: Annotated[list[Ref], _items(50), Field(description="Session ids, commits")] = Field(
        default_factory=list
    )
    confidence: Annotated[float, _unit()] = 0.5
    match: Annotated[str | None, _text(500, 1), Field(description="Guardrail: command regex")] = None
    effect: Literal["warn", "block"] = "warn"


class PatternsSearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, _text(500)] = Field(default_factory=str)
    kind: PatternKind | None = None
    tags: Annotated[list[Tag], _items(10)] = Field(default_factory=list)
    paths: Annotated[list[Glob], _items(20)] = Field(default_factory=list)
    status: PatternStatus | None = None
    limit: Annotated[int, _range(1, 50)] = 5
    budget_tokens: Annotated[int, _range(50, 20_000)] = 800


Source = Literal["git", "sessions"]


def _since(value: str | None) -> str | None:
    if value is not None and (len(value) > 40 or not value.strip() or value.startswith("-")):
        raise ValueError("give a date such as 2026-01-01 or '3 months ago' (at most 40 characters)")
    return value


def _sources(value: list[Source]) -> list[Source]:
    if not value:
        raise ValueError("give at least one of git, sessions")
    return list(dict.fromkeys(value))


class PatternsMineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: Annotated[list[Source], AfterValidator(_sources)] = ["git", "sessions"]
    since: Annotated[str | None, AfterValidator(_since), Field(description="git date")] = None
