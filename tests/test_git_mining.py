"""Mining real git histories built in the test, with known reverts and fix chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp import Client

from factorops.store.store import Store
from factorops.tools.patterns import mining as pattern_mining
from factorops.tools.patterns import records as patterns
from factorops.tools.sessions import lifecycle as sessions

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
    for i in range(3):  # a recurring claim needs three independent occurrences (issue #18)
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
    assert len(patterns.get(store, learned.id).evidence.sessions) == 3  # seen 3 times: merged, not repeated
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


def test_running_totals_span_incremental_runs(store: Store, clock: Clock) -> None:
    """A hot spot whose changes are split across two runs is still found: totals are persisted."""
    repo = store.datadir.root
    for i in range(15):
        commit_files(repo, {"src/core.py": f"core {i}\n", f"docs/n{i}.md": "x\n"}, f"feat: core {i}")
    first = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    assert not [c for c in first.candidates if c.title.startswith("Hot spot")]  # < 20 commits so far
    for i in range(15, 25):
        commit_files(repo, {"src/core.py": f"core {i}\n", f"docs/n{i}.md": "x\n"}, f"feat: core {i}")
    second = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    assert second.commits_read == 10
    hot = next(c for c in second.candidates if c.title == "Hot spot: src/core.py")
    p = patterns.get(store, hot.id)
    assert "changed in 25 of 26 commits" in p.problem and p.scope == ["src/core.py"]


def test_one_ledger_commit_per_run_and_cursor_in_sqlite(store: Store, clock: Clock) -> None:
    repo = store.datadir.root
    _history(repo)
    ledger = store.ledger.path
    before = int(git(ledger, "rev-list", "--count", "HEAD"))
    result = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    assert int(git(ledger, "rev-list", "--count", "HEAD")) == before + 1
    assert result.commit == git(ledger, "rev-parse", "HEAD").strip()
    assert "Factor: IX" in git(ledger, "log", "-1", "--format=%B")
    assert store.index.get_meta("mined_git_head") == git(repo, "rev-parse", "HEAD").strip()


def test_rewritten_history_is_mined_again(store: Store, clock: Clock) -> None:
    repo = store.datadir.root
    _history(repo)
    pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    git(repo, "reset", "-q", "--hard", "HEAD~5")
    commit_files(repo, {"src/new.py": "x\n"}, "feat: a new branch of history")
    again = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["git"]), clock())
    # Everything is read again (the old cursor is not an ancestor), and totals are not doubled.
    assert again.commits_read == int(git(repo, "rev-list", "--count", "--no-merges", "HEAD"))
    assert store.index.get_meta("mined_git_commits") == str(again.commits_read)
    core = store.db.execute("SELECT changes FROM mining_files WHERE path = 'src/core.py'").fetchone()[0]
    assert core == 12


def test_near_duplicates_merge_into_existing_patterns(store: Store, clock: Clock) -> None:
    recorded = patterns.record(
        store,
        patterns.PatternRecordInput(title="Run the migration tests before pushing", kind="anti-pattern"),
        clock(),
    )
    s = sessions.start(store, sessions.SessionStartInput(goal="schema change"), clock())
    sessions.end(
        store,
        sessions.SessionEndInput(
            session_id=s.session_id, outcome="failed", learnings=["Run migration tests before pushing."]
        ),
        clock(),
    )
    result = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["sessions"]), clock())
    assert [(c.id, c.merged) for c in result.candidates] == [(recorded.id, True)]
    p = patterns.get(store, recorded.id)
    assert p.evidence.sessions == [s.session_id] and p.confidence > 0.5
    assert p.title == "Run the migration tests before pushing"  # the person's wording is kept
    count = store.db.execute("SELECT COUNT(*) FROM patterns").fetchone()[0]
    assert count == 1


def test_sessions_ending_at_the_same_instant_are_all_mined(store: Store, clock: Clock) -> None:
    ids = []
    for i in range(3):
        s = sessions.start(store, sessions.SessionStartInput(goal=f"g{i}"), clock())
        sessions.end(
            store,
            sessions.SessionEndInput(
                session_id=s.session_id, outcome="partial", learnings=[f"Lesson {i} alpha"]
            ),
            clock(),
        )
        ids.append(s.session_id)
        if i == 0:
            first = pattern_mining.mine(
                store, pattern_mining.PatternsMineInput(sources=["sessions"]), clock()
            )
            assert first.sessions_read == 1
    rest = pattern_mining.mine(store, pattern_mining.PatternsMineInput(sources=["sessions"]), clock())
    assert rest.sessions_read == 2 and len(rest.candidates) == 2


def test_cli_mine_draws_progress_on_stderr(project: Path) -> None:
    import subprocess
    import sys

    _history(project)
    run = [sys.executable, "-m", "factorops"]
    subprocess.run([*run, "init", "--project", str(project)], check=True, capture_output=True)
    out = subprocess.run([*run, "mine", "--project", str(project)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "[" in out.stderr and "#" in out.stderr and "candidates" in out.stderr
    assert "Fix after fix in src/parser.py" in out.stdout and out.stdout.startswith("read ")
    again = subprocess.run([*run, "mine", "--project", str(project)], capture_output=True, text=True)
    assert "read 0 commits" in again.stdout and "no new candidates" in again.stdout
    bad = subprocess.run(
        [*run, "mine", "--since", "-1", "--project", str(project)], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "since" in bad.stderr
