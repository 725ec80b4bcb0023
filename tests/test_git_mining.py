"""Mining real git histories built in the test, with known reverts and fix chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp import Client

from factorops.store.store import Store
from factorops.tools import pattern_mining, patterns, sessions

from .conftest import Clock, commit_files, git


def _history(repo: Path) -> dict[str, str]:
    t = datetime(2026, 10, 1, tzinfo=UTC)
    shas = {}
    for i in range(12):
        commit_files(
            repo,
            {f"src/mod{i % 3}.py": f"v{i}\n", "src/core.py": f"core {i}\n"},
            f"feat: step {i}",
            when=t + timedelta(hours=i),
        )
    shas["bad"] = commit_files(
        repo, {"src/cache.py": "cache = {}\n"}, "feat: add a global cache", when=t + timedelta(days=1)
    )
    git(
        repo,
        "revert",
        "--no-edit",
        shas["bad"],
        env={"GIT_AUTHOR_DATE": "2026-10-02T12:00:00+0000", "GIT_COMMITTER_DATE": "2026-10-02T12:00:00+0000"},
    )
    for i in range(4):
        commit_files(
            repo,
            {"src/parser.py": f"parse v{i}\n"},
            f"fix: parser edge case {i}",
            when=t + timedelta(days=2, hours=i),
        )
    for i in range(8):
        commit_files(
            repo,
            {"api/schema.py": f"s{i}\n", "api/client.py": f"c{i}\n"},
            f"feat: api change {i}",
            when=t + timedelta(days=3, hours=i),
        )
    return shas


def test_mining_finds_reverts_fix_chains_hotspots_cochange_convention(store: Store, clock: Clock) -> None:
    repo = store.datadir.root
    shas = _history(repo)
    result = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    titles = {c.title: c for c in result.candidates}
    revert = titles["Reverted change: feat: add a global cache"]
    assert revert.kind == "anti-pattern"
    assert shas["bad"] in patterns.get(store, revert.id).evidence.commits
    chain = patterns.get(store, titles["Fix after fix in src/parser.py"].id)
    assert (
        chain.kind == "anti-pattern" and len(chain.evidence.commits) >= 3 and chain.scope == ["src/parser.py"]
    )
    assert "Hot spot: src/core.py" in titles
    assert "Change api/client.py together with api/schema.py" in titles
    assert "Commit messages follow Conventional Commits" in titles
    assert all(patterns.get(store, c.id).status == "candidate" for c in result.candidates)
    assert result.commits_read >= 25


def test_mining_is_incremental_and_merges(store: Store, clock: Clock) -> None:
    repo = store.datadir.root
    _history(repo)
    first = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    second = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    assert second.commits_read == 0 and second.candidates == []
    for i in range(4, 7):
        commit_files(repo, {"src/parser.py": f"parse again {i}\n"}, f"fix: parser edge case {i}")
    third = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    assert third.commits_read == 3
    merged = [c for c in third.candidates if c.title == "Fix after fix in src/parser.py"]
    assert merged and merged[0].merged
    count = store.db.execute(
        "SELECT COUNT(*) FROM patterns WHERE title = 'Fix after fix in src/parser.py'"
    ).fetchone()[0]
    assert count == 1 and len(first.candidates) >= 5


def test_session_learnings_and_repeated_failures(store: Store, clock: Clock) -> None:
    for i in range(2):
        s = sessions.start(store, sessions.SessionStartInput(goal=f"migrate db {i}"), clock())
        sessions.checkpoint(
            store,
            sessions.CheckpointInput(session_id=s.session_id, summary="x", files_touched=["db/migrate.py"]),
            clock(),
        )
        sessions.end(
            store,
            sessions.SessionEndInput(
                session_id=s.session_id, outcome="failed", learnings=["Back up the DB before migrating"]
            ),
            clock(),
        )
    result = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["sessions"]), clock())
    titles = {c.title: c for c in result.candidates}
    learned = titles["Back up the DB before migrating"]
    assert learned.kind == "anti-pattern"
    assert len(patterns.get(store, learned.id).evidence.sessions) == 2  # seen twice: merged, not repeated
    assert "Sessions touching db/migrate.py keep failing" in titles
    again = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["sessions"]), clock())
    assert again.sessions_read == 0


async def test_mine_tool_reports_progress(client: Client, project: Path) -> None:
    _history(project)
    progress: list[float] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    r = await client.call_tool("patterns_mine", {"sources": ["git"]}, progress_callback=on_progress)
    assert not r.is_error and r.structured_content["candidates"]  # type: ignore[index]
    assert progress and progress[-1] >= progress[0]
    bad = await client.call_tool("patterns_mine", {"sources": ["email"]})
    assert bad.is_error and "sources" in bad.content[0].text  # type: ignore[union-attr]


def test_mining_an_empty_repository(tmp_path: Path, clock: Clock) -> None:
    from factorops.store.datadir import DataDir
    from factorops.tools.registry import components

    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    s = Store.open(DataDir.for_project(root), components())
    result = pattern_mining.mine(s, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    assert result.commits_read == 0 and result.candidates == []
    s.close()
