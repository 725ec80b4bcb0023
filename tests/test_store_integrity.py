"""The store's integrity as people meet it: hand edits in the ledger, records that do not index, a
damaged index database, a data dir that cannot be written. Through the CLI (a real subprocess) and
the MCP client, on real files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.ledger_layout import pattern_path

from .conftest import GIT_ENV, git

PATTERN = pattern_path("starter-chmod-recursive-777")
TITLE = 'title: "Warn on recursive chmod 777"'


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args, "--project", str(project)], capture_output=True, text=True
    )


def init(project: Path, *extra: str) -> Path:
    out = cli(project, "init", *extra)
    assert out.returncode == 0, out.stderr
    return project / ".agentops"


def ledger_git(ledger: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ledger, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


def one_line_storage_error(out: subprocess.CompletedProcess[str]) -> str:
    """A storage problem is one line on stderr that says what to do; no traceback."""
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if not line.startswith("factorops WARNING")]
    assert len(lines) == 1, out.stderr
    assert "storage: " in lines[0]
    return lines[0]


# -- item 10: a person's edits in the ledger are kept ---------------------------------------------------


def test_hand_edits_in_the_ledger_are_kept_and_the_fix_is_told(project: Path) -> None:
    data = init(project)
    ledger = data / "ledger"
    edited = (ledger / PATTERN).read_text().replace(TITLE, 'title: "Chmod 777, edited by hand"')
    assert edited != (ledger / PATTERN).read_text()
    (ledger / PATTERN).write_text(edited)
    (ledger / "patterns" / "NOTES.txt").write_text("my notes\n")

    listed = cli(project, "patterns", "list")
    assert listed.returncode == 0, listed.stderr
    assert (ledger / PATTERN).read_text() == edited  # not reset
    assert (ledger / "patterns" / "NOTES.txt").read_text() == "my notes\n"  # not cleaned
    assert PATTERN in listed.stderr and "patterns/NOTES.txt" in listed.stderr
    assert f"git -C {ledger} add" in listed.stderr and "commit" in listed.stderr
    assert "factorops rebuild" in listed.stderr
    # Uncommitted, so not indexed: the index still shows the committed title.
    assert "Warn on recursive chmod 777" in listed.stdout

    doc = cli(project, "doctor")
    assert doc.returncode == 1
    assert f"FAIL ledger file changed but not committed (kept, not indexed): {PATTERN}" in doc.stdout
    assert f"git -C {ledger} add -- {PATTERN}" in doc.stdout and "factorops rebuild" in doc.stdout
    assert (ledger / PATTERN).read_text() == edited  # doctor changes nothing
    fixed = cli(project, "doctor", "--fix")
    assert (ledger / PATTERN).read_text() == edited, fixed.stdout  # nor does --fix: it is a person's
    assert (ledger / "patterns" / "NOTES.txt").exists()

    # Doing what it says makes the edit count.
    ledger_git(ledger, "add", "--", PATTERN)
    ledger_git(ledger, "commit", "-q", "-m", "Retitle by hand")
    (ledger / "patterns" / "NOTES.txt").unlink()
    assert cli(project, "rebuild").returncode == 0
    assert "Chmod 777, edited by hand" in cli(project, "patterns", "list").stdout
    assert cli(project, "doctor").returncode == 0


# -- item 11: doctor inspects before it repairs ---------------------------------------------------------


def test_doctor_fails_on_a_committed_record_that_cannot_be_indexed(project: Path) -> None:
    ledger = init(project) / "ledger"
    broken = "patterns/pat-20261125-120000-0badf11e.md"
    (ledger / broken).write_text("---\nid: [not closed\n---\n# Broken\n")
    ledger_git(ledger, "add", "--", broken)
    ledger_git(ledger, "commit", "-q", "-m", "A broken record")

    doc = cli(project, "doctor")
    assert doc.returncode == 1
    assert "FAIL index is behind the ledger" in doc.stdout  # seen before any catch-up
    assert f"FAIL ledger record cannot be indexed: {broken}" in doc.stdout
    fixed = cli(project, "doctor", "--fix")
    assert "fixed: caught the index up" in fixed.stdout
    assert fixed.returncode == 1 and f"FAIL ledger record cannot be indexed: {broken}" in fixed.stdout
    assert "index is at ledger head" in fixed.stdout
    again = cli(project, "doctor")
    assert again.returncode == 1 and broken in again.stdout


def test_doctor_fix_removes_only_a_killed_writers_debris(project: Path) -> None:
    ledger = init(project) / "ledger"
    (ledger / "patterns" / ".pat-x.md.tmp").write_text("half")
    (ledger / ".git" / "index.lock").write_text("")
    doc = cli(project, "doctor")
    assert doc.returncode == 1 and "FAIL debris of a killed writer in the ledger" in doc.stdout
    assert (ledger / ".git" / "index.lock").exists()  # inspecting changed nothing
    fixed = cli(project, "doctor", "--fix")
    assert fixed.returncode == 0, fixed.stdout
    assert "fixed: removed the debris of a killed writer" in fixed.stdout
    assert not (ledger / ".git" / "index.lock").exists()
    assert git(ledger, "status", "--porcelain") == ""


# -- item 13: storage problems are clear errors everywhere -----------------------------------------------


def corrupt(db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with db.open("r+b") as fh:
        fh.write(b"\xde\xad\xbe\xef" * 1024)


async def assert_mcp_storage_errors(runtime: Runtime, *expect: str) -> None:
    try:
        async with Client(build_app(runtime)) as c:
            for name, args in (
                ("session_start", {"goal": "anything"}),
                ("guardrail_check", {"action": "anything"}),
            ):
                r = await c.call_tool(name, args)
                message = r.content[0].text  # type: ignore[union-attr]
                # The SDK prefixes "Error executing tool NAME: "; what follows must say what happened.
                assert r.is_error and "storage: " in message, message
                for word in expect:
                    assert word in message, message
            with pytest.raises(MCPError) as raised:
                await c.read_resource("agentops://guardrails")
            assert "storage: " in str(raised.value)
            for word in expect:
                assert word in str(raised.value)
    finally:
        runtime.close()


async def test_a_corrupt_index_is_a_clear_storage_error(project: Path) -> None:
    data = init(project)
    corrupt(data / "agentops.db")
    await assert_mcp_storage_errors(
        Runtime(project=project, use_roots=False), "agentops.db", "factorops doctor --fix"
    )
    line = one_line_storage_error(cli(project, "approvals"))
    assert "agentops.db" in line and "factorops doctor --fix" in line
    # The advice works.
    assert cli(project, "doctor", "--fix").returncode == 0
    assert cli(project, "approvals").returncode == 0


async def test_a_file_where_the_data_dir_should_be(project: Path, tmp_path: Path) -> None:
    """Root-proof: no permission bit stops root, but a file in the way stops everyone."""
    blocker = tmp_path / "data"
    blocker.write_text("not a folder\n")
    await assert_mcp_storage_errors(Runtime(project=project, data_dir=blocker, use_roots=False), str(blocker))
    line = one_line_storage_error(cli(project, "init", "--data-dir", str(blocker)))
    assert str(blocker) in line
    assert blocker.read_text() == "not a folder\n"


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` (a data dir on its own tmpfs when we are root) really read-only.

    chmod does not stop root, so as root the tmpfs is remounted read-only (the kernel refuses every
    write); as another user chmod 0500 does it.
    """
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(0o700)
        return
    subprocess.run(["mount", "-o", "remount,ro", str(path.parent)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path.parent)], check=True, capture_output=True)


@contextmanager
def own_filesystem(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True)
    if os.geteuid() == 0:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(path)], capture_output=True, text=True
        )
        assert mounted.returncode == 0, f"as root, mounting a tmpfs must work: {mounted.stderr}"
    try:
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


async def test_a_read_only_data_dir_is_a_clear_storage_error(project: Path, tmp_path: Path) -> None:
    with own_filesystem(tmp_path / "disk") as disk:
        data = disk / "data"
        out = cli(project, "init", "--data-dir", str(data))
        assert out.returncode == 0, out.stderr
        with read_only(data):
            line = one_line_storage_error(cli(project, "approvals", "--data-dir", str(data)))
            assert str(data) in line and ("Read-only" in line or "Permission denied" in line), line
            await assert_mcp_storage_errors(
                Runtime(project=project, data_dir=data, use_roots=False), str(data)
            )
            doc = cli(project, "doctor", "--data-dir", str(data))
            assert doc.returncode == 1 and "Traceback" not in doc.stderr
            assert f"FAIL data dir writable: {data}" in doc.stdout
        assert cli(project, "approvals", "--data-dir", str(data)).returncode == 0
