"""The store on real SQLite files and real git ledgers: writes, atomicity, catch-up, rebuild."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from factorops.store.datadir import DataDir
from factorops.store.ledger import LedgerError
from factorops.store.store import HEAD_KEY, Store
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions

from .conftest import Clock, git


def _rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: store.db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("sessions", "checkpoints")
    }


def _fill(store: Store, clock: Clock) -> str:
    s = sessions.start(store, sessions.SessionStartInput(goal="ship the store"), clock())
    for i in range(3):
        clock.advance(minutes=5)
        sessions.checkpoint(
            store,
            sessions.CheckpointInput(
                session_id=s.session_id, summary=f"step {i}", next_steps=[f"n{i}"], files_touched=["a.py"]
            ),
            clock(),
        )
    other = sessions.start(store, sessions.SessionStartInput(goal="second"), clock())
    sessions.end(store, sessions.SessionEndInput(session_id=other.session_id, outcome="failed"), clock())
    return s.session_id


def test_open_creates_data_dir_with_gitignore(project: Path) -> None:
    store = Store.open(DataDir.for_project(project), components())
    dd = store.datadir
    assert dd.db_path.exists() and (dd.ledger_path / ".git").is_dir()
    ignore = (dd.path / ".gitignore").read_text()
    assert "*" in ignore and "!config.toml" in ignore
    # The user's repository does not see the data dir.
    assert ".agentops" not in git(project, "status", "--porcelain")
    # ... except the shared settings file, which a team may commit.
    dd.config_path.write_text("# gates\n")
    assert git(project, "status", "--porcelain", "-uall").strip() == "?? .agentops/config.toml"
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()


def test_each_write_is_one_commit_with_trailers(store: Store, clock: Clock) -> None:
    before = int(git(store.ledger.path, "rev-list", "--count", "HEAD"))
    s = sessions.start(store, sessions.SessionStartInput(goal="g"), clock())
    c = sessions.checkpoint(store, sessions.CheckpointInput(session_id=s.session_id, summary="x"), clock())
    assert int(git(store.ledger.path, "rev-list", "--count", "HEAD")) == before + 2
    body = git(store.ledger.path, "log", "-1", "--format=%B")
    assert f"Session: {s.session_id}" in body and "Factor: VI" in body
    assert c.commit == store.ledger.head()
    assert store.index.get_meta(HEAD_KEY) == c.commit


def test_rebuild_reproduces_the_same_rows(store: Store, clock: Clock) -> None:
    _fill(store, clock)
    before = _rows(store)
    result = store.rebuild()
    assert result.full_rebuild and result.files == 6 and result.unknown == 0
    assert _rows(store) == before


def test_rebuild_from_a_deleted_database(project: Path, clock: Clock) -> None:
    dd = DataDir.for_project(project)
    store = Store.open(dd, components())
    _fill(store, clock)
    before = _rows(store)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(dd.db_path) + suffix).unlink(missing_ok=True)
    reopened = Store.open(dd, components())
    assert _rows(reopened) == before
    reopened.close()


def test_catch_up_indexes_commits_the_index_missed(store: Store, clock: Clock) -> None:
    """A process killed between the ledger commit and the SQLite write leaves the index behind."""
    sid = _fill(store, clock)
    ledger_dir = store.db.execute("SELECT ledger_dir FROM sessions WHERE id = ?", [sid]).fetchone()[0]
    record = (
        b'{"created_at": "2026-11-25T13:00:00.000000+00:00", "decisions": [], "files_touched": [], '
        b'"id": "ckp-late", "next_steps": ["resume here"], "open_questions": [], '
        b'"session_id": "' + sid.encode() + b'", "summary": "written before the crash"}'
    )
    with store.ledger.locked():  # the ledger half of a write, as a killed process would leave it
        store.ledger.commit({f"{ledger_dir}/checkpoints/ckp-late.json": record}, "checkpoint", {})
    assert store.db.execute("SELECT 1 FROM checkpoints WHERE id = 'ckp-late'").fetchone() is None
    result = store.catch_up()
    assert not result.full_rebuild and result.files == 1
    row = store.db.execute("SELECT seq, summary FROM checkpoints WHERE id = 'ckp-late'").fetchone()
    assert row == (4, "written before the crash")
    assert store.index.get_meta(HEAD_KEY) == store.ledger.head()
    state = sessions.resume(store, sessions.SessionResumeInput(session_id=sid), clock())
    assert state.next_steps == ["resume here"] and state.checkpoints == 4


def test_failed_index_undoes_the_ledger_commit(store: Store, clock: Clock) -> None:
    head = store.ledger.head()

    def broken(db: object, sha: str) -> None:
        raise RuntimeError("index failed")

    with pytest.raises(RuntimeError, match="^index failed$"):
        store.write({"sessions/2026-11/x/session.json": b"{}"}, "m", {"Factor": "I"}, broken)
    assert store.ledger.head() == head
    assert not (store.ledger.path / "sessions/2026-11/x/session.json").exists()
    assert git(store.ledger.path, "status", "--porcelain") == ""


def test_refuses_ledger_paths_outside_the_ledger(store: Store) -> None:
    for bad in ("../escape.json", "/etc/passwd", ".git/config"):
        with pytest.raises(LedgerError, match=re.escape(f"refusing ledger path '{bad}'")):
            store.write({bad: b"x"}, "m", {}, lambda db, sha: None)
    assert git(store.ledger.path, "status", "--porcelain") == ""


def test_recover_cleans_debris_of_a_killed_writer(project: Path, clock: Clock) -> None:
    """What a writer killed mid-commit leaves (git's lock, its temp file, the record it was writing,
    named in its pending note) goes on the next open; a person's own file in the ledger stays."""
    dd = DataDir.for_project(project)
    store = Store.open(dd, components())
    _fill(store, clock)
    store.close()
    git_dir = dd.ledger_path / ".git"
    (dd.ledger_path / "sessions" / "orphan.json").write_text("{half")
    (dd.ledger_path / "sessions" / ".orphan.json.tmp").write_text("{ha")
    git(dd.ledger_path, "add", "--", "sessions/orphan.json")  # killed after `git add`
    (git_dir / "index.lock").write_text("")
    (git_dir / "factorops-pending").write_text('["sessions/orphan.json"]')
    (dd.ledger_path / "NOTES.md").write_text("a person's note\n")
    with Store.open(dd, components()) as reopened:
        assert git(dd.ledger_path, "status", "--porcelain") == "?? NOTES.md\n"
        assert (dd.ledger_path / "NOTES.md").read_text() == "a person's note\n"
        assert not (git_dir / "factorops-pending").exists() and not (git_dir / "index.lock").exists()
        sessions.start(reopened, sessions.SessionStartInput(goal="after crash"), clock())
        ok, _ = reopened.ledger.fsck()
        assert ok
    assert (dd.ledger_path / "NOTES.md").exists()


def test_migrations_are_recorded_once(store: Store) -> None:
    ids = [r[0] for r in store.db.execute("SELECT id FROM schema_migrations").fetchall()]
    assert "sessions-001" in ids
    assert store.index.migrate(components()) == []


def test_integrity_check_ok(store: Store, clock: Clock) -> None:
    _fill(store, clock)
    conn = sqlite3.connect(store.datadir.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
