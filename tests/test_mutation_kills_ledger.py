"""The ledger's write path held to its promises, fast enough to run once per mutant (issue #14).

`bench/mutation.py ledger` breaks store/ledger.py one line at a time; the configured tests that
guard it (many servers writing at once, kill -9 mid-write) take minutes a run and tell few of the
lock's mutants apart. These tests check the same promises directly, on real git repositories and
real files, with real processes where the promise is about processes:

- the ledger lock excludes every other holder while held (another open file description in this
  process and another process see it taken), is re-entrant without letting go early, is released
  when left (also when a forked child still shares the descriptor) and leaks no descriptor;
- a read-only data dir still gets a lock that orders readers against writers, and a lock file that
  cannot be made says why (read-only file system);
- a commit refused or failed (a bad path, git refusing the ref update, a full disk) leaves the
  working tree, the git index, HEAD and the pending note exactly as before, and raises the cause;
- a writer killed mid-commit or mid-undo (SIGKILL while git runs, stopped by a git hook on a fifo:
  no sleeps) leaves a note naming its files, and the next open puts exactly those back;
- `recover` removes only our debris, reports it, and keeps (and reports) a person's edits;
- the background packer starts once a process has written the configured number of loose objects.

No wall clock: every wait is on a pipe or a process; the select timeouts only guard a hang.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from factorops.store.datadir import DataDir
from factorops.store.ledger import PENDING, Ledger, LedgerError
from factorops.store.store import Store
from factorops.tools.registry import components

from .conftest import git, tmpfs

HANG_GUARD = 120.0  # seconds; only ever reached when a test is broken, never a timing assert


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger.init(tmp_path / "ledger", tmp_path / "ledger.lock")
    yield led
    led.close()


def taken(lock: Path) -> bool:
    """Whether another holder has the flock on `lock` (asked through a new open file description,
    which is what another process has)."""
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the only descriptor also lets go of the probe's own lock
    return False


PROBE = "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\ntry:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n"


def taken_for_another_process(lock: Path) -> bool:
    r = subprocess.run([sys.executable, "-c", PROBE, str(lock)], capture_output=True, text=True)
    assert r.returncode in (0, 3), r.stderr
    return r.returncode == 3


def clean(ledger: Ledger) -> None:
    """Nothing of ours left over and nothing a person would see as changed."""
    assert git(ledger.path, "status", "--porcelain", "--untracked-files=all") == ""
    assert ledger.status().debris == () and ledger.status().dirty == ()
    assert not (ledger.path / ".git" / PENDING).exists()


def commit(ledger: Ledger, files: dict[str, bytes], message: str = "test: write") -> str:
    with ledger.locked():
        return ledger.commit(files, message, {"Factor": "I"})


# -- the lock --------------------------------------------------------------------------------------


def test_the_lock_is_held_for_other_processes_exactly_while_held(ledger: Ledger) -> None:
    lock = ledger.lock_path
    assert not taken(lock)
    with ledger.locked():
        assert taken(lock) and taken_for_another_process(lock)
    assert not taken(lock) and not taken_for_another_process(lock)
    # Entered again by the same thread after letting go: the flock is taken again, not assumed.
    with ledger.locked():
        assert taken(lock)
        ledger.commit({"a.md": b"again\n"}, "test: again", {"Factor": "I"})
    assert not taken(lock)


def test_a_hold_in_another_process_excludes_this_one(ledger: Ledger, tmp_path: Path) -> None:
    """A second server process holding `Ledger.locked()` keeps this one out until it lets go."""
    child = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from factorops.store.ledger import Ledger
        led = Ledger(Path(sys.argv[1]), Path(sys.argv[2]))
        with led.locked():
            print("held", flush=True)
            sys.stdin.readline()
        print("released", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child, str(ledger.path), str(ledger.lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline() == "held\n"
        assert taken(ledger.lock_path)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "released\n"
        assert proc.wait(HANG_GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with ledger.locked():
        assert taken(ledger.lock_path)


def test_the_lock_is_reentrant_and_the_inner_exit_keeps_the_outer_hold(ledger: Ledger) -> None:
    lock = ledger.lock_path
    with ledger.locked():
        with ledger.locked():
            with ledger.locked():
                assert taken(lock)
            assert taken(lock)
            ledger.commit({"inner.md": b"inner\n"}, "test: inner", {"Factor": "I"})
        # The nested holds are over; the outer one still holds the lock and may write.
        assert taken(lock)
        ledger.commit({"outer.md": b"outer\n"}, "test: outer", {"Factor": "I"})
    assert not taken(lock)
    with pytest.raises(LedgerError, match="without holding the ledger lock"):
        ledger.commit({"late.md": b"late\n"}, "test: late", {"Factor": "I"})
    assert not (ledger.path / "late.md").exists()
    assert git(ledger.path, "log", "--format=%s", "-2").split("\n")[:2] == ["test: outer", "test: inner"]


def test_leaving_the_lock_releases_it_even_when_a_forked_child_shares_the_descriptor(
    ledger: Ledger,
) -> None:
    """A process forked while the lock is held (multiprocessing's fork start method, any fork
    before exec) shares the lock's open file; closing our descriptor alone would leave the lock
    held by the child for as long as it lives."""
    release_r, release_w = os.pipe()
    with ledger.locked():
        pid = os.fork()
        if pid == 0:  # the child: wait for the parent's word, then leave without cleanup
            os.close(release_w)
            os.read(release_r, 1)
            os._exit(0)
    os.close(release_r)
    try:
        assert not taken(ledger.lock_path), "the lock stayed held after locked() was left"
    finally:
        os.write(release_w, b"x")
        os.close(release_w)
        os.waitpid(pid, 0)


def test_holding_the_lock_leaks_no_descriptor(ledger: Ledger) -> None:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("no /proc/self/fd")
    before = len(os.listdir(fds))
    for _ in range(20):
        with ledger.locked():
            pass
    assert len(os.listdir(fds)) == before


def test_a_read_only_data_dir_still_gets_a_lock_and_a_missing_lock_file_says_why(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        Ledger.init(disk / "ledger", disk / "ledger.lock").close()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)
        try:
            ro = Ledger(disk / "ledger", disk / "ledger.lock")
            with ro.locked():
                # Held through a read-only descriptor: a writer elsewhere still has to wait.
                assert taken(ro.lock_path)
                assert ro.status().dirty == ()
            assert not taken(ro.lock_path)
            # No lock file and none can be made: the error is the read-only file system, not
            # a missing file.
            with pytest.raises(OSError) as caught, Ledger(disk / "ledger", disk / "other.lock").locked():
                pass
            assert caught.value.errno == errno.EROFS, caught.value
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True, capture_output=True)


# -- commits refused or failed leave nothing behind ------------------------------------------------


def test_a_commit_outside_the_lock_is_refused_before_writing(ledger: Ledger) -> None:
    head = ledger.head()
    with pytest.raises(LedgerError, match="without holding the ledger lock"):
        ledger.commit({"a.md": b"x"}, "m", {})
    assert ledger.head() == head and not (ledger.path / "a.md").exists()
    clean(ledger)


def test_a_bad_path_refuses_the_whole_commit_before_anything_is_written(ledger: Ledger) -> None:
    head = ledger.head()
    for bad in ("../escape.md", "/etc/passwd", ".git/config"):
        with pytest.raises(LedgerError, match="refusing ledger path"):
            commit(ledger, {"sub/new.md": b"good\n", bad: b"bad\n"})
        assert not (ledger.path / "sub").exists(), bad  # not even the folder of the good file
    assert ledger.head() == head
    clean(ledger)


def install_hook(ledger: Ledger, body: str) -> Path:
    hook = ledger.path / ".git" / "hooks" / "reference-transaction"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\ncat > /dev/null\n" + body)
    hook.chmod(0o755)
    return hook


def test_a_commit_git_refuses_puts_files_index_and_note_back(ledger: Ledger) -> None:
    """`git update-ref` refusing (here: a hook aborting the ref update; in life another writer's
    ref or a full disk) after the files and the index entries were written: everything is put
    back, the error is raised."""
    commit(ledger, {"records/a.md": b"v1\n", "records/keep.md": b"kept\n"})
    head = ledger.head()
    hook = install_hook(ledger, '[ "$1" = prepared ] && exit 1\nexit 0\n')
    with pytest.raises(LedgerError, match="update-ref"):
        commit(ledger, {"records/a.md": b"v2\n", "records/new/b.md": b"new\n"})
    assert ledger.head() == head
    assert (ledger.path / "records/a.md").read_bytes() == b"v1\n"
    assert not (ledger.path / "records/new/b.md").exists()
    clean(ledger)
    hook.unlink()
    commit(ledger, {"records/a.md": b"v2\n"})
    assert git(ledger.path, "show", "HEAD:records/a.md") == "v2\n"
    clean(ledger)


def test_a_full_disk_raises_the_full_disk_and_leaves_the_records_alone(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "2m") as disk:
        led = Ledger.init(disk / "ledger", disk / "ledger.lock")
        try:
            head = led.head()
            with pytest.raises(OSError) as caught:
                commit(led, {"records/big.md": b"x" * (4 << 20)})
            assert caught.value.errno == errno.ENOSPC, repr(caught.value)
            assert led.head() == head and not (led.path / "records/big.md").exists()
            with led.locked():
                led.recover()  # the partial temp file is our debris
            clean(led)
        finally:
            led.close()


# -- what a commit writes ----------------------------------------------------------------------------


def test_a_nul_in_a_message_gets_a_visible_stand_in(ledger: Ledger) -> None:
    commit(ledger, {"a.md": b"a\n"}, "title with a \0 inside")
    assert git(ledger.path, "log", "-1", "--format=%B") == "title with a \\0 inside\n\nFactor: I\n\n"
    assert ledger.fsck()[0]
    clean(ledger)


def test_a_commit_returns_the_sha_it_moved_head_to(ledger: Ledger, project: Path) -> None:
    """The sha is what the store indexes the write under (and records as the index's head)."""
    parent = ledger.head()
    sha = commit(ledger, {"a.md": b"a\n"})
    assert sha == ledger.head() == git(ledger.path, "rev-parse", "HEAD").strip() != parent
    assert git(ledger.path, "rev-parse", f"{sha}^").strip() == parent
    with Store.open(DataDir.for_project(project), components()) as store:
        written, seen = store.write({"records/x/a.md": b"{}"}, "m", {"Factor": "I"}, lambda db, sha: sha)
        assert written == seen == store.ledger.head()


def test_a_commit_keeps_the_siblings_of_what_it_writes(ledger: Ledger) -> None:
    commit(ledger, {"records/a/one.md": b"1\n", "records/a/two.md": b"2\n", "top.md": b"t\n"})
    commit(ledger, {"records/a/three.md": b"3\n", "records/b/four.md": b"4\n"})
    files = set(git(ledger.path, "ls-tree", "-r", "--name-only", "HEAD").split())
    assert files == {
        "README.md",
        "top.md",
        "records/a/one.md",
        "records/a/two.md",
        "records/a/three.md",
        "records/b/four.md",
    }
    assert ledger.fsck()[0]
    clean(ledger)


def test_the_packer_starts_once_the_configured_number_of_loose_objects_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FACTOROPS_LEDGER_PACK_OBJECTS counts every loose object a process writes: blobs, trees and
    commits. A commit of one file two folders down writes five (blob, three trees, commit)."""
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_EVERY", "0")  # no trigger by commit count
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "5")
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_MIN_OBJECTS", "1")
    led = Ledger.init(tmp_path / "ledger", tmp_path / "ledger.lock")
    try:
        commit(led, {"records/x/one.md": b"one\n"})
        led.wait_packer()
        assert led.objects()["count"] == 0, led.objects()
        assert led.objects()["in-pack"] >= 8
    finally:
        led.close()
    monkeypatch.setenv("FACTOROPS_LEDGER_PACK_OBJECTS", "6")  # one more than that commit writes
    led = Ledger(tmp_path / "ledger", tmp_path / "ledger.lock")
    try:
        commit(led, {"records/y/two.md": b"two\n"})
        led.wait_packer()
        assert led.objects()["count"] == 5, led.objects()
    finally:
        led.close()


# -- recovery ----------------------------------------------------------------------------------------


def test_recover_removes_our_debris_only_and_says_what_it_did(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    commit(ledger, {"records/a.md": b"v1\n", "records/keep.md": b"kept\n"})
    head = ledger.head()
    root, gitdir = ledger.path, ledger.path / ".git"
    # What a writer killed mid-commit leaves: its note, a changed and a new file (the new one
    # already in the git index), a path it noted but never wrote, a temp file, git's lock.
    (root / "records/a.md").write_bytes(b"half\n")
    (root / "records/new.md").write_bytes(b"half\n")
    git(root, "update-index", "--add", "--", "records/new.md")
    (root / "records/.b.md.tmp").write_bytes(b"ha")
    (gitdir / "index.lock").write_bytes(b"")
    (gitdir / PENDING).write_text(json.dumps(["records/a.md", "records/new.md", "records/never.md"]))
    # A person's edits: a changed record and a note of their own.
    (root / "records/keep.md").write_bytes(b"kept, edited by hand\n")
    (root / "NOTES.md").write_bytes(b"mine\n")
    with caplog.at_level(logging.INFO, logger="factorops.store"), ledger.locked():
        result = ledger.recover()
    assert set(result.debris) == {
        ".git/index.lock",
        "records/a.md",
        "records/new.md",
        "records/never.md",
        "records/.b.md.tmp",
    }
    assert sorted(result.dirty_paths()) == ["NOTES.md", "records/keep.md"]
    assert ledger.head() == head
    assert (root / "records/a.md").read_bytes() == b"v1\n"
    assert not (root / "records/new.md").exists() and not (root / "records/never.md").exists()
    assert not (root / "records/.b.md.tmp").exists() and not (gitdir / "index.lock").exists()
    assert not (gitdir / PENDING).exists()
    assert (root / "records/keep.md").read_bytes() == b"kept, edited by hand\n"
    assert (root / "NOTES.md").read_bytes() == b"mine\n"
    status = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == [" M records/keep.md", "?? NOTES.md"]
    assert ledger.status().debris == ()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("records/keep.md" in m and "NOTES.md" in m and "git -C" in m for m in warned), warned
    told = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("removed the debris" in m and "records/new.md" in m for m in told), told


def test_recover_with_nothing_to_do_changes_nothing(ledger: Ledger) -> None:
    commit(ledger, {"records/a.md": b"v1\n"})
    with ledger.locked():
        result = ledger.recover()
    assert result.debris == () and result.dirty == ()
    clean(ledger)


def test_a_failed_index_write_undoes_the_commit_and_leaves_no_note(project: Path) -> None:
    with Store.open(DataDir.for_project(project), components()) as store:
        head = store.ledger.head()

        def broken(db: object, sha: str) -> None:
            raise RuntimeError("index failed")

        with pytest.raises(RuntimeError, match="index failed"):
            store.write({"records/x/new.md": b"{}"}, "m", {"Factor": "I"}, broken)
        assert store.ledger.head() == head
        assert not (store.ledger.path / "records/x/new.md").exists()
        clean(store.ledger)


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from factorops.store.datadir import DataDir
    from factorops.store.store import Store
    from factorops.tools.registry import components

    project, stage, armed = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    store = Store.open(DataDir.for_project(project), components())
    if stage == "commit":
        armed.write_text("")

    def index(db, sha):
        armed.write_text("")  # stage "undo": the hook stops the undo's ref update
        raise RuntimeError("the index write failed")

    store.write({"records/a.md": b"v2\\n", "records/new/b.md": b"new\\n"}, "m", {"Factor": "I"}, index)
    """
)


def kill_mid_write(project: Path, tmp_path: Path, stage: str) -> None:
    """Run a writer in its own process, stop it inside git's ref update (a hook that waits on a
    fifo: in the commit's update-ref before the ref moves, or in the undo's after it moved back),
    and SIGKILL its whole process group there, git and the hook included."""
    store = Store.open(DataDir.for_project(project), components())
    ledger = store.ledger
    store.close()
    reached, never = tmp_path / "reached.fifo", tmp_path / "never.fifo"
    os.mkfifo(reached)
    os.mkfifo(never)
    armed = tmp_path / "armed"
    state = "prepared" if stage == "commit" else "committed"
    hook = install_hook(
        ledger,
        f'[ "$1" = {state} ] && [ -e "{armed}" ] || exit 0\necho reached > "{reached}"\ncat "{never}"\n',
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(project), stage, str(armed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        fifo = os.open(reached, os.O_RDONLY | os.O_NONBLOCK)
        try:
            ready, _, _ = select.select([fifo, proc.stderr], [], [], HANG_GUARD)
            assert fifo in ready, f"the writer never reached git's ref update: {proc.stderr.read1(4096)!r}"
            assert os.read(fifo, 100) == b"reached\n"
        finally:
            os.close(fifo)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        hook.unlink()


@pytest.mark.parametrize("stage", ["commit", "undo"])
def test_a_writer_killed_mid_write_leaves_a_note_and_the_next_open_puts_its_files_back(
    project: Path, tmp_path: Path, stage: str
) -> None:
    with Store.open(DataDir.for_project(project), components()) as store:
        with store.ledger.locked():
            store.ledger.commit({"records/a.md": b"v1\n"}, "test: v1", {"Factor": "I"})
        head = store.ledger.head()
    kill_mid_write(project, tmp_path, stage)
    ledger_path = DataDir.for_project(project).ledger_path
    # Killed: the new files are on disk, named in the note.
    assert (ledger_path / "records/new/b.md").exists()
    assert set(json.loads((ledger_path / ".git" / PENDING).read_text())) == {
        "records/a.md",
        "records/new/b.md",
    }
    with Store.open(DataDir.for_project(project), components()) as store:
        assert store.ledger.head() == head
        assert (ledger_path / "records/a.md").read_bytes() == b"v1\n"
        assert not (ledger_path / "records/new/b.md").exists()
        clean(store.ledger)
        assert store.ledger.fsck()[0]


def test_doctor_fix_removes_a_pending_note_it_cannot_read(project: Path) -> None:
    """A writer killed while writing its pending note (the note is written before any file, and
    not atomically) leaves it empty. It names no file to put back, but it is our debris: `doctor`
    reports it, so `doctor --fix` must remove it (it used to be kept, and doctor failed on it until
    the next write)."""
    run = [sys.executable, "-m", "factorops"]
    init = subprocess.run(
        [*run, "init", "--project", str(project), "--no-starter"], capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    ledger = DataDir.for_project(project).ledger_path
    (ledger / ".git" / PENDING).write_text("")
    fixed = subprocess.run(
        [*run, "doctor", "--fix", "--project", str(project)], capture_output=True, text=True
    )
    out = fixed.stdout + fixed.stderr
    assert f"removed the debris of a killed writer: .git/{PENDING}" in fixed.stdout, out
    assert "ok   no debris of a killed writer in the ledger" in fixed.stdout, (
        out
    )  # doctor's check after the fix
    assert not (ledger / ".git" / PENDING).exists()


@pytest.mark.parametrize("note", ["[]", "{half", '{"not": "a list"}'])
def test_recover_removes_a_note_that_names_no_path(ledger: Ledger, note: str) -> None:
    commit(ledger, {"records/a.md": b"v1\n"})
    (ledger.path / ".git" / PENDING).write_text(note)
    with ledger.locked():
        assert ledger.recover().debris == (f".git/{PENDING}",)
    clean(ledger)
