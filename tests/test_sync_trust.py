"""`factorops sync` does not trust the remote's tree: whoever can push to the shared ledger must
not be able to make this machine write or read outside its ledger.

A teammate (here: plain git in a clone of the bare remote) commits what factorops never writes,
a symbolic link, a submodule, a git control file, an unknown path, with git plumbing, and pushes.
The real CLI refuses the sync, names the path and the commit that brought it, and leaves the
ledger at its pre-sync head.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.registry import components
from factorops.tools.sharing.sync import SyncInput, sync

from .conftest import git, new_repo


def _project(root: Path) -> Path:
    new_repo(root, {"README.md": f"# {root.name}\n"}, "initial commit")
    return root


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Store, Path, Path]]:
    """Alice's store, synced once with a bare remote, and a teammate's plain clone of that remote."""
    remote = tmp_path / "shared-ledger.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    alice = Store.open(DataDir.for_project(_project(tmp_path / "alice")), components())
    sync(alice, SyncInput(remote=str(remote)))
    clone = tmp_path / "mallory"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True, capture_output=True)
    yield alice, remote, clone
    alice.close()


def _blob(clone: Path, data: str) -> str:
    return git(clone, "hash-object", "-w", "--stdin", input=data).strip()


def _commit_entry(clone: Path, mode: str, obj: str, path: str, message: str) -> str:
    """Add one tree entry with plumbing (no working-tree file needed) and commit it."""
    git(clone, "update-index", "--add", "--cacheinfo", f"{mode},{obj},{path}")
    git(clone, "commit", "-q", "-m", message)
    return git(clone, "rev-parse", "HEAD").strip()


def _symlink(clone: Path) -> tuple[str, str]:
    sha = _commit_entry(clone, "120000", _blob(clone, "/tmp/outside"), "sessions/2026-11", "add month shard")
    return "sessions/2026-11", sha


def _submodule(clone: Path) -> tuple[str, str]:
    head = git(clone, "rev-parse", "HEAD").strip()
    sha = _commit_entry(clone, "160000", head, "patterns/vendor", "vendor patterns")
    return "patterns/vendor", sha


def _gitattributes(clone: Path) -> tuple[str, str]:
    blob = _blob(clone, "* merge=ours\n")
    return ".gitattributes", _commit_entry(clone, "100644", blob, ".gitattributes", "attributes")


def _unknown_path(clone: Path) -> tuple[str, str]:
    blob = _blob(clone, "hello\n")
    return "notes/todo.txt", _commit_entry(clone, "100644", blob, "notes/todo.txt", "a note")


def _symlink_added_then_removed(clone: Path) -> tuple[str, str]:
    path, sha = _symlink(clone)
    git(clone, "rm", "-q", "--cached", "--", path)
    git(clone, "commit", "-q", "-m", "remove it again")
    return path, sha  # the tip is clean, but a commit on the way holds the link


BAD: dict[str, Callable[[Path], tuple[str, str]]] = {
    "symlink": _symlink,
    "submodule": _submodule,
    "gitattributes": _gitattributes,
    "unknown-path": _unknown_path,
    "symlink-in-the-middle": _symlink_added_then_removed,
}


@pytest.mark.parametrize("kind", list(BAD))
def test_sync_refuses_what_the_ledger_never_holds(shared: tuple[Store, Path, Path], kind: str) -> None:
    alice, _, clone = shared
    path, bad_commit = BAD[kind](clone)
    subject = git(clone, "log", "-1", "--format=%s", bad_commit).strip()
    git(clone, "push", "-q", "origin", "HEAD:main")
    before = alice.ledger.head()

    out = subprocess.run(
        [sys.executable, "-m", "factorops", "sync", "--project", str(alice.datadir.root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0, out.stdout
    assert path in out.stderr and bad_commit[:10] in out.stderr and subject in out.stderr, out.stderr
    assert "nothing was merged" in out.stderr
    ledger = alice.datadir.ledger_path
    assert git(ledger, "rev-parse", "HEAD").strip() == before
    assert path not in git(ledger, "ls-tree", "-r", "--name-only", "HEAD").split("\n")
    assert not (ledger / path).is_symlink() and not (ledger / path).exists()
    assert git(ledger, "status", "--porcelain") == ""
    assert not (ledger / ".git" / "MERGE_HEAD").exists()


def test_a_clean_teammate_commit_still_merges(shared: tuple[Store, Path, Path]) -> None:
    """The check passes what factorops itself writes (the refusal is not a blanket one)."""
    alice, _, clone = shared
    blob = _blob(clone, "---\nid: pat-x\n---\n")
    _commit_entry(clone, "100644", blob, "patterns/pat-20261125-120000-1a2b3c4d.md", "pattern: add")
    git(clone, "push", "-q", "origin", "HEAD:main")
    result = sync(alice, SyncInput())
    assert result.fetched_commits == 1 and result.merge == "fast-forward"
