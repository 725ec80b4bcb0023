"""First use through the README's path: a client connects to `factorops serve` on a project nobody
ran `factorops init` in. The real server, over stdio, as clients start it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mcp import Client

from .conftest import git, new_repo
from .stdio_server import server_params


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args, "--project", str(project)], capture_output=True, text=True
    )


def demo_repo(path: Path) -> Path:
    return new_repo(path, {"README.md": "# demo\n"}, "initial commit")


def ledger_files(project: Path) -> list[str]:
    return git(project / ".agentops" / "ledger", "ls-tree", "-r", "--name-only", "HEAD").splitlines()


def text(result: object) -> str:
    return str(result.contents[0].text)  # type: ignore[attr-defined]


async def test_first_use_installs_the_starters_exactly_as_init_does(tmp_path: Path) -> None:
    served = demo_repo(tmp_path / "served")
    async with Client(server_params(served)) as c:
        r = await c.call_tool("guardrail_check", {"action": "clean up", "command": "rm -rf /"})
        assert not r.is_error, r.content
        got = r.structured_content
        assert got is not None and got["decision"] == "block", got
        assert "starter-rm-rf-catastrophic" in {m["id"] for m in got["matches"]}
        assert "note" not in got
        listing = text(await c.read_resource("agentops://guardrails"))
        assert "Block recursive deletes of /, ~, . or .." in listing and "None active" not in listing
    # The same data dir, rules and files as `factorops init` makes.
    inited = demo_repo(tmp_path / "inited")
    assert cli(inited, "init").returncode == 0
    assert ledger_files(served) == ledger_files(inited)
    assert any(p.startswith("patterns/") and "/starter-" in p for p in ledger_files(served))
    for name in (".gitignore", "ledger/README.md"):
        assert (served / ".agentops" / name).read_text() == (inited / ".agentops" / name).read_text()
    for rel in ledger_files(inited):
        if rel.startswith("patterns/"):  # same rules; only the timestamps differ
            a = (served / ".agentops" / "ledger" / rel).read_text().splitlines()
            b = (inited / ".agentops" / "ledger" / rel).read_text().splitlines()
            assert [x for x in a if not x.startswith(("created:", "updated:"))] == [
                x for x in b if not x.startswith(("created:", "updated:"))
            ], rel
    doc = cli(served, "doctor")
    assert doc.returncode == 0, doc.stdout
    assert "guardrails active" in doc.stdout


async def test_connecting_leaves_git_status_clean(project: Path) -> None:
    """Connect, list tools, disconnect: nothing shows in the user's `git status` (the data dir's
    .gitignore is in place before the log file); after a first real call neither."""
    async with Client(server_params(project)) as c:
        assert (await c.list_tools()).tools
    assert git(project, "status", "--porcelain") == ""
    async with Client(server_params(project)) as c:
        r = await c.call_tool("session_start", {"goal": "first use"})
        assert not r.is_error, r.content
    assert git(project, "status", "--porcelain") == ""
    assert (project / ".agentops" / "logs" / "factorops.log").exists()


async def test_retired_starters_stay_retired_and_are_reported(project: Path) -> None:
    """A project whose person retired every guardrail: the server does not re-install them, the
    check says plainly that nothing was checked, and doctor warns."""
    assert cli(project, "init").returncode == 0
    removed = cli(project, "starter", "remove")
    assert removed.returncode == 0, removed.stderr
    async with Client(server_params(project)) as c:
        r = await c.call_tool("guardrail_check", {"action": "clean up", "command": "rm -rf /"})
        got = r.structured_content
        assert got is not None and got["decision"] == "allow"
        assert "no guardrails are active" in got["note"] and "factorops starter install" in got["note"]
        assert "None active" in text(await c.read_resource("agentops://guardrails"))
    doc = cli(project, "doctor")
    assert doc.returncode == 0, doc.stdout  # a warning, not a failure
    assert "warn no guardrails active" in doc.stdout
    assert "factorops starter install" in doc.stdout
