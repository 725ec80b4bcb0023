"""Mining quality (issue #18), on real git histories built here with the shapes that misled it:
files deleted since, a revert that was reverted, one patch cherry-picked into a "recurring" claim,
and advice that did not quote its evidence. Driven through the MCP tool `patterns_mine` and read
back through the `agentops://patterns/{id}` resource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client

from .conftest import commit_files, git

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float) -> dict[str, str]:
    stamp = (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def when(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


async def mine(c: Client) -> dict[str, dict[str, Any]]:
    r = await c.call_tool("patterns_mine", {"sources": ["git"]})
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return {x["title"]: x for x in r.structured_content.get("candidates", [])}


async def text_of(c: Client, pid: str) -> str:
    res = await c.read_resource(f"agentops://patterns/{pid}")
    return " ".join(getattr(x, "text", "") for x in res.contents)


def short(repo: Path, sha: str) -> str:
    return git(repo, "rev-parse", "--short", sha).strip()


async def test_no_advice_about_files_deleted_at_head(client: Client, project: Path) -> None:
    for i in range(3):
        commit_files(project, {"old/legacy.py": f"v{i}\n"}, f"fix: legacy parser case {i}", when=when(i))
        commit_files(project, {"src/kept.py": f"v{i}\n"}, f"fix: kept parser case {i}", when=when(i + 0.5))
    git(project, "rm", "-q", "old/legacy.py")
    git(project, "commit", "-q", "-m", "chore: remove the legacy parser", env=at(10))
    found = await mine(client)
    assert "Fix after fix in src/kept.py" in found
    assert not [t for t in found if "legacy" in t]  # 3 fixes, but the file is gone: no advice


async def test_a_revert_that_was_reverted_cancels(client: Client, project: Path) -> None:
    x = commit_files(project, {"db.py": "async db\n"}, "feat: switch to the async driver", when=when(1))
    git(project, "revert", "--no-edit", x, env=at(2))
    r1 = git(project, "rev-parse", "HEAD").strip()
    git(project, "revert", "--no-edit", r1, env=at(3))  # the change is back
    y = commit_files(project, {"cache.py": "cache\n"}, "feat: add a global cache", when=when(4))
    git(project, "revert", "--no-edit", y, env=at(5))
    found = await mine(client)
    reverts = [t for t in found if t.startswith("Reverted change")]
    assert reverts == ["Reverted change: feat: add a global cache"], reverts


async def test_recurring_needs_three_independent_occurrences(client: Client, project: Path) -> None:
    commit_files(project, {"io.py": "v0\n", "net.py": "n0\n"}, "feat: io and net", when=when(0))
    base = git(project, "rev-parse", "HEAD").strip()
    # One fix, cherry-picked onto two more branches: three commits, one patch.
    git(project, "checkout", "-q", "-b", "b1", base)
    first = commit_files(
        project, {"io.py": "v1 handles empty input\n"}, "fix: empty input in io", when=when(1)
    )
    for n, b in enumerate(("b2", "b3")):
        git(project, "checkout", "-q", "-b", b, base)
        git(project, "cherry-pick", "-x", first, env=at(2 + n))
    git(project, "checkout", "-q", "main")
    for n, b in enumerate(("b1", "b2", "b3")):
        git(project, "merge", "-q", "--no-ff", "--no-edit", b, env=at(5 + n))
    # Three different fixes to net.py: a real fix-after-fix chain.
    for i in range(3):
        commit_files(project, {"net.py": f"n{i + 1}\n"}, f"fix: retry case {i} in net", when=when(10 + i))
    found = await mine(client)
    assert "Fix after fix in net.py" in found
    assert "Fix after fix in io.py" not in found  # one patch three times is one occurrence


async def test_advice_quotes_its_evidence(client: Client, project: Path) -> None:
    shas = [
        commit_files(
            project, {"src/pay.py": f"p{i}\n"}, f"fix: rounding of refunds case {i}", when=when(24 * i)
        )
        for i in range(3)
    ]
    bad = commit_files(project, {"src/pay.py": "p9\n"}, "feat: cache exchange rates", when=when(100))
    git(project, "revert", "--no-edit", bad, env=at(101))
    revert = git(project, "rev-parse", "HEAD").strip()
    found = await mine(client)
    chain = await text_of(client, found["Fix after fix in src/pay.py"]["id"])
    for i, sha in enumerate(shas):
        day = when(24 * i).strftime("%Y-%m-%d")
        assert f"{short(project, sha)} {day} fix: rounding of refunds case {i} (src/pay.py)" in chain
    assert "Evidence (newest first)" in chain
    rev = await text_of(client, found["Reverted change: feat: cache exchange rates"]["id"])
    assert f'{short(project, revert)} 2026-03-06 Revert "feat: cache exchange rates"' in rev
    assert f"read why {revert[:7]} reverted it" in rev and "feat: cache exchange rates" in rev
