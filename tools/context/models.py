"""The context tools' inputs (Factor II): the one description of their arguments, light to import.

The MCP face registers `context_load` and `count_tokens` from these models at start-up (tools/list
needs their schemas), so this module imports pydantic and nothing of the pipeline; `load` (the
implementation, with the index, the ranking and tree-sitter) is imported on a tool's first call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from factorops.tools.kernel.tokens import DEFAULT_ENCODING

MAX_BUDGET = 2_000_000

PathArg = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ContextLoadInput(BaseModel):
    task: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    paths: list[PathArg] = Field(default_factory=list, max_length=50, description="Files to include first")
    budget_tokens: int | None = Field(default=None, ge=1, le=MAX_BUDGET, description="Default: 40% rule")
    window_tokens: int = Field(default=200_000, ge=1_000, le=10_000_000)
    used_tokens: int = Field(default=0, ge=0, le=10_000_000, description="Tokens already in your context")
    session_id: str | None = Field(default=None, max_length=64)


class CountTokensInput(BaseModel):
    text: str | None = Field(default=None, max_length=5_000_000)
    paths: list[PathArg] = Field(default_factory=list, max_length=200)
    encoding: Literal["o200k_base", "cl100k_base"] = DEFAULT_ENCODING
