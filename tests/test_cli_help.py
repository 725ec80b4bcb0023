"""`factorops --help` at every level: every command and argument says what it is for.

The tree is walked from `build_parser()`, so a command added later without a description fails
here; every leaf's `--help` is also run as a real subprocess, the way a person reads it.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from factorops.server.cli.main import build_parser
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.registry import components

from .conftest import commit_files, git


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, (*path, name))


def words(text: str) -> str:
    """argparse re-wraps descriptions (breaking lines at spaces and hyphens): compare them without
    whitespace."""
    return "".join(text.split())


PARSERS = list(walk(build_parser()))
LEAVES = [
    path
    for path, p in PARSERS
    if path and not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)
]


def test_the_tree_has_the_nested_commands() -> None:
    names = {" ".join(path) for path, _ in PARSERS}
    for expected in (
        "patterns show",
        "patterns promote",
        "patterns retire",
        "bundle export",
        "bundle import",
        "bundle verify",
        "token show",
        "token rotate",
        "agents import",
        "agents export",
        "starter install",
        "starter remove",
    ):
        assert expected in names


@pytest.mark.parametrize("path", [path for path, _ in PARSERS], ids=lambda p: " ".join(p) or "factorops")
def test_every_parser_and_argument_is_described(path: tuple[str, ...]) -> None:
    parser = dict(PARSERS)[path]
    where = " ".join(("factorops", *path))
    assert parser.description and parser.description.strip(), f"{where} has no description"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help is not argparse.SUPPRESS and action.help.strip(), (
            f"{where}: argument {name} has no help"
        )
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help and choice.help.strip(), f"{where} {choice.dest}: no one-line help"


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_leaf_help_prints_its_description_and_arguments(path: tuple[str, ...]) -> None:
    parser = dict(PARSERS)[path]
    out = subprocess.run(
        [sys.executable, "-m", "factorops", *path, "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    text = words(out.stdout)
    assert parser.description is not None and words(parser.description) in text
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help is None or "%(" in action.help:
            continue
        assert words(action.help) in text, f"{' '.join(path)}: help of {action.dest} not shown"


def read_until(fd: int, needle: str, limit_s: float = 30.0) -> str:
    """Read a pipe until `needle` shows up (or the process closes it, or the generous limit)."""
    seen = b""
    end = time.monotonic() + limit_s
    while needle.encode() not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_serve_in_a_terminal_says_it_waits_for_a_client(tmp_path: Path) -> None:
    """A person who runs `factorops serve` by hand sees why nothing happens and where to look."""
    project = tmp_path / "repo"
    project.mkdir()
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "factorops", "serve", "--project", str(project)],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    try:
        assert proc.stderr is not None
        err = read_until(proc.stderr.fileno(), "examples/")
        assert "waiting for an MCP client" in err, err
        assert "examples/" in err and "Ctrl-C" in err
        assert proc.poll() is None  # still serving, waiting on the terminal
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.close(primary)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_serve_over_a_pipe_prints_nothing_extra(tmp_path: Path) -> None:
    """A client's pipe is no terminal: the stderr hint is for people only."""
    project = tmp_path / "repo"
    project.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "factorops", "serve", "--project", str(project)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "waiting for an MCP client" not in out.stderr and out.stdout == ""


# -- advice: every `factorops ...` a command prints works when pasted as printed ----------------------
#
# The advice names the project and any non-default data dir, so it acts on the same data from any
# working directory: each test runs it from an unrelated directory.


def factorops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def advised(text: str, after: str) -> list[str]:
    """The command printed after `after` (up to the end of its line or a closing backtick)."""
    assert after in text, text
    rest = text.split(after, 1)[1].lstrip()
    line = rest.split("\n", 1)[0]
    line = line[1:].split("`", 1)[0] if line.startswith("`") else line.removesuffix(")")
    argv = shlex.split(line)
    assert argv and Path(argv[0]).name == "factorops", line
    return argv


def run_advice(argv: list[str], elsewhere: Path) -> subprocess.CompletedProcess[str]:
    """Run `factorops …` as printed, with this test's interpreter standing in for the script."""
    assert argv[0] == "factorops", argv
    return factorops(*argv[1:], cwd=elsewhere)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    d = tmp_path / "somewhere else"
    d.mkdir()
    return d


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data dir"  # a space too: the advice must quote it


def test_missing_data_advice_runs_init_on_the_same_data_dir(
    project: Path, data_dir: Path, elsewhere: Path
) -> None:
    for command in (["approvals"], ["token", "show"]):
        out = factorops(*command, "--project", str(project), "--data-dir", str(data_dir))
        assert out.returncode == 2, out
        argv = advised(out.stderr, "; run")
        assert argv[1] == "init" and str(data_dir) in argv
        assert run_advice(argv, elsewhere).returncode == 0
        assert (data_dir / "ledger" / ".git").is_dir() and not (project / ".agentops").exists()
        again = factorops(*command, "--project", str(project), "--data-dir", str(data_dir))
        assert again.returncode == 0, again.stderr
        shutil.rmtree(data_dir)


def test_init_advice_lists_the_guardrails_it_installed(
    project: Path, data_dir: Path, elsewhere: Path
) -> None:
    out = factorops("init", "--project", str(project), "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    listing = run_advice(advised(out.stdout, "(list:"), elsewhere)
    assert listing.returncode == 0, listing.stderr
    assert "starter-" in listing.stdout and "guardrail" in listing.stdout


async def test_init_client_advice_serves_the_same_data(
    project: Path, data_dir: Path, elsewhere: Path
) -> None:
    out = factorops("init", "--project", str(project), "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    argv = advised(out.stdout, "claude mcp add factorops --")
    # The client starts this without the user's shell PATH: an absolute path to the script.
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK), argv[0]
    params = StdioServerParameters(command=argv[0], args=argv[1:], cwd=str(elsewhere))
    async with Client(params) as c:
        r = await c.call_tool("session_start", {"goal": "served where init said"})
        assert not r.is_error, r
    store = Store.open(DataDir.for_project(project, data_dir), components())
    try:
        assert store.db.execute("SELECT goal FROM sessions").fetchall() == [("served where init said",)]
    finally:
        store.close()
    assert not (project / ".agentops").exists()


def test_decay_advice_retires_the_pattern(project: Path, data_dir: Path, elsewhere: Path) -> None:
    assert (
        factorops("init", "--no-starter", "--project", str(project), "--data-dir", str(data_dir)).returncode
        == 0
    )
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)  # older than any real clock `decay` runs on
    store = Store.open(DataDir.for_project(project, data_dir), components())
    try:
        pid = patterns.record(
            store, patterns.PatternRecordInput(title="An old rule nobody uses", solution="x"), long_ago
        ).id
        patterns.set_status(store, pid, "active", long_ago, by="test")
    finally:
        store.close()
    out = factorops("decay", "--project", str(project), "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    retired = run_advice(advised(out.stdout, "retire with:"), elsewhere)
    assert retired.returncode == 0, retired.stderr
    assert f"{pid} is now retired" in retired.stdout


def test_sync_advice_rebuilds_after_a_hand_fix(
    project: Path, data_dir: Path, tmp_path: Path, elsewhere: Path
) -> None:
    """A teammate pushed a record this version cannot index: sync says to fix it and rebuild."""
    remote = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    mate = tmp_path / "mate"
    mate.mkdir()
    assert factorops("init", "--no-starter", "--project", str(mate)).returncode == 0
    mate_ledger = mate / ".agentops" / "ledger"
    bad = "sessions/2026-01/ses-broken/session.json"
    commit_files(mate_ledger, {bad: "this is not json"}, "a record written by hand")
    git(mate_ledger, "push", "-q", str(remote), "HEAD:main")

    assert (
        factorops("init", "--no-starter", "--project", str(project), "--data-dir", str(data_dir)).returncode
        == 0
    )
    out = factorops("sync", "--remote", str(remote), "--project", str(project), "--data-dir", str(data_dir))
    assert out.returncode == 1 and "not indexed" in out.stderr, out
    argv = advised(out.stderr, "then")
    assert argv[1] == "rebuild"
    ledger = data_dir / "ledger"
    git(ledger, "rm", "-q", bad)  # the person's fix: drop the broken record
    git(ledger, "commit", "-q", "-m", "drop a broken record")
    rebuilt = run_advice(argv, elsewhere)
    assert rebuilt.returncode == 0, rebuilt.stderr


# -- entry points and the cost of --help (issue #19) --------------------------------------------------

TOP_COMMANDS = sorted(path[0] for path, _ in PARSERS if len(path) == 1)
ENTRY_POINTS = {
    "python -m factorops": [sys.executable, "-P", "-m", "factorops"],
    "python -m factorops.server.cli": [sys.executable, "-P", "-m", "factorops.server.cli"],
    "python -m factorops.server.cli.main": [sys.executable, "-P", "-m", "factorops.server.cli.main"],
}
_script = Path(sys.executable).parent / "factorops"
if _script.is_file():
    ENTRY_POINTS["factorops"] = [str(_script)]


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_lists_every_command(entry: str, tmp_path: Path) -> None:
    """Run from a folder that is not the repository (the installed package answers, not a folder
    that happens to be called factorops/ in the working directory)."""
    out = subprocess.run(
        [*ENTRY_POINTS[entry], "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ") and line.split()}
    missing = [c for c in TOP_COMMANDS if c not in listed]
    assert not missing, f"{entry} --help does not list {missing}:\n{out.stdout}"


# What building the parser may import: the command modules and cheap helpers, no capability module
# (their import costs tens of milliseconds each, and --help needs none of them).
_PROBE = """
import sys
from factorops.server.cli.main import main
for argv in (["--help"], ["approvals", "--help"], ["dashboard", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = ("pydantic", "mcp", "git", "tiktoken", "detect_secrets", "re2", "anyio")
mods = [m for m in sys.modules if m.split(".")[0] in heavy]
mods += [m for m in sys.modules if m.startswith("factorops.tools.") and m != "factorops.tools.kernel"
         and not m.startswith("factorops.tools.kernel.clock")]
print("IMPORTED", " ".join(sorted(mods)))
"""


def test_help_imports_no_capability_module(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-P", "-c", _PROBE], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    imported = out.stdout.split("IMPORTED", 1)[1].split()
    assert imported == [], f"building the parser imported {imported}"


def test_the_dashboard_default_port_is_the_approval_links_port() -> None:
    from factorops.server.cli import dashboard
    from factorops.tools.oversight.approvals import DASHBOARD_PORT

    assert dashboard.DASHBOARD_PORT == DASHBOARD_PORT
    assert f"default {DASHBOARD_PORT}" in subprocess.run(
        [sys.executable, "-P", "-m", "factorops", "dashboard", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.replace("\n", " ")
