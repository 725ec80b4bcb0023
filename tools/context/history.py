"""Which files change together, from one walk of the history per HEAD.

`files.cochange` asks git for the last commits that touched the given paths: one `git log` with a
pathspec per question, tens of milliseconds each, paid by every task asked for the first time. The
history only changes with HEAD, so one walk of the newest commits (with the same format and the
same rename detection) answers every later question from memory. The walk runs in a background
thread; until it is ready, and for paths whose history reaches past the walked window, the caller
asks git as before, so an answer never depends on whether the walk has finished.
"""

from __future__ import annotations

import subprocess
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

WINDOW = 5000  # newest commits walked; older history is asked for path by path
MAX_COMMIT_FILES = 50  # a commit changing more files says little about which go together


@dataclass
class History:
    """The newest commits up to HEAD, newest first: each commit's changed files, and per file the
    positions of the commits that changed it."""

    head: str
    commits: list[tuple[bool, list[str]]] = field(default_factory=list)  # (is a root commit, names)
    touching: dict[str, list[int]] = field(default_factory=dict)
    complete: bool = True  # the walk reached the first commit

    def cochange(self, paths: list[str], max_commits: int = 100) -> dict[str, float] | None:
        """What `files.cochange(root, paths, max_commits)` answers, or None when the window cannot
        tell (fewer than `max_commits` commits of `paths` in it, and older history not walked)."""
        hits = sorted({i for p in paths for i in self.touching.get(p, ())})
        if len(hits) < max_commits and not self.complete:
            return None
        wanted = set(paths)
        scores: dict[str, float] = defaultdict(float)
        for i in hits[:max_commits]:
            root, names = self.commits[i]
            if root or not names or len(names) > MAX_COMMIT_FILES:
                continue
            for n in names:
                if n not in wanted:
                    scores[n] += 1.0 / len(names)
        return dict(scores)


def parse(head: str, out: bytes, window: int) -> History:
    """`git log --format=%x00%P --name-only` output, as `files.cochange` reads it."""
    h = History(head)
    touching: dict[str, list[int]] = defaultdict(list)
    for block in out.decode(errors="replace").split("\0")[1:]:
        parents, _, rest = block.partition("\n")
        names = [n for n in rest.split("\n") if n]
        i = len(h.commits)
        h.commits.append((not parents.strip(), names))
        for n in names:
            touching[n].append(i)
    h.touching = dict(touching)
    h.complete = len(h.commits) < window
    return h


def walk(root: Path, head: str, window: int = WINDOW) -> History | None:
    try:
        proc = subprocess.run(
            ["git", "log", f"-n{window}", "--format=%x00%P", "--name-only", head],
            cwd=root,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    return parse(head, proc.stdout, window) if proc.returncode == 0 else None


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
            return self._ready.get(key) if self._ready.get(key, History("")).head == head else None
        with self._lock:
            got = self._ready.get(key)
            if got is not None and got.head == head:
                return got
            if (key, head) in self._walking:
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
