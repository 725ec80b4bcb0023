"""`factorops sync`: two teammates' projects share one bare git repository as the remote.

Real stores, real git, real threads writing while syncs run. After the last sync both SQLite indexes
hold every record either side wrote, the ledgers are fsck-clean, and the index caught up by
indexing only what arrived.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factorops.store.datadir import DataDir
from factorops.store.ledger_layout import pattern_path
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.records import PatternRecordInput
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions
from factorops.tools.sessions.lifecycle import CheckpointInput, SessionStartInput
from factorops.tools.sharing.sync import SyncError, SyncInput, configured_remote, sync

from .conftest import git, new_repo


def now() -> datetime:
    return datetime.now(UTC)


def make_project(root: Path) -> Path:
    new_repo(root, {"README.md": f"# {root.name}\n"}, "initial commit")
    return root


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[Store, Store, Path]]:
    remote = tmp_path / "shared-ledger.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    a = Store.open(DataDir.for_project(make_project(tmp_path / "alice")), components())
    b = Store.open(DataDir.for_project(make_project(tmp_path / "bob")), components())
    yield a, b, remote
    a.close()
    b.close()


def ids(store: Store, table: str) -> set[str]:
    return {r[0] for r in store.db.execute(f"SELECT id FROM {table}").fetchall()}


def write_session(store: Store, goal: str, checkpoints: int) -> tuple[str, list[str]]:
    sid = sessions.start(store, SessionStartInput(goal=goal), now()).session_id
    cps = [
        sessions.checkpoint(
            store, CheckpointInput(session_id=sid, summary=f"{goal} {i}"), now()
        ).checkpoint_id
        for i in range(checkpoints)
    ]
    return sid, cps


def assert_healthy(store: Store) -> None:
    conn = sqlite3.connect(store.datadir.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    ok, out = store.ledger.fsck()
    assert ok, out
    assert store.index.get_meta("ledger_head") == store.ledger.head()
    assert git(store.ledger.path, "status", "--porcelain") == ""


def test_two_teammates_share_everything_through_a_bare_remote(team: tuple[Store, Store, Path]) -> None:
    a, b, remote = team
    a_sid, a_cps = write_session(a, "alice's work", 3)
    b_sid, b_cps = write_session(b, "bob's work", 2)

    first = sync(a, SyncInput(remote=str(remote)))
    assert first.pushed and first.merge == "none" and first.fetched_commits == 0
    second = sync(b, SyncInput(remote=str(remote)))  # unrelated histories: each side has its own root
    assert second.merge == "merge" and second.pushed
    assert second.indexed == 1 + 3  # alice's session and checkpoints, nothing re-indexed
    third = sync(a, SyncInput())  # the remote was remembered
    assert third.merge == "fast-forward" and third.indexed == 1 + 2
    assert configured_remote(a) == str(remote)

    for s in (a, b):
        assert ids(s, "sessions") == {a_sid, b_sid}
        assert ids(s, "checkpoints") == set(a_cps) | set(b_cps)
        assert_healthy(s)
    assert a.ledger.head() == b.ledger.head()
    # Nothing new: a sync is a no-op that still succeeds.
    again = sync(b, SyncInput())
    assert again.merge == "none" and again.indexed == 0 and again.pushed


def test_concurrent_writers_and_syncs_on_both_sides(team: tuple[Store, Store, Path]) -> None:
    a, b, remote = team
    sync(a, SyncInput(remote=str(remote)))
    sync(b, SyncInput(remote=str(remote)))
    written: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def writer(name: str, store: Store) -> None:
        try:
            for round_ in range(3):
                sid, cps = write_session(store, f"{name} round {round_}", 8)
                written[name] += [sid, *cps]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def syncer(store: Store) -> None:
        try:
            for _ in range(4):
                sync(store, SyncInput())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=("a", a)),
        threading.Thread(target=writer, args=("b", b)),
        threading.Thread(target=syncer, args=(a,)),
        threading.Thread(target=syncer, args=(b,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for s in (a, b, a):
        sync(s, SyncInput())
    everything = set(written["a"]) | set(written["b"])
    assert len(everything) == 2 * 3 * 9
    for s in (a, b):
        assert ids(s, "sessions") | ids(s, "checkpoints") == everything
        assert_healthy(s)
        # The incremental catch-up got the same rows a rebuild from the ledger alone would.
        before = ids(s, "checkpoints")
        s.rebuild()
        assert ids(s, "checkpoints") == before


def test_a_file_both_sides_changed_keeps_the_newest_on_both(team: tuple[Store, Store, Path]) -> None:
    a, b, remote = team
    rec = patterns.record(a, PatternRecordInput(title="Run the tests first", solution="pytest -x"), now())
    pid = rec.id
    sync(a, SyncInput(remote=str(remote)))
    sync(b, SyncInput(remote=str(remote)))
    patterns.set_status(a, pid, "active", now(), "alice")
    time.sleep(1.1)  # commit times have one-second resolution; make bob's edit the newer one
    patterns.set_status(b, pid, "retired", now(), "bob")
    sync(a, SyncInput())
    merged = sync(b, SyncInput())
    assert merged.resolved == [pattern_path(pid)]
    sync(a, SyncInput())
    for s in (a, b):
        assert patterns.get(s, pid).status == "retired"
        assert_healthy(s)
    # Alice's promotion is not lost: it stays in git history.
    log = git(a.ledger.path, "log", "--full-history", "--format=%s", "--", pattern_path(pid))
    assert "active" in log and "retired" in log


def test_differing_ledger_readmes_merge_the_same_way_on_both_sides(team: tuple[Store, Store, Path]) -> None:
    a, b, remote = team
    a.write({"README.md": b"# alice's ledger\n"}, "ledger: readme", {"Factor": "I"}, lambda db, sha: None)
    time.sleep(1.1)
    b.write({"README.md": b"# bob's ledger\n"}, "ledger: readme", {"Factor": "I"}, lambda db, sha: None)
    sync(a, SyncInput(remote=str(remote)))
    assert sync(b, SyncInput(remote=str(remote))).resolved == ["README.md"]
    sync(a, SyncInput())
    assert a.ledger.read("README.md") == b.ledger.read("README.md") == b"# bob's ledger\n"


def test_no_remote_and_bad_remotes_are_clear_errors(team: tuple[Store, Store, Path], tmp_path: Path) -> None:
    a, _, _ = team
    with pytest.raises(SyncError, match="--remote") as exc:
        sync(a, SyncInput())
    assert exc.value.field == "remote"
    with pytest.raises(SyncError, match="fetch failed"):
        sync(a, SyncInput(remote=str(tmp_path / "nowhere.git")))
    with pytest.raises(SyncError, match="not a git URL"):
        sync(a, SyncInput(remote="--upload-pack=touch /tmp/pwned"))
    assert_healthy(a)


def test_sync_command_line(team: tuple[Store, Store, Path]) -> None:
    a, b, remote = team
    write_session(b, "from bob", 1)
    sync(b, SyncInput(remote=str(remote)))
    project = str(a.datadir.root)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "factorops", "sync", "--project", project, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = run()
    assert missing.returncode == 2 and "--remote" in missing.stderr
    ok = run("--remote", str(remote))
    assert ok.returncode == 0, ok.stderr
    assert "2 record(s) indexed" in ok.stdout and "pushed" in ok.stdout
    assert run().returncode == 0
    a.index.close()  # the CLI wrote through its own connection: read fresh
    fresh = Store.open(a.datadir, components())
    assert len(ids(fresh, "sessions")) == 1
    fresh.close()
