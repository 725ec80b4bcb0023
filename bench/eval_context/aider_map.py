"""aider's repo map for the evaluation, run in aider's own virtual environment (not ours).

Speaks JSON lines: one request per stdin line, one reply per stdout line.
    {"root": "/abs/tree", "files": ["rel", ...], "task": "...", "budgets": [1000, 2000, 8000],
     "cache": "/abs/tags-cache"}
    -> {"maps": {"1000": "<map text>", ...}, "seconds": {"1000": 0.12, ...}}

What aider itself does for a chat message (aider/coders/base_coder.py, get_repo_map): the mentioned
file names (whole relative paths, or unique basenames that look like file names, from the message's
words), the mentioned identifiers (the message split on non-word characters), and files whose stem
(5+ characters) equals a mentioned identifier. No files are in the chat. Tokens are counted with
o200k_base, loaded offline the way factorops does (TIKTOKEN_CACHE_DIR, seeded by the harness).
`max_context_window` is left unset, so the map's budget is exactly `map_tokens` (aider multiplies
it by 8 when the chat is empty and the model's window is known; that would not be the same budget).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import tiktoken
from aider.repomap import RepoMap

ENC = tiktoken.get_encoding("o200k_base")


class Model:
    def token_count(self, text: str) -> int:
        return len(ENC.encode_ordinary(text))


class IO:
    def read_text(self, fname: str) -> str | None:
        try:
            return Path(fname).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def tool_output(self, *args: Any, **kw: Any) -> None:
        pass

    def tool_warning(self, *args: Any, **kw: Any) -> None:
        pass

    def tool_error(self, *args: Any, **kw: Any) -> None:
        print(*args, file=sys.stderr)


def file_mentions(text: str, rel_files: list[str]) -> set[str]:
    words = {w.rstrip(",.!;:?").strip("\"'`*_") for w in text.split()}
    mentioned = {f for f in rel_files if f in words}
    by_base: dict[str, list[str]] = defaultdict(list)
    for f in rel_files:
        base = os.path.basename(f)
        if any(c in base for c in "/\\._-"):
            by_base[base].append(f)
    mentioned.update(fs[0] for base, fs in by_base.items() if len(fs) == 1 and base in words)
    return mentioned


def ident_mentions(text: str) -> set[str]:
    return set(re.split(r"\W+", text))


def ident_filename_matches(idents: set[str], rel_files: list[str]) -> set[str]:
    stems: dict[str, set[str]] = defaultdict(set)
    for f in rel_files:
        stem = Path(f).stem.lower()
        if len(stem) >= 5:
            stems[stem].add(f)
    out: set[str] = set()
    for ident in idents:
        if len(ident) >= 5:
            out.update(stems[ident.lower()])
    return out


_maps: dict[tuple[str, int], RepoMap] = {}


def repo_map(root: str, cache: str, budget: int) -> RepoMap:
    key = (root, budget)
    if key not in _maps:

        class Cached(RepoMap):
            TAGS_CACHE_DIR = cache  # absolute: keeps aider's tag cache out of the work tree

        _maps[key] = Cached(map_tokens=budget, root=root, main_model=Model(), io=IO(), refresh="always")
    return _maps[key]


def answer(req: dict[str, Any]) -> dict[str, Any]:
    root, files, task = req["root"], req["files"], req["task"]
    idents = ident_mentions(task)
    fnames = file_mentions(task, files) | ident_filename_matches(idents, files)
    abs_files = {os.path.join(root, f) for f in files}
    maps: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for budget in req["budgets"]:
        rm = repo_map(root, req["cache"], int(budget))
        t = time.perf_counter()
        text = rm.get_repo_map(set(), abs_files, mentioned_fnames=fnames, mentioned_idents=idents) or ""
        seconds[str(budget)] = time.perf_counter() - t
        maps[str(budget)] = text
    return {"maps": maps, "seconds": seconds}


def main() -> None:
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # aider prints progress and warnings to stdout: keep the protocol channel clean
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # report and go on: one bad task must not end the run
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
