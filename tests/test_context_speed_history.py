"""Co-change from one walk of the history per HEAD (issue #19, first-time tasks on hono-sized repos).

A task asked for the first time used to run one `git log -- <path>` for its best match's co-change
(tens of milliseconds a task); now one walk per HEAD answers every later question. It must answer
what git's per-path log answers on a linear history (root commits, huge commits and the
`max_commits` window included), say "cannot tell" rather than guess when the walked window is too
short, never make a load wait for the walk, and follow HEAD.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from factorops.tools.context import files as project_files
from factorops.tools.context.history import Histories, walk

from .conftest import commit_files, git


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit_files(root, {f"src/m{i}.py": f"x = {i}\n" for i in range(8)}, "initial import")  # a root commit
    plan = [
        ("src/m0.py", "src/m1.py"),
        ("src/m0.py", "src/m2.py", "docs/a.md"),
        ("src/m1.py", "src/m2.py"),
        ("src/m0.py",),
        ("src/m3.py", "src/m4.py", "src/m0.py"),
        ("src/m5.py", "src/m1.py"),
        ("src/m0.py", "src/m6.py"),
    ]
    for n, paths in enumerate(plan):
        commit_files(root, {p: f"# change {n}\n" for p in paths}, f"change {n}")
    big = {f"gen/g{i}.py": f"g = {i}\n" for i in range(60)} | {"src/m0.py": "# big\n"}
    commit_files(root, big, "regenerate everything")  # over 50 files: says nothing
    commit_files(root, {"src/m7.py": "y = 1\n", "src/m0.py": "# last\n"}, "last")
    return root


def test_the_walk_answers_what_git_log_answers_for_every_file(repo: Path) -> None:
    h = walk(repo, _head(repo))
    assert h is not None and h.complete
    paths = git(repo, "ls-files").split()
    for path in paths:
        for n in (1, 3, 100):
            assert h.cochange([path], n) == project_files.cochange(repo, [path], n), (path, n)
    assert h.cochange(["src/m0.py", "src/m1.py"]) == project_files.cochange(repo, ["src/m0.py", "src/m1.py"])
    assert h.cochange(["src/m0.py"])  # the fixture has co-change to compare, not only empty answers


def test_root_and_huge_commits_say_nothing_and_big_commits_count_little(repo: Path) -> None:
    """The rules both answers share, held to numbers worked out by hand from the fixture."""
    h = walk(repo, _head(repo))
    assert h is not None
    # m7: the initial import (a root commit, skipped) and "last" with m0 (two files: 1/2 each)
    assert h.cochange(["src/m7.py"]) == project_files.cochange(repo, ["src/m7.py"]) == {"src/m0.py": 0.5}
    # m0 is in the 61-file regeneration too: none of its files counts
    assert not [p for p in project_files.cochange(repo, ["src/m0.py"]) if p.startswith("gen/")]
    # m3: "change 4" with m4 and m0 (a third each)
    assert project_files.cochange(repo, ["src/m3.py"]) == pytest.approx(
        {"src/m4.py": 1 / 3, "src/m0.py": 1 / 3}
    )


def test_a_window_too_short_for_the_question_says_so(repo: Path) -> None:
    h = walk(repo, _head(repo), window=4)  # the newest 4 commits of 10
    assert h is not None and not h.complete
    assert h.cochange(["src/m1.py"], 100) is None  # its older commits were not walked
    # enough commits of the path inside the window: the answer does not need older history
    assert h.cochange(["src/m0.py"], 2) == project_files.cochange(repo, ["src/m0.py"], 2)


def test_a_load_never_waits_for_the_walk_and_the_walk_follows_head(repo: Path) -> None:
    histories = Histories()
    head = _head(repo)
    assert histories.get(repo, head) is None  # not walked yet: the caller asks git itself
    for t in threading.enumerate():
        if t.name == "context-history":
            t.join()
    got = histories.get(repo, head)
    assert got is not None and got.head == head
    commit_files(repo, {"src/m7.py": "y = 2\n", "src/m3.py": "# with m7\n"}, "m3 with m7")
    new = _head(repo)
    assert histories.get(repo, new) is None  # an old HEAD's walk is never used for a new HEAD
    walked = histories.get(repo, new, wait=True)
    assert walked is not None and walked.cochange(["src/m7.py"]) == project_files.cochange(
        repo, ["src/m7.py"]
    )
    assert "src/m3.py" in walked.cochange(["src/m7.py"])
