"""Text an assistant wrote, made safe to show a person deciding on it.

Terminal escape sequences (`\\x1b[2K\\x1b[G` to erase a line, OSC title changes), carriage returns
and bidirectional overrides can hide or reorder what is being approved in a terminal or a page.
`visible` keeps every character the assistant wrote but shows the invisible ones as escapes, so a
person sees exactly what was sent.
"""

from __future__ import annotations

import unicodedata

# Bidi controls (Trojan Source) and other format characters that change how text reads.
_FORMAT = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"}
_FORMAT |= {chr(c) for c in range(0x202A, 0x202F)} | {chr(c) for c in range(0x2066, 0x206A)}


def _shown(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, keep_newlines: bool = True) -> str:
    """Every control, format and bidi character shown as a `\\xNN`/`\\uNNNN` escape; a literal
    backslash stays as it is. Newlines are kept (or shown as `\\n` with keep_newlines=False);
    tabs are kept."""
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines or ch == "\t":
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch in _FORMAT or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            out.append(_shown(ch))
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: str, limit: int = 200) -> str:
    """`visible` for a table cell or a list row: newlines shown, cut to `limit` characters."""
    shown = visible(text, keep_newlines=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
