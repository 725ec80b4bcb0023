"""What a `context_load` reply costs the assistant: the JSON it receives, counted whole.

The MCP face sends a tool result as structured content plus the same object as indented JSON text
(the SDK's `pydantic_core.to_json(result, indent=2)`). The model reads that text: content, manifest,
reasons, left-outs and warnings, escaped as JSON strings. So the budget is checked against exactly
that serialisation, not against the packed files alone.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

import pydantic_core
from pydantic import BaseModel

from factorops.tools.kernel.tokens import count_tokens

CONTEXT_SHARE = 0.40  # keep total window use under this share
DEFAULT_MAX_REPLY_CHARS = 50_000  # Claude Code saves longer tool results to a file (late 2026)
CHARS_PER_TOKEN = 3.2  # a conservative guess for code in JSON, to turn a character cap into tokens


class TextMemo:
    """Token counts of texts seen lately, bounded by their total characters.

    A load prices the same map lines and file blocks as the loads before it (the index, and so
    what a file's map line says, changes rarely), and BPE is most of a warm load's work: a count
    is looked up by the text itself, so a changed text is counted again and the answer is exact.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()  # loads run in worker threads

    def count(self, text: str) -> int:
        with self._lock:
            n = self._counts.get(text)
            if n is not None:
                self._counts.move_to_end(text)
                return n
        n = count_tokens(text)
        if len(text) <= self.max_chars // 8:  # one huge text never flushes the rest
            with self._lock:
                if text not in self._counts:
                    self._counts[text] = n
                    self._chars += len(text)
                while self._chars > self.max_chars:
                    old, _ = self._counts.popitem(last=False)
                    self._chars -= len(old)
        return n


_MEMO = TextMemo(max_chars=8_000_000)


def string_cost(text: str) -> int:
    """Tokens a string costs once it sits inside the JSON reply (newlines and quotes escaped)."""
    return _MEMO.count(json.dumps(text, ensure_ascii=False)[1:-1]) if text else 0


def reply_text(result: BaseModel) -> str:
    """The tool result's text content, as the SDK builds it."""
    return pydantic_core.to_json(result, fallback=str, indent=2).decode()


def measure(result: BaseModel) -> tuple[int, int]:
    """(o200k tokens, characters) of the reply the client receives."""
    text = reply_text(result)
    return reply_tokens(text), len(text)


# Where o200k's pre-tokenizer always starts a new piece, whatever surrounds the cut:
# - after a newline followed by spaces and then neither whitespace nor "/": no piece can run on past
#   the newline (a run of punctuation takes trailing newlines and slashes; a whitespace run ending
#   in a newline stops at its last newline, and the next line has none before its first character);
# - between a lowercase "n" and "=": a piece holding a letter holds only letters after it.
# BPE never merges across pieces, so the count of the whole is the sum of the counts of the parts.
# The reply is cut before each of its top-level keys (a newline, the SDK's two-space indent and the
# key's quote: spaces then neither whitespace nor "/") and before each file block inside the
# JSON-escaped content (`\n=== path ...`).
_KEY_LINE = '\n  "'
_BLOCK = "\\n==="


def _cuts(text: str) -> list[int]:
    cuts: list[int] = []
    i = text.find(_KEY_LINE)
    while i != -1:
        cuts.append(i + 1)
        i = text.find(_KEY_LINE, i + 1)
    i = text.find(_BLOCK)
    while i != -1:
        cuts.append(i + 2)  # between the escape's "n" and "="
        i = text.find(_BLOCK, i + 2)
    return sorted(cuts)


def reply_tokens(text: str) -> int:
    """The exact o200k count of `text`, summed over parts cut where a piece always starts, each part
    counted once and remembered: consecutive replies of a load, and the loads after it, repeat most
    of their keys and file blocks (only the changed parts are counted again)."""
    total, start = 0, 0
    for cut in _cuts(text):
        total += _MEMO.count(text[start:cut])
        start = cut
    return total + _MEMO.count(text[start:])


def cap_tokens(max_reply_chars: int) -> int:
    """A token budget whose replies stay under `max_reply_chars` (the packer checks the characters too)."""
    return int(max_reply_chars / CHARS_PER_TOKEN)
