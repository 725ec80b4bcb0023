"""Team sharing through git: pull the ledger from a remote, merge, index what arrived, push.

The distributed engine is git itself. Nearly every record is an append-only file with a unique id
(sessions, checkpoints, approvals, validations), so two teammates' histories merge without touching
the same path. We merge rather than rebase: a rebase would rewrite our own commits, whose shas the
index stores, and force a full rebuild, while a merge keeps every sha and lets `Store.catch_up`
index just the commits that came in.

The few files edited in place (a pattern promoted on one machine and retired on another, or a
ledger README that differs) are resolved by one rule both sides apply identically, so they converge
without a person: the version from the most recent commit wins (ties: the larger blob id); the other
version stays in git history and the path is reported. `Ledger.commit` writes only inside the lock,
so the merge holds the ledger lock from merge to index catch-up; network traffic (fetch, push)
happens outside it so local writers are not held up by a slow remote.

Whoever can push to the remote is not trusted with this machine: before anything is merged, every
tree entry the fetched commits add or change is checked (`_refuse_foreign`). The ledger holds
regular files at the paths of known record kinds, nothing else: a symbolic link (say
`sessions/2026-11 -> /home/me`) would make our own writes and the indexer reach outside the ledger,
and a submodule or a `.gitattributes` would hand the remote a say in how git treats our tree.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from factorops.store import git as gitrun
from factorops.store.components import RecordKind
from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError

REMOTE = "origin"
BRANCH = "main"
PUSH_ATTEMPTS = 5
NETWORK_TIMEOUT_S = 300.0
REGULAR_MODES = ("100644", "100755")
LEDGER_FILES = ("README.md",)  # files at the ledger's top that no record kind describes
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_MODE_NAMES = {"120000": "a symbolic link", "160000": "a submodule (gitlink)", "040000": "a directory"}


class SyncInput(BaseModel):
    remote: str | None = Field(
        default=None, max_length=2000, description="git URL or path; remembered in the ledger's git config"
    )


class SyncResult(CompactModel):
    remote: str
    fetched_commits: int = 0  # commits that arrived from the remote
    merge: str = "none"  # none | fast-forward | merge
    indexed: int = 0  # ledger files the SQLite index caught up on
    pushed: bool = False
    resolved: list[str] = Field(default_factory=list)  # in-place files both sides changed (newest won)
    index_errors: list[str] = Field(default_factory=list)


class SyncError(DomainError):
    """git refused (unreachable remote, rejected push, a merge we cannot resolve)."""


@dataclass
class _Git:
    path: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        try:
            proc = gitrun.run_text(
                self.path,
                *gitrun.NO_HOOKS,
                *args,
                env={**gitrun.LEDGER_IDENTITY, "GIT_MERGE_AUTOEDIT": "no", **self.env},
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise SyncError(
                "remote", f"git {args[0]} did not finish in {timeout:.0f} s; check the remote"
            ) from exc
        if check and proc.returncode != 0:
            raise SyncError("remote", f"git {args[0]} failed: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def out(self, *args: str, timeout: float = 60.0) -> str:
        return self.run(*args, timeout=timeout).stdout.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0


def configured_remote(store: Store) -> str | None:
    """The remote URL remembered in the ledger's git config, if any."""
    proc = _Git(store.ledger.path).run("remote", "get-url", REMOTE, check=False)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _set_remote(g: _Git, url: str) -> None:
    if url.startswith("-") or "\0" in url or "\n" in url:
        raise SyncError("remote", f"{url!r} is not a git URL or path")
    if g.ok("remote", "get-url", REMOTE):
        g.out("remote", "set-url", REMOTE, url)
    else:
        g.out("remote", "add", REMOTE, url)


def sync(store: Store, inp: SyncInput) -> SyncResult:
    """Fetch, merge, catch the index up, push; retried when a teammate pushed in between."""
    g = _Git(store.ledger.path)
    if inp.remote:
        _set_remote(g, inp.remote)
    url = configured_remote(store)
    if url is None:
        raise SyncError("remote", "no remote configured; pass --remote URL once (it is remembered)")
    result = SyncResult(remote=url)
    for _ in range(PUSH_ATTEMPTS):
        g.out("fetch", "--quiet", "--no-tags", REMOTE, timeout=NETWORK_TIMEOUT_S)
        head = _merge_and_index(store, g, result)
        push = g.run(
            "push", "--quiet", "--porcelain", REMOTE, f"{head}:refs/heads/{BRANCH}", check=False,
            timeout=NETWORK_TIMEOUT_S,
        )  # fmt: skip
        if push.returncode == 0:
            result.pushed = True
            return result
        if "rejected" not in push.stdout and "non-fast-forward" not in push.stderr + push.stdout:
            raise SyncError("remote", f"git push failed: {(push.stderr or push.stdout).strip()}")
        # Someone pushed between our fetch and our push: fetch and merge again.
    raise SyncError("remote", f"the remote kept moving; {PUSH_ATTEMPTS} push attempts were rejected, retry")


def _merge_and_index(store: Store, g: _Git, result: SyncResult) -> str:
    """Merge the fetched branch into the ledger and index it; returns the head to push."""
    theirs_ref = f"refs/remotes/{REMOTE}/{BRANCH}"
    with store.ledger.locked():
        if (g.path / ".git" / "MERGE_HEAD").exists():  # a sync killed mid-merge
            g.run("merge", "--abort", check=False)
        store.ledger.recover()  # a clean tree: nothing half-written by a killed writer
        ours = store.ledger.head()
        if g.ok("rev-parse", "--verify", "--quiet", theirs_ref):
            theirs = g.out("rev-parse", theirs_ref)
            if not g.ok("merge-base", "--is-ancestor", theirs, ours):
                _refuse_foreign(store, g, ours, theirs)
                result.fetched_commits += int(g.out("rev-list", "--count", theirs, f"^{ours}"))
                if g.ok("merge-base", "--is-ancestor", ours, theirs):
                    g.out("merge", "--quiet", "--ff-only", theirs)
                    result.merge = "fast-forward"
                else:
                    result.resolved += _merge(g, theirs)
                    result.merge = "merge"
        caught = store.catch_up()
        result.indexed += caught.files
        result.index_errors += list(caught.errors)
        return store.ledger.head()


def _refuse_foreign(store: Store, g: _Git, ours: str, theirs: str) -> None:
    """Refuse the fetched history if any commit in it brings something the ledger never holds.

    `git log --raw -m --root` lists, for each fetched commit, every entry it adds or changes
    against each of its parents (a root commit: against the empty tree). Every entry of a fetched
    tree is either listed there or inherited from a parent that is already ours or is checked
    here too, so this sees every entry any fetched commit holds, even one added and removed again
    before the tip, at the cost of the changes rather than of the whole trees.
    """
    out = g.run(
        "log", "-z", "--raw", "-m", "--root", "--no-renames", "--no-abbrev", "--format=%x01%H %s",
        theirs, f"^{ours}", "--",
    ).stdout  # fmt: skip
    kinds = [k for c in store.components for k in c.kinds]
    problems: list[str] = []
    commit = "?"
    mode = ""
    want_path = False
    for tok in out.split("\0"):
        if want_path:
            want_path = False
            why = _why_foreign(tok, mode, kinds)
            if why and len(problems) < 5:
                problems.append(f"{tok!r} ({why}), brought by commit {commit}")
            continue
        tok = tok.lstrip("\n")
        if tok.startswith("\x01"):
            sha, _, subject = tok[1:].partition(" ")
            commit = f"{sha[:10]} {subject[:80]!r}"
        elif tok.startswith(":"):
            fields = tok[1:].split(" ")
            mode = fields[1] if len(fields) >= 5 else "?"
            want_path = True
    if problems:
        raise SyncError(
            "remote",
            "refusing to merge the remote ledger: it holds "
            + "; ".join(problems)
            + ". The ledger keeps only regular record files, so nothing was merged and this ledger "
            f"is unchanged. Inspect it with `git -C {g.path} log --stat {REMOTE}/{BRANCH}`; whoever "
            "pushed it must remove it from the remote's history.",
        )


def _why_foreign(path: str, mode: str, kinds: list[RecordKind]) -> str | None:
    """Why a fetched tree entry may not enter the ledger, or None when it may."""
    if mode == "000000":  # deleted: nothing arrives
        return None
    if mode not in REGULAR_MODES:
        return _MODE_NAMES.get(mode, f"git mode {mode}") + ", not a regular file"
    if not all(_SAFE_SEGMENT.fullmatch(part) for part in path.split("/")):
        return "a path with a hidden, empty or unusual segment"
    if path in LEDGER_FILES or any(k.matches(path) for k in kinds):
        return None
    return "not a path of any ledger record kind this factorops knows"


def _merge(g: _Git, theirs: str) -> list[str]:
    msg = "ledger: sync merge\n\nFactor: I"
    proc = g.run(
        "merge", "--quiet", "--no-ff", "--no-commit", "--allow-unrelated-histories", theirs, check=False
    )
    if proc.returncode == 0:
        g.out("commit", "--quiet", "--no-verify", "-m", msg)
        return []
    conflicted = [p for p in g.out("diff", "--name-only", "--diff-filter=U", "-z").split("\0") if p]
    if not conflicted:  # failed for another reason (e.g. a dirty tree): leave nothing behind
        g.run("merge", "--abort", check=False)
        raise SyncError("remote", f"git merge failed: {(proc.stderr or proc.stdout).strip()}")
    try:
        for path in conflicted:
            _take_newest(g, path, theirs)
        g.out("commit", "--quiet", "--no-verify", "-m", msg + f"\nResolved: {', '.join(conflicted)}")
    except BaseException:
        g.run("merge", "--abort", check=False)
        raise
    return conflicted


def _side(g: _Git, rev: str, path: str) -> tuple[int, str] | None:
    """(commit time of the last change to `path` on `rev`, blob id), or None if absent there."""
    blob = g.run("rev-parse", "--verify", "--quiet", f"{rev}:{path}", check=False).stdout.strip()
    if not blob:
        return None
    when = g.out("log", "-1", "--format=%ct", rev, "--", path)
    return int(when or 0), blob


def _take_newest(g: _Git, path: str, theirs: str) -> None:
    mine, other = _side(g, "HEAD", path), _side(g, theirs, path)
    winner = "theirs" if mine is None or (other is not None and other > mine) else "ours"
    if (winner == "ours" and mine is None) or (winner == "theirs" and other is None):
        g.out("rm", "--quiet", "--cached", "--ignore-unmatch", "--", path)
        (g.path / path).unlink(missing_ok=True)
        return
    g.out("checkout", f"--{winner}", "--", path)
    g.out("add", "--", path)
