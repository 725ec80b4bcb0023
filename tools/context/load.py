"""`context_load` and `count_tokens` (Factors II, III): the smallest useful context, under budget.

Quality drops as a context window fills, so the default budget keeps the assistant's total use
(what it already holds plus this load) under 40% of its window, capped so the reply stays under
the size clients accept from a tool (`[context] max_reply_chars`). The budget covers the whole
reply the client receives (content, manifest, reasons, left-outs: budget.py). Within it: explicit
paths first and whole, then depth (the best matches whole, or their relevant whole definitions),
then breadth (a repo map: ranked paths with their most relevant signatures). Definitions are never
cut: a range is a whole function or class with its header.

Nothing outside the project root is read (symlinks resolved) and secrets never enter a load:
secret files are excluded and token-like values redacted, and the manifest says so.
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pydantic_core
from pydantic import BaseModel, Field

from factorops.store.store import Store
from factorops.tools.flywheel import inject as flywheel
from factorops.tools.flywheel.inject import InjectedPattern
from factorops.tools.kernel import config as kernel_config
from factorops.tools.kernel import paths as path_guard
from factorops.tools.kernel import redact as secrets
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.tokens import SUPPORTED_ENCODINGS, count_tokens

from . import files as project_files
from . import outline as outline_mod
from . import prefer, repo_map
from .budget import CHARS_PER_TOKEN, CONTEXT_SHARE, cap_tokens, measure, string_cost
from .build import ProgressFn, ensure_index, known_paths
from .history import HISTORIES
from .index import generation
from .models import ContextLoadInput, CountTokensInput
from .rank import PathIndex, Ranked, RefGraph, defined_terms, rank, task_terms
from .threads import COCHANGE, LISTING

if TYPE_CHECKING:
    from factorops.store.db import Database

WHOLE_CUT = 0.6  # after the best match, files scoring this share of it get depth too
MAX_DEEP = 3  # files loaded whole or as their relevant definitions
DEPTH_SHARE = 0.6  # of what is left after explicit paths; the rest goes to the repo map
SMALL_BUDGET = 1_500  # at or below: less depth, one signature per map line, so the map names more files
MEDIUM_BUDGET = 3_000
MAX_MAP = 250
MAP_SIGNATURES = 3  # per file in the repo map
MAX_DEFS = 12  # whole definitions of one big file
MAP_LOOKAHEAD = 8  # candidates tried for a gap before giving up on it
MAX_FILLS = 3  # passes adding map entries to a reply under its budget (each one measures the reply)
MAX_LEFT_OUT = 10  # the manifest is context too: list only the next best
MAX_KEPT_SYMBOLS = 5_000  # files whose definitions the repo map keeps per index generation


class ContextItem(CompactModel):
    path: str
    lines: str  # "1-120", or "outline", or "10-40,88-120"
    tokens: int
    mode: Literal["full", "definitions", "outline"]
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
    map: list[str] = Field(default_factory=list, description="files in the content's repo map, best first")
    left_out: list[LeftOut] = Field(default_factory=list)
    more: str = ""
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


def _budget(inp: ContextLoadInput, warnings: list[str], max_chars: int) -> tuple[int, bool]:
    """(budget, whether the client-safe cap lowered the default)."""
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
        return inp.budget_tokens, False
    rule = max(0, limit - inp.used_tokens)
    cap = cap_tokens(max_chars)
    return min(rule, cap), rule > cap


@dataclass
class _Piece:
    """A block of content with its manifest entry and what it is estimated to cost in the reply."""

    item: ContextItem
    text: str
    cost: int


@dataclass
class _MapEntry:
    path: str
    text: str
    cost: int


Wrap = Callable[[ContextLoadResult], BaseModel]


def load(
    store: Store,
    inp: ContextLoadInput,
    now: datetime,
    progress: ProgressFn | None = None,
    wrap: Wrap | None = None,
) -> ContextLoadResult:
    """`wrap` turns the result into the reply a face sends, when that adds fields (the watch adds the
    caller's context band): the budget is checked on what the client receives."""
    root = store.datadir.root
    warnings: list[str] = []
    max_chars = kernel_config.load_for(store.datadir).context.max_reply_chars
    budget, capped = _budget(inp, warnings, max_chars)
    explicit: list[str] = []
    for raw in inp.paths:
        resolved = path_guard.resolve_inside(root, raw)
        if not resolved.is_file():
            raise DomainError("paths", f"{raw!r} is not a file in the project")
        explicit.append(resolved.relative_to(root.resolve()).as_posix())
    explicit = list(dict.fromkeys(explicit))

    def cochange_of(paths: list[str]) -> Future[dict[str, float]]:
        """Answered at once from the history walked for HEAD (a lookup); else git is asked in a
        thread while the ranking goes on."""
        at = started.result().result() if paths else None
        walked = HISTORIES.get(root, at) if at is not None else None
        got = {} if not paths else walked.cochange(paths) if walked is not None else None
        if got is None:
            return COCHANGE.get().submit(_ask_git_cochange, root, at, paths)
        done: Future[dict[str, float]] = Future()
        done.set_result(got)
        return done

    def ranking(gen: int) -> list[Ranked]:
        # what depends only on the index is kept per generation
        paths = store.derived("context.path_index", gen, lambda: PathIndex(known_paths(store)))
        ranked = rank(
            store.db,
            inp.task,
            explicit,
            _session_files(store, inp.session_id),
            cochange_of,
            paths=paths,
            graph=store.derived("context.graph", gen, RefGraph),
        )
        return prefer.adjust(store.db, ranked, task_terms(inp.task)[0], inp.task, explicit, paths)

    def pack(
        ranked: list[Ranked], gen: int, warnings: list[str]
    ) -> tuple[ContextLoadResult, list[InjectedPattern]]:
        """The reply for `ranked` under the budget, and the learned patterns it shows (recorded by
        the caller, for the reply it sends: a reply packed before the listing may be dropped)."""
        terms_list, idents_list = task_terms(inp.task)
        depth_share, map_sigs = _split(budget)
        terms, idents = (
            set(terms_list),
            {i.lower() for i in idents_list} | defined_terms(store.db, terms_list),
        )

        result = ContextLoadResult(budget_tokens=budget, tokens=0, warnings=list(warnings))
        seen = wrap or (lambda r: r)
        base = measure(seen(result))[0] + 4  # the reply's frame: keys, budget, tokens
        remaining = budget - base
        pieces: list[_Piece] = []
        left: list[LeftOut] = []
        reader = _Reader(root, store.db)

        def add(path: str, why: str, limit: int, whole_ok: bool) -> bool:
            got = reader.text(path)
            if got is None:
                return False
            clean, n_red = got
            full = None if n_red else reader.indexed_tokens(path)
            piece = _piece(path, why, clean, limit, whole_ok, terms, idents, full=full)
            if piece is None:
                left.append(LeftOut(path=path, tokens=reader.full_tokens(path, clean), why=why))
                return False
            if n_red:
                piece.item.redactions = n_red
                result.warnings.append(f"{path}: {n_red} secret-looking value(s) redacted")
            pieces.append(piece)
            return True

        # 1. Paths the assistant named: first, whole, or their most relevant whole definitions.
        for path in explicit:
            if remaining > 40 and add(path, "given in paths", remaining, True):
                remaining -= pieces[-1].cost
            elif remaining <= 40:
                left.append(LeftOut(path=path, tokens=reader.full_tokens(path, None), why="given in paths"))
        # 2. Depth: the best matches, whole when they fit their share, else their relevant definitions.
        top = ranked[0].score if ranked else 0.0
        depth_left = int(remaining * depth_share)
        loaded = set(explicit)
        for i, r in enumerate(ranked[:MAX_DEEP]):
            if prefer.is_central(r):  # nothing matched: the map of central files, no depth
                break
            if i and r.score < WHOLE_CUT * top:
                break
            if depth_left < 60:
                break
            if add(r.path, r.why, depth_left, True):
                loaded.add(r.path)
                depth_left -= pieces[-1].cost
                remaining -= pieces[-1].cost
        # 3. What this project learned about such tasks (the flywheel), when there is room for it.
        pattern_text = ""
        shown: list[InjectedPattern] = []
        if remaining >= 600:
            shown = flywheel.relevant(store, inp.task, now, budget=min(300, remaining // 4))
            if shown:
                pattern_text = "=== learned patterns ===\n" + "".join(
                    f"- {p.title}: {p.advice}\n" for p in shown
                )
                remaining -= string_cost(pattern_text)
                result.patterns = [p.id for p in shown]
        # 4. Breadth: a repo map of the next files, as far as the budget goes.
        n_left = min(MAX_LEFT_OUT, max(1, budget // 400))
        reserve = 25 * n_left + (40 if n_left else 0)
        remaining -= reserve  # room for left_out and how to ask for more
        entries: list[_MapEntry] = []
        rest = [r for r in ranked if r.path not in loaded][:MAX_MAP]
        queue = list(rest)  # candidates not mapped yet, best first
        map_memo: dict[tuple[str, int], _MapEntry] = {}
        relevance_memo: dict[str, float] = {}  # a definition name's relevance to this task
        map_symbols: dict[str, repo_map.Defs] = store.derived("context.map_symbols", gen, dict)

        def next_entry(room: int) -> _MapEntry | None:
            """The best remaining candidate whose entry fits `room`, looking a few ahead (an entry that
            does not fit now stays queued for a later, larger gap)."""
            for i, r in enumerate(queue[:MAP_LOOKAHEAD]):
                if room < 20:
                    return None
                e = _map_entry(
                    store,
                    reader,
                    r.path,
                    r.why,
                    terms,
                    idents,
                    room,
                    map_sigs,
                    map_memo,
                    relevance_memo,
                    map_symbols,
                )
                if e is not None:
                    del queue[i]
                    return e
            return None

        def map_until(central_ok: bool) -> None:
            """Map entries as far as `remaining` goes; the central files only when `central_ok`."""
            nonlocal remaining
            while remaining >= 20 and (central_ok or (queue and not prefer.is_central(queue[0]))):
                e = next_entry(remaining)
                if e is None:
                    break
                entries.append(e)
                remaining -= e.cost

        headed = bool(rest) and remaining > 40
        if headed:
            remaining -= string_cost(repo_map.HEADER) + 6
            map_until(False)  # the matches first: they may still be loaded whole (5.)
        # 5. Budget still left once every candidate is mapped: the mapped files whole, best first.
        if not queue and not left and not pieces:  # a map of the whole repository: nothing left out
            remaining += reserve
        # Central files added for breadth stay map lines while something matched the task.
        any_match = any(not prefer.is_central(x) for x in rest)
        # (at small budgets only when nothing is left to map: there breadth names more files)
        upgrade = not queue or (budget > MEDIUM_BUDGET and all(prefer.is_central(x) for x in queue))
        if upgrade and remaining > 200:
            for e in list(entries):
                r = next(x for x in rest if x.path == e.path)
                if any_match and prefer.is_central(r):
                    continue
                full = reader.indexed_tokens(e.path)
                if full is not None and not fits(full, remaining + e.cost):
                    continue  # too big to be whole: not read, not parsed
                got = reader.text(e.path)
                if got is None:
                    continue
                piece = _piece(
                    e.path, r.why, got[0], remaining + e.cost, True, terms, idents, whole_only=True
                )
                if piece is not None and piece.item.mode == "full" and not got[1]:
                    pieces.append(piece)
                    entries.remove(e)
                    remaining -= piece.cost - e.cost
                if remaining <= 200:
                    break
        if headed:
            map_until(True)  # then the central files, for breadth
        mapped = {e.path for e in entries} | {p.item.path for p in pieces}
        for r in [*rest, *ranked[len(rest) :]]:
            if len(left) >= n_left:
                break
            if r.path not in mapped and r.path not in loaded and not _secret_path(r.path):
                left.append(LeftOut(path=r.path, tokens=reader.full_tokens(r.path, None), why=r.why))
        result.excluded = reader.excluded
        if result.excluded:
            result.warnings.append(f"{len(result.excluded)} secret file(s) excluded")
        _fit(
            result,
            seen,
            budget,
            max_chars if capped else None,
            pieces,
            pattern_text,
            entries,
            left[:n_left],
            capped,
            next_entry,
        )
        return result, shown

    # Seeing an edit needs git to stat every file; while it does, rank from the index as it is and
    # pack that ranking. Nothing changed (a warm load): that reply stands. Else both are made again
    # once the index has caught up.
    gen = generation(store.db)
    # git is started from a pool thread: a process start waits for the child to exec, which on a
    # busy machine is milliseconds the ranking need not wait
    spawner = LISTING.get()
    listing = spawner.submit(project_files.PendingListing, root)
    started = spawner.submit(_Head, root)
    packed = pack(ranking(gen), gen, warnings)
    listed = listing.result().result()
    building = ensure_index(store, progress, wait=False, listing=(gen, listed))
    if building is not None or generation(store.db) != gen:
        now_gen = generation(store.db)
        packed = pack(ranking(now_gen), now_gen, [*warnings, *([building] if building else [])])
    result, shown = packed
    if shown:  # recorded once, for the reply that is sent
        flywheel.record_shown(store, inp.session_id, shown, "context_load", now)
    return result


def _split(budget: int) -> tuple[float, int]:
    """(share of the budget for depth, signatures per map line): a small budget keeps most of
    itself for the map, whose lines name more files with fewer signatures each."""
    if budget <= SMALL_BUDGET:
        return 0.5, 1
    if budget <= MEDIUM_BUDGET:
        return 0.55, 2
    return DEPTH_SHARE, MAP_SIGNATURES


def _fit(
    result: ContextLoadResult,
    seen: Wrap,
    budget: int,
    max_chars: int | None,
    pieces: list[_Piece],
    pattern_text: str,
    entries: list[_MapEntry],
    left: list[LeftOut],
    capped: bool,
    next_entry: Callable[[int], _MapEntry | None],
) -> None:
    """Assemble the reply and trim it (map entries first, then left-outs, then the last loaded
    piece) until the JSON the client receives fits the budget (and the character cap); then, while
    more than 2% is unused, add map entries that fit what is left."""
    last_fill: list[_MapEntry] = []
    fills = 0
    for _ in range(16):
        result.items = [p.item for p in pieces]
        result.content = "".join(p.text for p in pieces) + pattern_text
        if entries:
            result.content += repo_map.HEADER + "".join(e.text for e in entries)
        result.map = [e.path for e in entries]
        result.left_out = [x for x in left if x.path not in result.map]
        result.more = _more(result, budget, capped) if (left or entries or capped) else ""
        tokens, chars = measure(seen(result))
        for _round in range(2):  # `tokens` is part of the reply: settle its own digits
            if len(str(tokens)) == len(str(result.tokens)):
                break  # o200k splits numbers by digit count: same width, same cost
            result.tokens = tokens
            tokens, chars = measure(seen(result))
        result.tokens = tokens
        over = tokens - budget
        over_chars = chars - max_chars if max_chars is not None else 0
        if over <= 0 and over_chars <= 0:
            slack = min(-over, int(-over_chars / CHARS_PER_TOKEN) if max_chars is not None else -over)
            if fills >= MAX_FILLS or slack <= max(3, budget // 50):
                return
            fills += 1
            room = slack - 2
            last_fill = []
            while room >= 20:
                e = next_entry(room)
                if e is None:
                    break
                last_fill.append(e)
                room -= e.cost
            if not last_fill:
                return
            entries.extend(last_fill)
            continue
        if last_fill:  # the last fill went over: take back what it must, and fill no more
            need = max(over, int(over_chars / CHARS_PER_TOKEN) + 1)
            dropped = 0
            while last_fill and dropped < need:
                dropped += last_fill.pop().cost
                entries.pop()
            last_fill, fills = [], MAX_FILLS
            continue
        need = max(over, int(over_chars / CHARS_PER_TOKEN) + 1)
        if entries:
            dropped = 0
            while entries and dropped < need:
                dropped += entries.pop().cost
        elif left:
            left = left[:-1]
        elif pattern_text:
            pattern_text, result.patterns = "", []
        elif pieces:
            pieces = pieces[:-1]
        else:
            if budget > 0:
                result.warnings.append(
                    f"budget_tokens={budget} is too small for any reply; give at least 300"
                )
            return


def _more(result: ContextLoadResult, budget: int, capped: bool) -> str:
    ask = "paths=[...] for a file whole"
    if capped:
        return f"budget capped at {budget} tokens to keep the reply client-safe; ask with {ask}, or budget_tokens=N"
    return f"ask with {ask}, or a larger budget_tokens (e.g. {budget * 2})"


class _Reader:
    """Reads files for a load: the whole path checked at read time, secrets excluded, values redacted."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self.db = db
        self.excluded: list[str] = []

    def text(self, path: str) -> tuple[str, int] | None:
        real = self._real(path)
        if real is None:
            return None
        text = _read(real)
        if text is None:
            return None
        screened = _screen(text)
        if screened is None:  # a credential whatever its name: skipped whole
            self.excluded.append(path)
            return None
        return screened

    def full_tokens(self, path: str, text: str | None) -> int:
        if text is not None:
            return count_tokens(text)
        return self.indexed_tokens(path) or 0

    def indexed_tokens(self, path: str) -> int | None:
        """The file's token count as indexed (the index is caught up before a load reads files)."""
        row = self.db.execute("SELECT tokens FROM repo_files WHERE path = ?", [path]).fetchone()
        return int(row[0]) if row else None

    def _real(self, path: str) -> Path | None:
        if _secret_path(path):
            self.excluded.append(path)
            return None
        try:  # the whole path again, at read time: a directory may have become a link since indexing
            return path_guard.project_file(self.root, path)
        except path_guard.PathRefused as exc:
            if exc.secret:
                self.excluded.append(path)
            return None


@functools.lru_cache(maxsize=64)
def _screen(text: str) -> tuple[str, int] | None:
    """The text as a reply may show it (secret values redacted, with their count), or None when the
    whole text is a credential. Kept for the last files read: a session loads the same files again
    and again, and the secret scan is a pure function of the text (keyed by the whole text, so an
    edited file is scanned again)."""
    if secrets.is_secret_content(text):
        return None
    clean, redactions = secrets.redact(text)
    return clean, sum(redactions.values())


def _ask_git_cochange(root: Path, head: str | None, paths: list[str]) -> dict[str, float]:
    if head is None:
        return project_files.cochange(root, paths)
    return _cochange_at(str(root), head, tuple(paths))


@functools.lru_cache(maxsize=256)
def _cochange_at(root: str, head: str, paths: tuple[str, ...]) -> dict[str, float]:
    """Co-change of `paths` in the history ending at `head` (the key: history changes with HEAD)."""
    return project_files.cochange(Path(root), list(paths))


class _Head:
    """The commit HEAD names (None outside git or before the first commit), asked of git when the
    load starts and read when the history needs it (from the co-change thread)."""

    def __init__(self, root: Path) -> None:
        self._lock = threading.Lock()
        self._value: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        with contextlib.suppress(OSError):  # git is missing: no history
            self._proc = subprocess.Popen(
                ["git", "rev-parse", "-q", "--verify", "HEAD"],
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )

    def result(self) -> str | None:
        with self._lock:
            if self._proc is not None:
                out = self._proc.communicate()[0].decode().strip()
                self._value = out if self._proc.returncode == 0 and out else None
                self._proc = None
            return self._value


WHOLE_MIN_SHARE = 0.8  # a file whole costs at least this share of its own tokens in the reply


def fits(tokens: int, limit: int) -> bool:
    """Whether a file of `tokens` tokens may fit `limit` whole (its JSON-escaped block costs more
    than the text: newlines and quotes are escaped), so that a file that cannot is not counted."""
    return tokens * WHOLE_MIN_SHARE <= limit


@functools.lru_cache(maxsize=64)
def _definitions(path: str, text: str) -> list[outline_mod.Definition]:
    """A file's definitions, kept for the last few files parsed (a session loads the same big files
    again and again; tree-sitter parses one in tens of milliseconds). Keyed by the whole text, so an
    edited file is parsed again."""
    return outline_mod.definitions(path, text)


def _piece(
    path: str,
    why: str,
    text: str,
    limit: int,
    whole_ok: bool,
    terms: set[str],
    idents: set[str],
    full: int | None = None,
    whole_only: bool = False,
) -> _Piece | None:
    """The file whole if it fits `limit`, else its most relevant whole definitions, else its outline.
    `full`: the text's token count when known (the index's); `whole_only`: whole or nothing."""
    nlines = text.count("\n") + (0 if text.endswith("\n") else 1)
    item = ContextItem(path=path, lines=f"1-{nlines}", tokens=0, mode="full", why=why)
    block = f"=== {path} [1-{nlines}] ===\n" + text + ("" if text.endswith("\n") else "\n")
    if whole_ok and (full is None or fits(full, limit)):
        cost = string_cost(block) + _item_cost(item)
        if cost <= limit:
            item.tokens = cost
            return _Piece(item, block, cost)
    if whole_only:
        return None
    full = count_tokens(text) if full is None else full
    lines = text.splitlines()
    defs = _definitions(path, text)
    scored = [(repo_map.relevance(d.name, terms, idents) + _mentions(d, lines, idents), d) for d in defs]
    scored = [(s, d) for s, d in scored if s > 0]
    scored.sort(key=lambda x: (-x[0], x[1].lines))
    chosen: list[outline_mod.Definition] = []  # best first
    used = 0
    head = f"=== {path} [{{spans}}] whole definitions, file is {full} tokens ===\n"
    room = limit - _item_cost(item) - string_cost(head) - 8
    for _s, d in scored:
        if len(chosen) >= MAX_DEFS:
            break
        if any(
            c.start <= d.start and d.end <= c.end or d.start <= c.start and c.end <= d.end for c in chosen
        ):
            continue
        part = "\n".join(lines[d.start - 1 : d.end]) + "\n"
        c = string_cost(part) + 16  # its separator and its span in the manifest
        if used + c > room:
            continue
        chosen.append(d)
        used += c
    while chosen:
        piece = _definitions_piece(path, why, head, lines, chosen)
        if piece.cost <= limit:
            return piece
        chosen = chosen[:-1]  # the least relevant goes first
    sketch = outline_mod.outline(path, text)
    if not sketch:
        return None
    block = f"=== {path} [outline] file is {full} tokens ===\n" + sketch.split("\n", 1)[1]
    item = ContextItem(path=path, lines="outline", tokens=0, mode="outline", why=why)
    cost = string_cost(block) + _item_cost(item)
    if cost > limit:
        return None
    item.tokens = cost
    return _Piece(item, block, cost)


def _definitions_piece(
    path: str, why: str, head: str, lines: list[str], chosen: list[outline_mod.Definition]
) -> _Piece:
    ordered = sorted(chosen, key=lambda d: d.start)
    spans = ",".join(f"{d.start}-{d.end}" for d in ordered)
    body = "".join(
        f"... lines {d.start}-{d.end} ...\n" + "\n".join(lines[d.start - 1 : d.end]) + "\n" for d in ordered
    )
    block = head.replace("{spans}", spans) + body
    names = ", ".join(d.name for d in chosen[:3] if d.name not in why)
    item = ContextItem(
        path=path, lines=spans, tokens=0, mode="definitions", why=f"{why}; has {names}" if names else why
    )
    cost = string_cost(block) + _item_cost(item)
    item.tokens = cost
    return _Piece(item, block, cost)


def _mentions(d: outline_mod.Definition, lines: list[str], idents: set[str]) -> float:
    """A definition that uses an identifier the task names is relevant too (less than defining it)."""
    if not idents:
        return 0.0
    body = " ".join(lines[d.start - 1 : min(d.end, d.start + 200)]).lower()
    return 0.5 * sum(1 for i in idents if i in body)


def _item_cost(item: ContextItem) -> int:
    return count_tokens(pydantic_core.to_json(item, indent=2).decode()) + 6


def _map_entry(
    store: Store,
    reader: _Reader,
    path: str,
    why: str,
    terms: set[str],
    idents: set[str],
    room: int,
    signatures: int = MAP_SIGNATURES,
    memo: dict[tuple[str, int], _MapEntry] | None = None,
    scores: dict[str, float] | None = None,
    kept: dict[str, repo_map.Defs] | None = None,
) -> _MapEntry | None:
    """From the index alone (signatures were redacted when indexed): no file is read. `memo`
    keeps the entries made for one load (a candidate that did not fit is tried again later),
    `scores` the relevance of each definition name to its task, `kept` the files' definitions
    as indexed (per index generation: the caller keys it)."""
    if _secret_path(path):
        return None
    memo = {} if memo is None else memo
    syms: repo_map.Defs | None = None
    for limit in dict.fromkeys((signatures, 1, 0)):
        made = memo.get((path, limit))
        if made is None:
            if syms is None:
                syms = kept.get(path) if kept is not None else None
            if syms is None:
                syms = repo_map.Defs(
                    [
                        repo_map.Symbol(n, k, ln, sig)
                        for n, k, ln, sig in store.db.execute(
                            "SELECT name, kind, line, sig FROM repo_symbols WHERE path = ? ORDER BY line LIMIT 300",
                            [path],
                        ).fetchall()
                    ]
                )
                if kept is not None:
                    if len(kept) >= MAX_KEPT_SYMBOLS:
                        kept.clear()
                    kept[path] = syms
            chosen = repo_map.pick(syms, terms, idents, limit, scores) if limit else []
            text = repo_map.entry(path, why, chosen)
            made = memo[(path, limit)] = _MapEntry(path, text, string_cost(text) + string_cost(path) + 6)
        if made.cost <= room:  # its cost counts its line in `map` too
            return _MapEntry(made.path, made.text, made.cost)
    return None


# A path's name decides it (a pure function); a load asks again for each map candidate it tries.
_secret_path = functools.lru_cache(maxsize=20_000)(secrets.is_secret_path)


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
