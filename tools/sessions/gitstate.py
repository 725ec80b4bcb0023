"""The project's code state a checkpoint was saved at, and how far HEAD has moved since.

A handoff that says "tests pass, refactor half done" means little if the code under it changed: a
checkpoint records HEAD, the branch and the uncommitted files (one `git status`), and a resume says
whether HEAD moved since and gives a short diff stat. All through the one git runner
(`store/git.py`); a project that is not a git repository (or has no git) simply has no code state.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydantic import Field

from factorops.store import git
from factorops.tools.kernel.compact import CompactModel

UNCOMMITTED_MAX = 20  # paths kept in the record; the count says how many there were
DIFF_FILES_MAX = 10  # file lines in the diff stat; git's summary line comes last
TIMEOUT_S = 10.0


class GitState(CompactModel):
    """What a checkpoint records (in its ledger file, under `git`)."""

    head: str
    branch: str | None = None  # None: detached HEAD
    uncommitted: list[str] = Field(default_factory=list)
    uncommitted_count: int = 0


class CodeState(GitState):
    """The code state in a resume: the saved one, and whether HEAD moved since."""

    saved_at_checkpoint: int | None = None
    head_moved: bool | None = None  # absent when HEAD is where it was
    head_now: str | None = None
    commits_since: int | None = None
    diff_stat: list[str] = Field(default_factory=list)
    note: str | None = None


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return git.run_text(root, *args, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None


def capture(root: Path) -> GitState | None:
    """HEAD, branch and uncommitted files of the project, or None when it is not a git repository
    (or has no commit yet). One `git status --porcelain=v2 --branch -z`."""
    out = _git(
        root, "--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=normal"
    )
    if out is None or out.returncode != 0:
        return None
    head: str | None = None
    branch: str | None = None
    files: list[str] = []
    parts = iter(out.stdout.split("\0"))
    for entry in parts:
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            head = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            name = entry.removeprefix("# branch.head ")
            branch = None if name == "(detached)" else name
        elif entry.startswith("1 "):
            files.append(entry.split(" ", 8)[-1])
        elif entry.startswith("2 "):
            files.append(entry.split(" ", 9)[-1])
            next(parts, None)  # the rename's original path
        elif entry.startswith("u "):
            files.append(entry.split(" ", 10)[-1])
        elif entry.startswith("? "):
            files.append(entry[2:])
    if head is None:
        return None
    return GitState(
        head=head, branch=branch, uncommitted=files[:UNCOMMITTED_MAX], uncommitted_count=len(files)
    )


def compare(root: Path, saved: GitState, seq: int) -> CodeState:
    """The saved state plus, when HEAD has moved since, where it is now and a bounded diff stat."""
    state = CodeState(**saved.model_dump(), saved_at_checkpoint=seq)
    now = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    if now is None or now.returncode != 0:
        state.note = "the project's current HEAD could not be read"
        return state
    head_now = now.stdout.strip()
    if head_now == saved.head:
        return state
    state.head_moved, state.head_now = True, head_now
    known = _git(root, "cat-file", "-e", f"{saved.head}^{{commit}}")
    if known is None or known.returncode != 0:
        state.note = "the saved HEAD is no longer in the repository (history rewritten?): compare by hand"
        return state
    count = _git(root, "rev-list", "--count", f"{saved.head}..{head_now}")
    if count is not None and count.returncode == 0 and count.stdout.strip().isdigit():
        state.commits_since = int(count.stdout.strip())
    stat = _git(root, "diff", "--stat=100", f"--stat-count={DIFF_FILES_MAX}", f"{saved.head}..{head_now}")
    if stat is not None and stat.returncode == 0:
        state.diff_stat = [" ".join(line.split())[:120] for line in stat.stdout.splitlines() if line.strip()]
    return state
