"""Builders for Claude Code transcripts in the two shapes the parser understands.

`NewFormat` writes content-block arrays (`text`, `tool_use`, `tool_result` with `is_error`) and
message usage; `OldFormat` writes plain-string content and tool outcomes as a top-level
`toolUseResult` dict with an exit code. Both return the line number of each record they write, so
tests can assert the `file:line` evidence the detectors report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class _Writer:
    def __init__(self, path: Path, session_id: str, cwd: str = "/home/u/proj") -> None:
        self.path = path
        self.session_id = session_id
        self.cwd = cwd
        self.lines: list[str] = []
        self._n = 0

    def raw(self, text: str) -> int:
        self.lines.append(text)
        return len(self.lines)

    def record(self, rec: dict[str, Any]) -> int:
        self._n += 1
        base = {
            "sessionId": self.session_id,
            "cwd": self.cwd,
            "gitBranch": "main",
            "timestamp": f"2026-11-25T12:{self._n // 60:02d}:{self._n % 60:02d}Z",
            "uuid": f"u{self._n}",
        }
        return self.raw(json.dumps({**base, **rec}))

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(line + "\n" for line in self.lines))
        return self.path


class NewFormat(_Writer):
    """Content-block arrays, as recent Claude Code versions write them."""

    def user(self, text: str) -> int:
        return self.record(
            {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": text}]}}
        )

    def say(self, text: str, context: int = 10_000) -> int:
        return self.record(
            {
                "type": "assistant",
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": text}],
                    "usage": {
                        "input_tokens": 100,
                        "cache_read_input_tokens": context - 100,
                        "cache_creation_input_tokens": 0,
                        "output_tokens": 50,
                    },
                },
            }
        )

    def _use(self, tool_id: str, name: str, inp: dict[str, Any]) -> int:
        return self.record(
            {
                "type": "assistant",
                "message": {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": tool_id, "name": name, "input": inp}],
                },
            }
        )

    def _result(self, tool_id: str, text: str, is_error: bool) -> int:
        return self.record(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": tool_id, "content": text, "is_error": is_error}
                    ],
                },
                "toolUseResult": {"stdout": text, "stderr": "", "interrupted": False},
            }
        )

    def bash(self, tool_id: str, command: str, output: str, ok: bool) -> tuple[int, int]:
        return self._use(tool_id, "Bash", {"command": command}), self._result(tool_id, output, not ok)

    def edit(self, tool_id: str, path: str) -> tuple[int, int]:
        return (
            self._use(tool_id, "Edit", {"file_path": path, "old_string": "a", "new_string": "b"}),
            self._result(tool_id, "The file has been updated.", False),
        )


class OldFormat(_Writer):
    """Plain-string content; tool outcomes as top-level `toolUseResult` with an exit code."""

    def user(self, text: str) -> int:
        return self.record({"type": "user", "message": {"role": "user", "content": text}})

    def say(self, text: str, context: int = 10_000) -> int:
        return self.record(
            {
                "type": "assistant",
                "message": {"role": "assistant", "content": text},
                "usage": {"input_tokens": context, "output_tokens": 20},
            }
        )

    def _use(self, tool_id: str, name: str, inp: dict[str, Any]) -> int:
        return self.record(
            {
                "type": "assistant",
                "message": {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": tool_id, "name": name, "input": inp}],
                },
            }
        )

    def bash(self, tool_id: str, command: str, output: str, ok: bool) -> tuple[int, int]:
        use = self._use(tool_id, "Bash", {"command": command})
        res = self.record(
            {
                "type": "user",
                "message": {"role": "user", "content": "[tool output]"},
                "toolUseID": tool_id,
                "toolUseResult": {
                    "stdout": output if ok else "",
                    "stderr": "" if ok else output,
                    "exitCode": 0 if ok else 1,
                },
            }
        )
        return use, res

    def edit(self, tool_id: str, path: str) -> tuple[int, int]:
        use = self._use(tool_id, "Write", {"file_path": path, "content": "x"})
        res = self.record(
            {
                "type": "user",
                "message": {"role": "user", "content": "[tool output]"},
                "toolUseResult": {"stdout": "ok", "exitCode": 0},
            }
        )
        return use, res
