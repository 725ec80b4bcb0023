"""Which files change together, from one walk of the history per HEAD.

`files.cochange` asks git for the last commits that touched the given paths: one `git log` with a
pathspec per question, tens of milliseconds each, paid by every task asked for the first time. The
history only changes with HEAD, so one walk of the newest commits (with the same format and the
same rename detection) answers every later question from memory. The walk runs in a background
thread; until it is ready, and for paths whose history reaches past the walked window, the caller
asks git as before, so an answer never depends on whether the walk has finished.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .files import LOG_FORMAT, Commit, _git, cochange_scores, log_commits

WINDOW = 5000  # newest commits walked; older history is asked for path by path


@dataclass
class History:
    """The newest commits up to HEAD, newest first, and per file the positions of the commits
    that changed it."""

    head: str
    commits: list[Commit] = field(default_factory=list)
    touching: dict[str, list[int]] = field(default_factory=dict)
    complete: bool = True  # the walk reached the first commit

    def cochange(self, paths: list[str], max_commits: int = 100) -> dict[str, float] | None:
        """What `files.cochange(root, paths, max_commits)` answers, or None when the window cannot
        tell (fewer than `max_commits` commits of `paths` in it, and older history not walked)."""
        hits = sorted({i for p in paths for i in self.touching.get(p, ())})
        if len(hits) < max_commits and not self.complete:
            return None
        return cochange_scores([self.commits[i] for i in hits[:max_commits]], paths)


def parse(head: str, out: bytes, window: int) -> History:
    """A walk's `git log` output (`files.log_commits`), indexed by file."""
    commits = log_commits(out)
    touching: dict[str, list[int]] = defaultdict(list)
    for i, (_root, names) in enumerate(commits):
        for n in names:
            touching[n].append(i)
    return History(head, commits, dict(touching), complete=len(commits) < window)


def walk(root: Path, head: str, window: int = WINDOW) -> History | None:
    out = _git(root, "log", f"-n{window}", LOG_FORMAT, "--name-only", head)
    return None if out is None else parse(head, out, window)


class Histories:
    """The walked history per project root, for its current HEAD; walks start in the background."""

    def __init__(self) -> None:
        self._ready: dict[str, History] = {}
        self._walking: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def get(self, root: Path, head: str, wait: bool = False) -> History | None:
        """The history at `head` if it has been walked; else None, and a walk starts (`wait`: walk
        now, in this thread, and answer with it)."""
        key = str(root)
        if wait:
            self._walk(root, head)
        with self._lock:
            got = self._ready.get(key)
            if got is not None and got.head == head:
                return got
            if wait or (key, head) in self._walking:
                return None
            self._walking.add((key, head))
        threading.Thread(target=self._walk, args=(root, head), name="context-history", daemon=True).start()
        return None

    def _walk(self, root: Path, head: str) -> None:
        try:
            h = walk(root, head)
            if h is not None:
                with self._lock:
                    self._ready[str(root)] = h
        finally:
            with self._lock:
                self._walking.discard((str(root), head))


HISTORIES = Histories()
