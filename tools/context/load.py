"""`context_load` and `count_tokens` (Factors II, III): the smallest useful context, under budget.

Quality drops as a context window fills, so the default budget keeps the assistant's total use
(what it already holds plus this load) under 40% of its window. Within the budget: explicit paths
first, then files ranked for the task (tools/context_rank.py). A file too big for what is left
comes as an outline (definitions with line numbers) or its most relevant line ranges, never cut
mid-line. Everything left out is listed with its token cost, so the assistant can ask for it.

Nothing outside the project root is read (symlinks resolved) and secrets never enter a load:
secret files are excluded and token-like values redacted, and the manifest says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from factorops.store.store import Store
from factorops.tools.flywheel import inject as flywheel
from factorops.tools.kernel import paths as path_guard
from factorops.tools.kernel import redact as secrets
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.tokens import DEFAULT_ENCODING, SUPPORTED_ENCODINGS, count_tokens

from . import files as project_files
from . import outline as outline_mod
from .index import Entry, Symbols, refresh
from .rank import rank

CONTEXT_SHARE = 0.40  # keep total window use under this share
MAX_BUDGET = 2_000_000
RELEVANCE_CUT = 0.25  # load files scoring at least this share of the best match
MIN_FILES = 2  # and the best two in any case
WHOLE_CUT = 0.6  # files scoring this share of the best come whole, the others as outlines
MAX_WHOLE = 3
MAX_FILES = 12
MAX_LEFT_OUT = 10  # the manifest is context too: list only the next best

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


class ContextItem(CompactModel):
    path: str
    lines: str  # "1-120", or "outline", or "10-40,88-120"
    tokens: int
    mode: Literal["full", "outline", "ranges"]
    why: str
    redactions: int | None = None


class LeftOut(CompactModel):
    path: str
    tokens: int
    why: str


class ContextLoadResult(CompactModel):
    budget_tokens: int
    tokens: int
    items: list[ContextItem] = Field(default_factory=list)
    left_out: list[LeftOut] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list, description="secret files never loaded")
    warnings: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list, description="ids of learned patterns included")
    content: str = ""


class TokenCount(CompactModel):
    path: str | None = None
    tokens: int


class CountTokensResult(CompactModel):
    encoding: str
    total: int
    counts: list[TokenCount] = Field(default_factory=list)


# -- the index -------------------------------------------------------------------------------------


ProgressFn = Callable[[int, int, str], None]
_UNINDEXABLE: set[str] = set()


def ensure_index(store: Store, progress: ProgressFn | None = None) -> None:
    """Refresh the repository index against the working tree (incremental; cheap when warm)."""
    root = store.datadir.root
    listing = project_files.list_files(root)
    entries = [
        Entry(f.path, f.content_id, f.size, f.mtime)
        for f in listing.files
        if f.content_id not in _UNINDEXABLE
    ]

    def read(rel: str) -> str | None:
        try:
            path = path_guard.project_file(root, rel)  # whole path: inside the root, not a secret
            if path.stat().st_size > project_files.MAX_FILE_BYTES:
                return None
            data = path.read_bytes()
        except (OSError, path_guard.PathRefused):
            return None
        if b"\0" in data[:8192]:
            return None  # binary
        text = data.decode("utf-8", errors="replace")
        return None if secrets.is_secret_content(text) else text  # a key file, kubeconfig, tfstate

    def symbols_of(rel: str, text: str) -> Symbols:
        defs, refs = outline_mod.symbols(rel, text)
        return Symbols(defs=defs, refs=refs)

    stats = refresh(store.db, entries, read, symbols_of, progress=progress)
    # Binary or huge files are remembered by content id so they are not re-read on every load.
    ids = {e.path: e.content_id for e in entries}
    _UNINDEXABLE.update(ids[p] for p in stats.skipped if p in ids)


# -- context_load ----------------------------------------------------------------------------------


def _session_files(store: Store, session_id: str | None) -> list[str]:
    if session_id is None:
        row = store.db.execute(
            "SELECT id FROM sessions WHERE status = 'open' ORDER BY updated_at DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return []
        session_id = row[0]
    import json

    files: list[str] = []
    for (ft,) in store.db.execute(
        "SELECT files_touched FROM checkpoints WHERE session_id = ? ORDER BY seq DESC LIMIT 5", [session_id]
    ).fetchall():
        files.extend(json.loads(ft))
    return list(dict.fromkeys(files))


def _budget(inp: ContextLoadInput, warnings: list[str]) -> int:
    limit = int(inp.window_tokens * CONTEXT_SHARE)
    share = inp.used_tokens / inp.window_tokens
    if inp.used_tokens >= limit:
        warnings.append(
            f"your context is already {share:.0%} full (over the 40% rule): save a checkpoint "
            "(checkpoint_save) and continue in a fresh session (session_resume) instead of loading more"
        )
    if inp.budget_tokens is not None:
        if inp.used_tokens + inp.budget_tokens > limit:
            warnings.append(
                f"budget_tokens={inp.budget_tokens} takes total use past 40% of window_tokens ({limit} tokens)"
            )
        return inp.budget_tokens
    return max(0, limit - inp.used_tokens)


def load(
    store: Store, inp: ContextLoadInput, now: datetime, progress: ProgressFn | None = None
) -> ContextLoadResult:
    root = store.datadir.root
    warnings: list[str] = []
    budget = _budget(inp, warnings)
    explicit: list[str] = []
    for raw in inp.paths:
        resolved = path_guard.resolve_inside(root, raw)
        if not resolved.is_file():
            raise DomainError("paths", f"{raw!r} is not a file in the project")
        explicit.append(resolved.relative_to(root.resolve()).as_posix())
    explicit = list(dict.fromkeys(explicit))
    ensure_index(store, progress)

    cochange = project_files.cochange(root, explicit) if explicit else {}
    ranked = rank(store.db, inp.task, explicit, _session_files(store, inp.session_id), cochange)
    # The budget is a ceiling, not a target: only files close to the best match are loaded; the
    # next ones are listed as left out, with their cost, for the assistant to ask for.
    top = ranked[0].score if ranked else 0.0
    chosen = [r for i, r in enumerate(ranked) if i < MIN_FILES or r.score >= RELEVANCE_CUT * top][:MAX_FILES]
    # (path, why, whole file wanted): explicit paths and the strongest matches come whole; the
    # rest come as outlines (a repo map), which is usually enough to know whether to ask for more.
    candidates: list[tuple[str, str, bool]] = [(p, "given in paths", True) for p in explicit]
    candidates += [
        (r.path, "; ".join(r.reasons) or "ranked for the task", i < MAX_WHOLE and r.score >= WHOLE_CUT * top)
        for i, r in enumerate(chosen)
    ]
    runners_up = [r for r in ranked if r not in chosen][:MAX_LEFT_OUT]

    result = ContextLoadResult(budget_tokens=budget, tokens=0, warnings=warnings)
    parts: list[str] = []
    remaining = budget
    terms = inp.task
    for path, why, whole in candidates:
        if secrets.is_secret_path(path):
            result.excluded.append(path)
            continue
        try:  # the whole path again, at read time: a directory may have become a link since indexing
            real = path_guard.project_file(root, path)
        except path_guard.PathRefused as exc:
            if exc.secret:
                result.excluded.append(path)
            continue
        row = store.db.execute("SELECT tokens, lines FROM repo_files WHERE path = ?", [path]).fetchone()
        text = _read(real)
        if text is None:
            continue
        if secrets.is_secret_content(text):  # a credential whatever its name: skipped whole
            result.excluded.append(path)
            continue
        full_tokens = int(row[0]) if row else count_tokens(text)
        header_cost = 20
        if remaining <= header_cost:
            result.left_out.append(LeftOut(path=path, tokens=full_tokens, why="budget exhausted"))
            continue
        clean, redactions = secrets.redact(text)
        n_red = sum(redactions.values())
        block: str | None = None
        item: ContextItem | None = None
        sketch = "" if whole else outline_mod.outline(path, clean)
        sketch_tokens = count_tokens(sketch) if sketch else 0
        if not whole and sketch and sketch_tokens < full_tokens and sketch_tokens + header_cost <= remaining:
            block = sketch
            item = ContextItem(
                path=path,
                lines="outline",
                tokens=0,
                mode="outline",
                why=f"{why}; outline ({full_tokens} tokens whole)",
            )
        elif full_tokens + header_cost <= remaining:
            nlines = clean.count("\n") + (0 if clean.endswith("\n") else 1)
            block, item = clean, ContextItem(path=path, lines=f"1-{nlines}", tokens=0, mode="full", why=why)
        else:
            sketch = sketch or outline_mod.outline(path, clean)
            sketch_tokens = count_tokens(sketch) if sketch else 0
            if sketch and sketch_tokens + header_cost <= remaining:
                block = sketch
                item = ContextItem(
                    path=path,
                    lines="outline",
                    tokens=0,
                    mode="outline",
                    why=f"{why}; too big ({full_tokens} tokens): outline",
                )
            else:
                picked = outline_mod.relevant_ranges(clean, terms, remaining - header_cost)
                if picked is not None:
                    block, spans = picked
                    item = ContextItem(
                        path=path,
                        lines=spans,
                        tokens=0,
                        mode="ranges",
                        why=f"{why}; too big ({full_tokens} tokens): most relevant lines",
                    )
        if block is None or item is None:
            result.left_out.append(LeftOut(path=path, tokens=full_tokens, why=f"does not fit ({why})"))
            continue
        header = f"=== {path} [{item.lines}] ===\n"
        chunk = header + block + ("" if block.endswith("\n") else "\n")
        cost = count_tokens(chunk)
        if cost > remaining:
            result.left_out.append(LeftOut(path=path, tokens=full_tokens, why=f"does not fit ({why})"))
            continue
        item.tokens = cost
        item.redactions = n_red or None
        if n_red:
            result.warnings.append(f"{path}: {n_red} secret-looking value(s) redacted")
        result.items.append(item)
        parts.append(chunk)
        remaining -= cost
    for r in runners_up:
        if secrets.is_secret_path(r.path):
            continue
        row = store.db.execute("SELECT tokens FROM repo_files WHERE path = ?", [r.path]).fetchone()
        result.left_out.append(
            LeftOut(
                path=r.path,
                tokens=int(row[0]) if row else 0,
                why="less relevant: " + ("; ".join(r.reasons) or "related"),
            )
        )
    result.left_out = result.left_out[:MAX_LEFT_OUT]
    if remaining >= 100:  # the flywheel: what this project learned about such tasks, if it fits
        shown = flywheel.relevant(store, inp.task, now, budget=min(300, remaining - 40))
        if shown:
            block = "=== learned patterns ===\n" + "".join(f"- {p.title}: {p.advice}\n" for p in shown)
            cost = count_tokens(block)
            if cost <= remaining:
                parts.append(block)
                remaining -= cost
                result.patterns = [p.id for p in shown]
                flywheel.record_shown(store, inp.session_id, shown, "context_load", now)
    result.tokens = budget - remaining
    result.content = "".join(parts)
    if result.excluded:
        result.warnings.append(f"{len(result.excluded)} secret file(s) excluded")
    return result


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


# -- count_tokens ----------------------------------------------------------------------------------


def count(store: Store, inp: CountTokensInput, now: datetime) -> CountTokensResult:
    if inp.encoding not in SUPPORTED_ENCODINGS:
        raise DomainError("encoding", f"use one of {', '.join(SUPPORTED_ENCODINGS)}")
    if inp.text is None and not inp.paths:
        raise DomainError("text", "give text or paths to count")
    from .index import cached_count

    out = CountTokensResult(encoding=inp.encoding, total=0)
    if inp.text is not None:
        n = count_tokens(inp.text, inp.encoding)
        out.counts.append(TokenCount(tokens=n))
        out.total += n
    root = store.datadir.root
    for raw in inp.paths:
        p = path_guard.resolve_inside(root, raw)
        rel = p.relative_to(root.resolve()).as_posix()
        if secrets.is_secret_path(rel) or secrets.is_secret_path(raw):
            raise DomainError("paths", f"{raw!r} looks like a secret file; it is never read")
        if not p.is_file():
            raise DomainError("paths", f"{raw!r} is not a file in the project")
        text = _read(p)
        if text is None:
            raise DomainError("paths", f"{raw!r} is binary or unreadable")
        cid = project_files.blob_id(p.read_bytes())
        n, _ = cached_count(store.db, cid, text, inp.encoding)
        out.counts.append(TokenCount(path=rel, tokens=n))
        out.total += n
    return out
