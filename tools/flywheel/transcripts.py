"""Read Claude Code session transcripts (JSON lines) as typed events, streaming and tolerant.

Claude Code writes each session to `~/.claude/projects/<project path, "/" -> "-">/<session>.jsonl`.
The format is undocumented and changes between versions, and a file may be mid-write when we read
it, so the reader:

- goes line by line and never holds a file in memory (a line above `max_line_bytes` is skipped
  without being read whole), so memory stays flat however big the history is;
- skips record types it does not know and counts every line it cannot use (bad JSON, not an
  object, too big): a transcript never makes mining fail;
- understands two shapes of the same facts: the newer one (`message.content` as a list of `text`,
  `tool_use`, `tool_result` blocks) and the older one (`message.content` as a plain string, a tool's
  outcome as a top-level `toolUseResult`);
- resumes: files are append-only, so a remembered (size, offset, line, mtime, inode) lets the next
  scan read only what was appended. A last line without its newline is left for the next scan
  unless it already parses (a writer may still be writing it). A file that shrank, was replaced
  (new inode) or no longer ends a line at the remembered offset is read again from the start.

Events are slotted dataclasses rather than pydantic models on purpose: a large history holds
millions of them and they never cross a tool boundary; the state and the counts, which do, are
pydantic models.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, Field

from factorops.tools.kernel.errors import DomainError

MAX_LINE_BYTES = 1 << 20
"""Lines above this (1 MiB) are counted as `huge` and skipped: a pasted log or an image, not a fact."""

_RESULT_TEXT_CAP = 4000
"""Tool output kept per result: enough for an error line and an excerpt, never a whole log."""

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit", "str_replace_based_edit_tool"})
"""Tools whose use changes files; what counts as "a change" for the detectors."""

Role = Literal["user", "assistant"]


@dataclass(slots=True)
class Text:
    """Prose from the person or the assistant. `meta` marks text the client injected itself."""

    line: int
    session_id: str
    timestamp: str | None
    role: Role
    text: str
    meta: bool = False
    sidechain: bool = False


@dataclass(slots=True)
class ToolUse:
    """The assistant calling a tool; `command` is set for shell tools, `paths` for file tools."""

    line: int
    session_id: str
    timestamp: str | None
    id: str
    name: str
    command: str | None = None
    paths: list[str] = field(default_factory=list)
    sidechain: bool = False

    @property
    def is_edit(self) -> bool:
        return self.name in EDIT_TOOLS


@dataclass(slots=True)
class ToolResult:
    """What a tool returned. `tool_use_id` may be empty when an old record did not link it."""

    line: int
    session_id: str
    timestamp: str | None
    tool_use_id: str
    is_error: bool
    text: str
    sidechain: bool = False


@dataclass(slots=True)
class Usage:
    """Token counts of one assistant turn; `context` is what the window held for that turn."""

    line: int
    session_id: str
    timestamp: str | None
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    output_tokens: int
    sidechain: bool = False

    @property
    def context(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


@dataclass(slots=True)
class Meta:
    """Where the session ran, from the first record that says so (and again if it changes)."""

    line: int
    session_id: str
    timestamp: str | None
    cwd: str | None
    git_branch: str | None
    version: str | None


@dataclass(slots=True)
class Note:
    """A `summary` record or a `system` record (compaction boundaries, hook output)."""

    line: int
    session_id: str
    timestamp: str | None
    kind: Literal["summary", "system"]
    text: str
    subtype: str | None = None


Event = Text | ToolUse | ToolResult | Usage | Meta | Note


class TranscriptState(BaseModel):
    """Where the last scan of one file stopped; keep it between runs to read only what is new."""

    size: int = Field(default=0, ge=0, description="file size when last scanned")
    offset: int = Field(default=0, ge=0, description="byte offset of the first unread line")
    line: int = Field(default=0, ge=0, description="lines consumed so far")
    mtime_ns: int = 0
    inode: int = 0


class ScanStats(BaseModel):
    """What a scan read and what it could not use; bad input is counted here, never raised."""

    lines: int = 0
    records: int = 0
    events: int = 0
    bad_json: int = 0
    not_object: int = 0
    huge: int = 0
    pending_tail: int = Field(default=0, description="an unfinished last line left for the next scan")
    unknown_types: dict[str, int] = Field(default_factory=dict)
    bytes_read: int = 0
    restarted: bool = Field(default=False, description="the file was replaced or shrank: read again")
    unchanged: bool = Field(default=False, description="nothing new since the remembered state")

    def add(self, other: ScanStats) -> None:
        """Sum another file's counts into these (for a whole-project report)."""
        for name in ("lines", "records", "events", "bad_json", "not_object", "huge", "pending_tail"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bytes_read += other.bytes_read
        for k, v in other.unknown_types.items():
            self.unknown_types[k] = self.unknown_types.get(k, 0) + v


# ---------------------------------------------------------------------------------------------
# Locating transcripts


def default_base_dir() -> Path:
    return Path.home() / ".claude" / "projects"


def project_dir_names(project_root: Path) -> list[str]:
    """The folder names Claude Code may have used for a project, most likely first.

    The documented rule replaces "/" with "-"; newer versions also replace every other character
    that is not a letter, digit or "-" (so `/a/my.proj` becomes `-a-my-proj`). Both are tried.
    """
    raw = os.path.abspath(os.fspath(project_root))
    names: list[str] = []
    for p in dict.fromkeys([raw, os.path.realpath(raw)]):
        for name in (p.replace("/", "-"), re.sub(r"[^A-Za-z0-9-]", "-", p)):
            if name not in names:
                names.append(name)
    return names


def transcript_dir(project_root: Path, base_dir: Path | None = None) -> Path:
    """The transcript folder for a project: the first name that exists, else the documented one."""
    base = base_dir if base_dir is not None else default_base_dir()
    names = project_dir_names(project_root)
    for name in names:
        if (base / name).is_dir():
            return base / name
    return base / names[0]


def list_transcripts(project_root: Path, base_dir: Path | None = None) -> tuple[list[Path], list[str]]:
    """Every `*.jsonl` of a project, sorted, plus problems (unreadable folder) as messages.

    A missing folder is not a problem (the project simply has no transcripts yet).
    """
    folder = transcript_dir(project_root, base_dir)
    problems: list[str] = []
    try:
        with os.scandir(folder) as it:
            files = [
                Path(e.path) for e in it if e.name.endswith(".jsonl") and e.is_file(follow_symlinks=False)
            ]
    except FileNotFoundError:
        return [], problems
    except OSError as exc:
        problems.append(f"{folder}: cannot read the transcript folder ({exc.strerror})")
        return [], problems
    return sorted(files), problems


# ---------------------------------------------------------------------------------------------
# Reading


class TranscriptScan:
    """Iterate for events; once exhausted, `state` and `stats` describe the scan.

    Open with `scan(path, state)`. The file is opened lazily on the first `next()` and closed when
    iteration ends, so an abandoned scan leaks nothing but also saves no state.
    """

    def __init__(self, path: Path, state: TranscriptState | None, max_line_bytes: int) -> None:
        if max_line_bytes < 1024:
            raise DomainError("max_line_bytes", "must be at least 1024 bytes; the default is 1 MiB")
        self.path = path
        self.previous = state
        self.max_line_bytes = max_line_bytes
        self.session_id = path.stem
        self.state = state.model_copy() if state is not None else TranscriptState()
        self.stats = ScanStats()
        self._last_meta: tuple[str | None, str | None] | None = None

    def __iter__(self) -> Iterator[Event]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise DomainError("path", f"cannot read transcript {self.path}: {exc.strerror}") from None
        prev = self.state
        if prev.inode == st.st_ino and prev.size == st.st_size and prev.mtime_ns == st.st_mtime_ns:
            self.stats.unchanged = True
            return
        start_offset, start_line = prev.offset, prev.line
        if prev.inode and (prev.inode != st.st_ino or st.st_size < prev.offset):
            start_offset, start_line = 0, 0
            self.stats.restarted = True
        with open(self.path, "rb") as f:
            if start_offset and not _ends_line_at(f, start_offset):
                start_offset, start_line = 0, 0
                self.stats.restarted = True
            f.seek(start_offset)
            yield from self._read(f, start_offset, start_line)
        self.state.size = st.st_size
        self.state.mtime_ns = st.st_mtime_ns
        self.state.inode = st.st_ino

    def _read(self, f: BinaryIO, offset: int, line_no: int) -> Iterator[Event]:
        cap = self.max_line_bytes
        stats = self.stats
        while True:
            raw = f.readline(cap + 1)
            if not raw:
                break
            if len(raw) > cap and not raw.endswith(b"\n"):
                skipped, complete = _skip_rest_of_line(f)
                if not complete:  # a huge unfinished tail: wait for the writer to finish it
                    stats.pending_tail += 1
                    break
                line_no += 1
                offset += len(raw) + skipped
                stats.lines += 1
                stats.huge += 1
                stats.bytes_read += len(raw) + skipped
                continue
            complete = raw.endswith(b"\n")
            record = _decode(raw)
            if not complete and record is None:
                stats.pending_tail += 1
                break
            line_no += 1
            offset += len(raw)
            stats.lines += 1
            stats.bytes_read += len(raw)
            if record is None:
                if raw.strip():
                    stats.bad_json += 1
                continue
            if not isinstance(record, dict):
                stats.not_object += 1
                continue
            stats.records += 1
            for event in self._events(record, line_no):
                stats.events += 1
                yield event
            # saved per line so a consumer that stops early can still keep an exact position
            self.state.offset = offset
            self.state.line = line_no
        self.state.offset = offset
        self.state.line = line_no

    def _events(self, rec: dict[str, Any], line: int) -> Iterator[Event]:
        rtype = rec.get("type")
        sid = _str(rec.get("sessionId")) or _str(rec.get("session_id")) or self.session_id
        ts = _str(rec.get("timestamp"))
        cwd, branch = _str(rec.get("cwd")), _str(rec.get("gitBranch"))
        if (cwd or branch) and (cwd, branch) != self._last_meta:
            self._last_meta = (cwd, branch)
            yield Meta(line, sid, ts, cwd, branch, _str(rec.get("version")))
        if rtype in ("user", "assistant"):
            yield from _message_events(rec, rtype, line, sid, ts)
        elif rtype == "summary":
            yield Note(line, sid, ts, "summary", _clip(_str(rec.get("summary")) or ""))
        elif rtype == "system":
            text = _str(rec.get("content")) or _str(rec.get("text")) or ""
            yield Note(line, sid, ts, "system", _clip(text), _str(rec.get("subtype")))
        else:
            key = str(rtype)[:40] if rtype is not None else "(none)"
            unknown = self.stats.unknown_types
            if key in unknown or len(unknown) < 50:
                unknown[key] = unknown.get(key, 0) + 1


def scan(
    path: Path, state: TranscriptState | None = None, *, max_line_bytes: int = MAX_LINE_BYTES
) -> TranscriptScan:
    """Events appended to `path` since `state` (all of them when `state` is None)."""
    return TranscriptScan(Path(path), state, max_line_bytes)


def _ends_line_at(f: BinaryIO, offset: int) -> bool:
    """A resumed offset must sit just after a newline; otherwise the file was rewritten."""
    f.seek(offset - 1)
    return f.read(1) == b"\n"


def _skip_rest_of_line(f: BinaryIO) -> tuple[int, bool]:
    """Read past the rest of an over-long line in chunks; (bytes skipped, found its newline)."""
    skipped = 0
    while True:
        chunk = f.readline(1 << 16)
        if not chunk:
            return skipped, False
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            return skipped, True


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _clip(text: str, cap: int = _RESULT_TEXT_CAP) -> str:
    return text if len(text) <= cap else text[:cap]


def _message_events(rec: dict[str, Any], rtype: str, line: int, sid: str, ts: str | None) -> Iterator[Event]:
    side = rec.get("isSidechain") is True
    meta = rec.get("isMeta") is True or rec.get("isCompactSummary") is True
    msg = rec.get("message")
    role: Role = "assistant" if rtype == "assistant" else "user"
    content: Any = None
    if isinstance(msg, dict):
        content = msg.get("content")
        if msg.get("role") in ("user", "assistant"):
            role = msg["role"]
    elif isinstance(msg, str):  # some early records carry the text itself
        content = msg
    saw_result = False
    legacy = rec.get("toolUseResult")
    if isinstance(content, str):
        # with a top-level `toolUseResult` the string is the tool's output, not a person talking
        if content and legacy is None:
            yield Text(line, sid, ts, role, _clip(content), meta, side)
    elif isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text":
                text = _str(block.get("text"))
                if text:
                    yield Text(line, sid, ts, role, _clip(text), meta, side)
            elif btype == "tool_use":
                yield _tool_use(block, line, sid, ts, side)
            elif btype == "tool_result":
                saw_result = True
                yield ToolResult(
                    line,
                    sid,
                    ts,
                    _str(block.get("tool_use_id")) or "",
                    block.get("is_error") is True,
                    _clip(_result_text(block.get("content"))),
                    side,
                )
    if legacy is not None and not saw_result:
        yield _legacy_result(rec, legacy, line, sid, ts, side)
    usage = msg.get("usage") if isinstance(msg, dict) else None
    if not isinstance(usage, dict):
        usage = rec.get("usage")
    if isinstance(usage, dict) and role == "assistant":
        yield Usage(
            line,
            sid,
            ts,
            _int(usage.get("input_tokens")),
            _int(usage.get("cache_read_input_tokens")),
            _int(usage.get("cache_creation_input_tokens")),
            _int(usage.get("output_tokens")),
            side,
        )


def _tool_use(block: dict[str, Any], line: int, sid: str, ts: str | None, side: bool) -> ToolUse:
    name = _str(block.get("name")) or "?"
    inp = block.get("input")
    command: str | None = None
    paths: list[str] = []
    if isinstance(inp, dict):
        command = _str(inp.get("command")) if name not in EDIT_TOOLS else None
        for key in ("file_path", "notebook_path", "path"):
            p = _str(inp.get(key))
            if p:
                paths.append(p)
                break
    return ToolUse(line, sid, ts, _str(block.get("id")) or "", name, command, paths, side)


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
        return "\n".join(parts)
    return ""


def _legacy_result(
    rec: dict[str, Any], res: Any, line: int, sid: str, ts: str | None, side: bool
) -> ToolResult:
    """An old-style `toolUseResult`: a string ("Error: ...") or a dict of stdout/stderr/exit code."""
    link = _str(rec.get("toolUseID")) or _str(rec.get("sourceToolUseID")) or _str(rec.get("tool_use_id"))
    if isinstance(res, str):
        return ToolResult(line, sid, ts, link or "", res.lstrip().startswith("Error"), _clip(res), side)
    if isinstance(res, dict):
        link = link or _str(res.get("tool_use_id")) or _str(res.get("toolUseID"))
        code = res.get("exitCode", res.get("returncode", res.get("exit_code")))
        failed = (
            res.get("is_error") is True
            or res.get("isError") is True
            or (isinstance(code, int) and not isinstance(code, bool) and code != 0)
        )
        text = "\n".join(
            s for s in (_str(res.get("stdout")), _str(res.get("stderr")), _str(res.get("error"))) if s
        )
        return ToolResult(line, sid, ts, link or "", failed, _clip(text), side)
    return ToolResult(line, sid, ts, link or "", False, "", side)
