"""The `factorops` command line, run as a real subprocess the way a person runs it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factorops import __version__
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factorops", *args], capture_output=True, text=True, cwd=cwd)


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"factorops {__version__}"
    top = run("--help")
    assert top.returncode == 0
    for name in ("serve", "init", "doctor", "rebuild"):
        assert name in top.stdout
        sub = run(name, "--help")
        assert sub.returncode == 0 and "--project" in sub.stdout, name


def test_init_is_idempotent_and_doctor_passes(project: Path) -> None:
    first = run("init", "--project", str(project))
    assert first.returncode == 0, first.stderr
    assert "data dir ready" in first.stdout
    again = run("init", "--project", str(project))
    assert again.returncode == 0
    doc = run("doctor", "--project", str(project))
    assert doc.returncode == 0, doc.stdout
    assert "0 failed" in doc.stdout and "ledger git fsck clean" in doc.stdout


def test_doctor_without_data_dir_says_how_to_fix(project: Path) -> None:
    doc = run("doctor", "--project", str(project))
    assert doc.returncode == 1
    assert "factorops init --project" in doc.stdout


def test_doctor_reports_a_corrupt_database_and_fix_rebuilds_it(project: Path) -> None:
    assert run("init", "--project", str(project)).returncode == 0
    db = project / ".agentops" / "agentops.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with db.open("r+b") as fh:  # overwrite the header and the first pages
        fh.write(b"this is not a database" * 100)
    doc = run("doctor", "--project", str(project))
    assert doc.returncode == 1
    assert "FAIL index database unreadable" in doc.stdout and str(db) in doc.stdout
    assert "factorops doctor --fix" in doc.stdout
    assert "Traceback" not in doc.stdout + doc.stderr
    # Following the advice repairs it: the ledger is the truth; the damaged file is kept aside.
    fixed = run("doctor", "--fix", "--project", str(project))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed: the index could not be read" in fixed.stdout and "rebuilt the index" in fixed.stdout
    assert (db.parent / "agentops.db.unreadable-1").exists()
    again = run("doctor", "--project", str(project))
    assert again.returncode == 0, again.stdout
    assert "guardrails active" in again.stdout  # the starters came back from the ledger
    # `rebuild` copes with an unreadable index the same way.
    db.write_bytes(b"garbage" * 1000)
    rebuilt = run("rebuild", "--project", str(project))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run("doctor", "--project", str(project)).returncode == 0


def test_rebuild_restores_the_index_from_the_ledger(project: Path) -> None:
    dd = DataDir.for_project(project)
    store = Store.open(dd, components())
    now = datetime(2026, 11, 25, tzinfo=UTC)
    s = sessions.start(store, sessions.SessionStartInput(goal="rebuild me"), now)
    sessions.checkpoint(store, sessions.CheckpointInput(session_id=s.session_id, summary="kept"), now)
    before = store.db.execute("SELECT * FROM checkpoints").fetchall()
    store.close()
    conn = sqlite3.connect(dd.db_path)
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    conn.close()
    out = run("rebuild", "--project", str(project))
    assert out.returncode == 0, out.stderr
    assert "indexed 2 ledger records" in out.stdout
    conn = sqlite3.connect(dd.db_path)
    assert conn.execute("SELECT * FROM checkpoints").fetchall() == before
    conn.close()


def test_commands_refuse_a_missing_project(tmp_path: Path) -> None:
    out = run("rebuild", "--project", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert "is not a directory" in out.stderr and "Traceback" not in out.stderr


def test_rebuild_without_init_says_init_first(project: Path) -> None:
    out = run("rebuild", "--project", str(project))
    assert out.returncode == 2 and "factorops init" in out.stderr


@pytest.mark.parametrize("bad", [["frobnicate"], ["serve", "--bogus"]])
def test_unknown_commands_and_flags(bad: list[str]) -> None:
    out = run(*bad)
    assert out.returncode == 2 and "usage:" in out.stderr
