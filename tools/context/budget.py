"""What a `context_load` reply costs the assistant: the JSON it receives, counted whole.

The MCP face sends a tool result as structured content plus the same object as indented JSON text
(the SDK's `pydantic_core.to_json(result, indent=2)`). The model reads that text: content, manifest,
reasons, left-outs and warnings, escaped as JSON strings. So the budget is checked against exactly
that serialisation, not against the packed files alone.
"""

from __future__ import annotations

import json

import pydantic_core
from pydantic import BaseModel

from factorops.tools.kernel.tokens import count_tokens

CONTEXT_SHARE = 0.40  # keep total window use under this share
DEFAULT_MAX_REPLY_CHARS = 50_000  # Claude Code saves longer tool results to a file (late 2026)
CHARS_PER_TOKEN = 3.2  # a conservative guess for code in JSON, to turn a character cap into tokens


def reply_text(result: BaseModel) -> str:
    """The tool result's text content, as the SDK builds it."""
    return pydantic_core.to_json(result, fallback=str, indent=2).decode()


def measure(result: BaseModel) -> tuple[int, int]:
    """(o200k tokens, characters) of the reply the client receives."""
    text = reply_text(result)
    return count_tokens(text), len(text)


def string_cost(text: str) -> int:
    """Tokens a string costs once it sits inside the JSON reply (newlines and quotes escaped)."""
    return count_tokens(json.dumps(text, ensure_ascii=False)[1:-1]) if text else 0


def cap_tokens(max_reply_chars: int) -> int:
    """A token budget whose replies stay under `max_reply_chars` (the packer checks the characters too)."""
    return int(max_reply_chars / CHARS_PER_TOKEN)
