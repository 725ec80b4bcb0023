"""Exchange learnings with the methodology's own tooling: Markdown files in a project's `.agents/`.

Each learning is a Markdown file with front matter (`type: learning`, `maturity`, `confidence`,
`date`, optionally `title` and `tags`) and a body. Import turns them into candidates (a person
still promotes them); export writes patterns back in the same shape.

The folder is someone else's and may be hostile, so import:
- refuses any file or folder that resolves outside the `.agents` folder (symlinks followed only
  to check where they lead), and `.agents` itself if it leads outside the project;
- reads only regular files (no FIFOs or devices that would block), at most `max_file_bytes` each
  and `max_files` in all;
- parses front matter with a small strict parser for the flat `key: value` subset instead of a
  YAML library: nothing is executed or expanded (no anchors, tags, multi-line values), and a
  construct outside the subset is reported with its line instead of being guessed at.
Every refusal is counted and reported with its reason; none stops the others.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from factorops.tools.kernel.errors import DomainError

from .model import Pattern, PatternCandidate

SOURCE = "agents"
MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 5000
LEARNING_TYPES = frozenset({"learning", "pattern", "anti-pattern"})
_MATURITY_FROM_STATUS = {"candidate": "provisional", "active": "established", "retired": "retired"}
_WORD_CONFIDENCE = {"low": 0.3, "medium": 0.5, "high": 0.8}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


class FrontMatterError(ValueError):
    """Front matter outside the supported subset; the message names the line."""


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split `---` front matter from the body. Values: strings, numbers, booleans, null, [lists].

    Strings may be bare or quoted ("..." with JSON escapes, '...' with '' for a quote). Anything
    else (indentation, `|`/`>` blocks, anchors, `{...}`, duplicate keys) is an error.
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r") != "---":
        raise FrontMatterError("line 1: front matter must start with '---'")
    data: dict[str, Any] = {}
    for i in range(1, len(lines)):
        line = lines[i].rstrip("\r")
        if line in ("---", "..."):
            return data, "\n".join(lines[i + 1 :])
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            raise FrontMatterError(f"line {i + 1}: nested or indented values are not supported")
        key, sep, raw = line.partition(":")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise FrontMatterError(f"line {i + 1}: expected 'key: value'")
        if key in data:
            raise FrontMatterError(f"line {i + 1}: duplicate key {key!r}")
        data[key] = _value(raw.strip(), i + 1)
    raise FrontMatterError("front matter is not closed with '---'")


def _value(raw: str, line: int) -> Any:
    if raw == "" or raw in ("~", "null"):
        return None
    if raw in ("true", "false"):
        return raw == "true"
    if _NUMBER.match(raw):
        return float(raw) if "." in raw else int(raw)
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise FrontMatterError(f"line {line}: badly quoted string") from None
        if not isinstance(value, str):
            raise FrontMatterError(f"line {line}: badly quoted string")
        return value
    if raw.startswith("'"):
        if len(raw) < 2 or not raw.endswith("'") or "'" in raw[1:-1].replace("''", ""):
            raise FrontMatterError(f"line {line}: badly quoted string")
        return raw[1:-1].replace("''", "'")
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise FrontMatterError(f"line {line}: a list must be on one line: [a, b]")
        inner = raw[1:-1].strip()
        if not inner:
            return []
        items = [_value(part.strip(), line) for part in _split_list(inner, line)]
        if any(isinstance(x, list) for x in items):
            raise FrontMatterError(f"line {line}: nested lists are not supported")
        return items
    if raw[0] in "{&*!|>%@`":
        raise FrontMatterError(f"line {line}: {raw[0]!r} values are not supported; quote the text")
    if " #" in raw:
        raw = raw.split(" #", 1)[0].rstrip()  # a trailing comment
    return raw


def _split_list(inner: str, line: int) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    quote = ""
    for ch in inner:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch == ",":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if quote:
        raise FrontMatterError(f"line {line}: unclosed quote in list")
    parts.append("".join(buf))
    return parts


# ---------------------------------------------------------------------------------------------
# Import


class Skipped(BaseModel):
    path: str = Field(description="relative to the .agents folder")
    reason: str


class ImportReport(BaseModel):
    """Candidates found, and every file that was not imported with why."""

    candidates: list[PatternCandidate] = Field(default_factory=list)
    files_seen: int = 0
    imported: int = 0
    not_learnings: int = Field(default=0, description="valid files of another type (plans, notes)")
    refused: list[Skipped] = Field(
        default_factory=list, description="outside the folder, too big, not a file"
    )
    malformed: list[Skipped] = Field(default_factory=list, description="front matter or fields not valid")
    truncated: bool = Field(default=False, description="stopped at max_files")


def import_learnings(
    project_root: Path,
    folder: str = ".agents",
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_files: int = MAX_FILES,
) -> ImportReport:
    """Read every `*.md` learning under `<project_root>/<folder>` as a candidate."""
    if max_file_bytes < 1 or max_files < 1:
        raise DomainError("max_file_bytes" if max_file_bytes < 1 else "max_files", "must be at least 1")
    root = Path(project_root).resolve()
    agents = root / folder
    report = ImportReport()
    if not agents.exists() and not agents.is_symlink():
        return report
    real = agents.resolve()
    if not real.is_relative_to(root):
        raise DomainError("folder", f"{folder} resolves outside the project ({real}); refusing to read it")
    if not real.is_dir():
        raise DomainError("folder", f"{folder} is not a folder")
    for dirpath, dirnames, filenames in os.walk(
        real, followlinks=False, onerror=lambda e: _walk_error(report, real, e)
    ):
        base = Path(dirpath)
        for d in list(dirnames):
            p = base / d
            if p.is_symlink():
                dirnames.remove(d)
                report.refused.append(Skipped(path=_rel(p, real), reason="symlinked folder, not followed"))
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".md"):
                continue
            if report.files_seen >= max_files:
                report.truncated = True
                return report
            report.files_seen += 1
            _import_one(base / name, real, max_file_bytes, report)
    return report


def _walk_error(report: ImportReport, real: Path, exc: OSError) -> None:
    where = _rel(Path(exc.filename), real) if exc.filename else "."
    report.refused.append(Skipped(path=where, reason=f"cannot read ({exc.strerror})"))


def _rel(p: Path, base: Path) -> str:
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return p.name


def _import_one(path: Path, real_root: Path, cap: int, report: ImportReport) -> None:
    rel = _rel(path, real_root)
    target = path.resolve()
    if not target.is_relative_to(real_root):
        report.refused.append(Skipped(path=rel, reason="resolves outside the .agents folder"))
        return
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        report.refused.append(Skipped(path=rel, reason=f"cannot open ({exc.strerror})"))
        return
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            report.refused.append(Skipped(path=rel, reason="not a regular file"))
            return
        if st.st_size > cap:
            report.refused.append(Skipped(path=rel, reason=f"larger than {cap} bytes"))
            return
        raw = f.read(cap + 1)
    if len(raw) > cap:
        report.refused.append(Skipped(path=rel, reason=f"larger than {cap} bytes"))
        return
    try:
        meta, body = parse_front_matter(raw.decode("utf-8"))
    except UnicodeDecodeError:
        report.malformed.append(Skipped(path=rel, reason="not UTF-8 text"))
        return
    except FrontMatterError as exc:
        report.malformed.append(Skipped(path=rel, reason=str(exc)))
        return
    kind = meta.get("type")
    if kind not in LEARNING_TYPES:
        report.not_learnings += 1
        return
    try:
        report.candidates.append(_candidate(meta, body, rel))
    except (ValueError, ValidationError) as exc:
        msg = exc.errors(include_url=False)[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        report.malformed.append(Skipped(path=rel, reason=msg))
        return
    report.imported += 1


def _confidence(value: Any) -> float:
    if value is None:
        return 0.5
    if isinstance(value, bool):
        raise ValueError("confidence must be a number in [0, 1] or low/medium/high")
    if isinstance(value, int | float):
        v = float(value)
        if 1 < v <= 100:
            v /= 100  # a percentage
        if 0 <= v <= 1:
            return v
    if isinstance(value, str) and value.lower() in _WORD_CONFIDENCE:
        return _WORD_CONFIDENCE[value.lower()]
    raise ValueError("confidence must be a number in [0, 1] or low/medium/high")


def _date(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise ValueError(f"date {text!r} is not an ISO date (YYYY-MM-DD)") from None


def _sections(body: str) -> tuple[str, str, str | None]:
    """(problem, solution, title from a leading '# heading')."""
    text = body.strip()
    title = None
    first, _, rest = text.partition("\n")
    if first.startswith("# "):
        title, text = first[2:].strip(), rest.strip()
    parts = re.split(r"(?m)^## +(Problem|Solution)\s*$", text)
    if len(parts) >= 3:
        found = {parts[i].lower(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        return found.get("problem", ""), found.get("solution", ""), title
    return "", text, title


def _candidate(meta: dict[str, Any], body: str, rel: str) -> PatternCandidate:
    problem, solution, heading = _sections(body)
    title = meta.get("title") or heading or Path(rel).stem.replace("-", " ").replace("_", " ")
    tags = meta.get("tags") or []
    if not isinstance(tags, list):
        tags = [tags]
    tags = [str(t) for t in tags]
    maturity = meta.get("maturity")
    if maturity is not None:
        tags.append(f"maturity:{maturity}")
    when = _date(meta.get("date"))
    if when:
        tags.append(f"date:{when}")
    kind: Literal["pattern", "anti-pattern"] = (
        "anti-pattern" if meta.get("type") == "anti-pattern" else "pattern"
    )
    return PatternCandidate(
        title=str(title)[:200],
        kind=kind,
        problem=problem[:4000],
        solution=solution[:4000],
        tags=list(dict.fromkeys(tags))[:20],
        confidence=_confidence(meta.get("confidence")),
        source=SOURCE,
    )


# ---------------------------------------------------------------------------------------------
# Export


def render_learning(p: PatternCandidate | Pattern, now: datetime) -> str:
    """One pattern as a `.agents` learning file; `import_learnings` reads it back unchanged."""
    tags = [t for t in p.tags if not t.startswith(("maturity:", "date:"))]
    maturity = next((t.split(":", 1)[1] for t in p.tags if t.startswith("maturity:")), None)
    if maturity is None:
        maturity = _MATURITY_FROM_STATUS.get(getattr(p, "status", "candidate"), "provisional")
    when = next((t.split(":", 1)[1] for t in p.tags if t.startswith("date:")), None)
    if when is None:
        stamp = getattr(p, "updated", None) or now
        when = stamp.date().isoformat()
    lines = [
        "---",
        f"type: {'anti-pattern' if p.kind == 'anti-pattern' else 'learning'}",
        f"title: {json.dumps(p.title, ensure_ascii=False)}",
        f"maturity: {json.dumps(maturity, ensure_ascii=False)}",
        f"confidence: {round(p.confidence, 3)}",
        f"date: {when}",
        f"tags: {json.dumps(tags, ensure_ascii=False)}",
    ]
    if isinstance(p, Pattern):
        lines.append(f"id: {json.dumps(p.id)}")
    lines += ["source: factorops", "---", "", f"# {p.title}", ""]
    if p.problem.strip():
        lines += ["## Problem", "", p.problem.strip(), "", "## Solution", "", p.solution.strip(), ""]
    else:
        lines += [p.solution.strip(), ""]
    return "\n".join(lines)


def _slug(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s[:60].rstrip("-") or "learning"


def export_learnings(
    patterns: list[PatternCandidate] | list[Pattern], dest: Path, now: datetime
) -> list[Path]:
    """Write each pattern to `dest/<slug>.md` (a numeric suffix when slugs collide).

    Refuses to write through a symlink, so an export cannot be redirected outside `dest`.
    """
    dest = Path(dest)
    if dest.is_symlink():
        raise DomainError("dest", f"{dest} is a symlink; export into a real folder")
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for p in patterns:
        base = _slug(p.title)
        name = base
        n = 2
        while name in used:
            name = f"{base}-{n}"
            n += 1
        used.add(name)
        path = dest / f"{name}.md"
        if path.is_symlink():
            raise DomainError("dest", f"{path} is a symlink; refusing to write through it")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render_learning(p, now))
        written.append(path)
    return written
