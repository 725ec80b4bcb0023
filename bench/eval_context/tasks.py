"""Tasks from a repository's real history: task = commit subject, gold = source files it changed.

A commit qualifies when it is not a merge, its subject names a change (not a release, bump, merge,
revert, typo or formatting commit), it changes 1-4 source files that exist at its parent (tests,
docs, examples and benchmarks are not source), at most 12 files in all and at most 400 lines.
The newest qualifying commits before the pinned commit are taken, oldest first, so a worktree moved
from task to task changes little between them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from repos import Repo

MAX_SOURCE_FILES = 4
MAX_FILES = 12
MAX_LINES = 400
SCAN_COMMITS = 4000

NON_SOURCE_DIR = re.compile(
    r"(^|/)(tests?|testing|testdata|__tests__|spec|specs|fixtures|benches|benchmarks?|bench|"
    r"examples?|docs?|\.github|scripts|ci|e2e|perf-measures|runtime-tests|sandbox|[^/]*[-_](tests?|examples?)|tests?[-_][^/]*)(/|$)"
)
TEST_FILE = re.compile(
    r"(^|/)([^/]*_tests?/|tests?_[^/]*/|test_[^/]*|[^/]*_test\.(go|py|rs)|[^/]*\.(test|spec)\.[jt]sx?|conftest\.py)$"
)
NOT_A_CHANGE = re.compile(
    r"^(docs?\b|merge|revert|release|bump|prepare|version|v?\d+\.\d+|chore\(deps|build\(deps|chore: release|"
    r"update changelog|changelog|typo|fix typo|format|reformat|lint|wip|oops|pre-commit|\[pre-commit)",
    re.IGNORECASE,
)
SWEEPING = re.compile(
    r"\b(lint|linters?|linting|golangci|pyright|mypy|ruff|clippy|typos?|grammar|spelling|whitespace|"
    r"formatting|rustfmt|gofmt|prettier)\b",
    re.IGNORECASE,
)
PR_SUFFIX = re.compile(r"\s*\((#\d+|gh-\d+)\)\s*$")


@dataclass(frozen=True)
class Task:
    repo: str
    sha: str
    parent: str
    text: str
    gold: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def is_source(repo: Repo, path: str) -> bool:
    if not path.endswith(repo.source_ext) or path.endswith(".d.ts") or ".min." in path:
        return False
    return not (NON_SOURCE_DIR.search(path) or TEST_FILE.search(path))


def _git(gitdir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={gitdir}", *args], check=True, capture_output=True, text=True, errors="replace"
    ).stdout


def subject_ok(subject: str) -> bool:
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]+", subject)
    text = subject.strip()
    return len(text) >= 15 and len(words) >= 3 and not NOT_A_CHANGE.match(text) and not SWEEPING.search(text)


def mine(repo: Repo, gitdir: Path, limit: int) -> list[Task]:
    log = _git(
        gitdir,
        "log",
        "--no-merges",
        "--first-parent",
        f"-n{SCAN_COMMITS}",
        "--format=%x00%H %P%x01%s",
        "--numstat",
        "--no-renames",
        repo.commit,
    )
    picked: list[Task] = []
    for block in log.split("\0")[1:]:
        head, _, rest = block.partition("\x01")
        ids = head.split()
        if len(ids) != 2:  # root commit (or a merge, already excluded)
            continue
        sha, parent = ids
        lines = rest.split("\n")
        subject = lines[0].strip()
        stats = [ln.split("\t") for ln in lines[1:] if ln.count("\t") == 2]
        if not stats or not subject_ok(subject) or len(stats) > MAX_FILES:
            continue
        if any(a == "-" for a, _, _ in stats):  # binary change
            continue
        if sum(int(a) + int(d) for a, d, _ in stats) > MAX_LINES:
            continue
        source = [p for _, _, p in stats if is_source(repo, p)]
        if not source or len(source) > MAX_SOURCE_FILES:
            continue
        existing = set(_git(gitdir, "ls-tree", "-r", "--name-only", parent, "--", *source).split("\n"))
        gold = tuple(p for p in source if p in existing)
        if not gold:
            continue
        picked.append(Task(repo.name, sha, parent, PR_SUFFIX.sub("", subject), gold))
        if len(picked) >= limit:
            break
    picked.reverse()  # oldest first
    return picked
