"""The resume handoff (Factor VI, issue #18): bounded whatever was saved, every decision kept, open
questions still open, and the code state the work was saved at, through the in-process MCP client
on a real git repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.tools.kernel.tokens import count_tokens

from .conftest import Clock, commit_files, git

BUDGET = 2000
WORDS = [
    "retry",
    "backoff",
    "parser",
    "cache",
    "index",
    "ledger",
    "commit",
    "branch",
    "token",
    "budget",
    "handler",
    "queue",
    "worker",
    "schema",
    "migration",
    "session",
    "resume",
    "decision",
    "question",
    "module",
    "import",
    "layer",
    "store",
    "client",
    "server",
]


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    r = await client.call_tool(name, args)
    text: str = r.content[0].text  # type: ignore[union-attr]
    assert not r.is_error, text
    assert r.structured_content is not None
    return r.structured_content, text


def prose(seed: int, chars: int) -> str:
    out: list[str] = []
    i = seed
    while sum(len(w) + 1 for w in out) < chars:
        out.append(f"{WORDS[i % len(WORDS)]}{i % 97}")
        i += 7
    return " ".join(out)[:chars]


def large_checkpoint(sid: str, n: int) -> dict[str, Any]:
    """About 3,000 o200k tokens of checkpoint, three decisions and two questions of its own."""
    return {
        "session_id": sid,
        "summary": f"Checkpoint {n}. " + prose(n, 3900),
        "next_steps": [f"step {n}.{k}: " + prose(n * 31 + k, 450) for k in range(16)],
        "decisions": [f"decision {n}.{k}: use approach {k} for part {n}" for k in range(3)],
        "open_questions": [f"question {n}.{k}: what about case {k} of part {n}?" for k in range(2)],
        "files_touched": [f"src/pkg{n}/module_{k}.py" for k in range(40)],
    }


async def test_ten_large_checkpoints_fit_the_handoff_budget(client: Client, clock: Clock) -> None:
    sid = (await call(client, "session_start", {"goal": "rework the ledger writer"}))[0]["session_id"]
    saved = []
    for n in range(1, 11):
        ck = large_checkpoint(sid, n)
        assert count_tokens(json.dumps(ck)) > 2500  # each one alone is over the budget
        saved.append(ck)
        clock.advance(minutes=20)
        await call(client, "checkpoint_save", ck)
    state, text = await call(client, "session_resume", {"session_id": sid})
    assert count_tokens(text) <= BUDGET, count_tokens(text)
    assert count_tokens(json.dumps(state)) <= BUDGET
    assert state["checkpoints"] == 10
    # Every decision of every checkpoint, newest checkpoint first.
    expected = [d for ck in reversed(saved) for d in ck["decisions"]]
    assert state["decisions"] == expected
    assert state["summary"].startswith("Checkpoint 10.")
    # What was cut is named, with the way to fetch it.
    fetch = " ".join(f"{x['what']} {x['fetch']}" for x in state["left_out"])
    assert "checkpoint=" in fetch
    # ... and fetching one older checkpoint works, within the budget too.
    one, one_text = await call(client, "session_resume", {"session_id": sid, "checkpoint": 1})
    assert count_tokens(one_text) <= BUDGET
    assert one["summary"].startswith("Checkpoint 1.")
    assert one["decisions"] == saved[0]["decisions"]
    assert one["shown_checkpoint"] == 1


async def test_decisions_are_kept_across_checkpoints_newest_first_deduplicated(client: Client) -> None:
    sid = (await call(client, "session_start", {"goal": "g"}))[0]["session_id"]
    await call(
        client, "checkpoint_save", {"session_id": sid, "summary": "one", "decisions": ["Use SQLite", "B"]}
    )
    await call(client, "checkpoint_save", {"session_id": sid, "summary": "two", "decisions": ["C"]})
    await call(
        client, "checkpoint_save", {"session_id": sid, "summary": "three", "decisions": ["use  sqlite"]}
    )
    state, _ = await call(client, "session_resume", {})
    assert state["decisions"] == ["use  sqlite", "C", "B"]
    assert state["summary"] == "three"


async def test_open_questions_stay_open_until_answered(client: Client) -> None:
    sid = (await call(client, "session_start", {"goal": "g"}))[0]["session_id"]
    await call(
        client,
        "checkpoint_save",
        {"session_id": sid, "summary": "one", "open_questions": ["Retry on 429?", "Which backoff?"]},
    )
    await call(
        client, "checkpoint_save", {"session_id": sid, "summary": "two", "open_questions": ["Log it?"]}
    )
    state, _ = await call(client, "session_resume", {})
    assert state["open_questions"] == ["Log it?", "Retry on 429?", "Which backoff?"]
    ck, _ = await call(
        client,
        "checkpoint_save",
        {"session_id": sid, "summary": "three", "answered_questions": ["retry on 429", "never asked?"]},
    )
    assert any("answered_questions" in w and "never asked?" in w for w in ck["warnings"])
    state, _ = await call(client, "session_resume", {})
    assert state["open_questions"] == ["Log it?", "Which backoff?"]


async def test_git_state_is_saved_and_a_moved_head_is_reported(
    client: Client, project: Path, clock: Clock
) -> None:
    saved_head = git(project, "rev-parse", "HEAD").strip()
    (project / "README.md").write_text("# demo project\nedited\n")
    (project / "new.py").write_text("x = 1\n")
    sid = (await call(client, "session_start", {"goal": "g"}))[0]["session_id"]
    await call(client, "checkpoint_save", {"session_id": sid, "summary": "edited the readme"})
    state, _ = await call(client, "session_resume", {})
    code = state["git"]
    assert code["head"] == saved_head and code["branch"] == "main"
    assert sorted(code["uncommitted"]) == ["README.md", "new.py"]
    assert "head_moved" not in code  # nothing moved since
    now_head = commit_files(project, {"README.md": "# demo\nchanged\n", "lib/a.py": "a = 1\n"}, "more work")
    state, text = await call(client, "session_resume", {"session_id": sid})
    code = state["git"]
    assert code["head"] == saved_head
    assert code["head_moved"] is True and code["head_now"] == now_head and code["commits_since"] == 1
    stat = "\n".join(code["diff_stat"])
    assert "README.md" in stat and "lib/a.py" in stat and "2 files changed" in stat
    assert count_tokens(text) <= BUDGET


async def test_a_project_without_git_resumes_without_code_state(tmp_path: Path, clock: Clock) -> None:
    from factorops.server.mcp.app import build_app
    from factorops.server.mcp.runtime import Runtime

    plain = tmp_path / "plain"
    plain.mkdir()
    rt = Runtime(project=plain, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(rt)) as c:
            sid = (await call(c, "session_start", {"goal": "g"}))[0]["session_id"]
            await call(c, "checkpoint_save", {"session_id": sid, "summary": "s"})
            state, _ = await call(c, "session_resume", {})
            assert "git" not in state and state["summary"] == "s"
    finally:
        rt.close()


async def test_bad_checkpoint_index_names_the_field(client: Client) -> None:
    sid = (await call(client, "session_start", {"goal": "g"}))[0]["session_id"]
    await call(client, "checkpoint_save", {"session_id": sid, "summary": "s"})
    r = await client.call_tool("session_resume", {"session_id": sid, "checkpoint": 5})
    text = r.content[0].text  # type: ignore[union-attr]
    assert r.is_error and "checkpoint" in text and "1" in text and "Traceback" not in text
    r = await client.call_tool("session_resume", {"session_id": sid, "checkpoint": 0})
    assert r.is_error and "checkpoint" in r.content[0].text  # type: ignore[union-attr]


async def test_checkpoint_save_warns_when_one_checkpoint_is_over_the_budget(client: Client) -> None:
    sid = (await call(client, "session_start", {"goal": "g"}))[0]["session_id"]
    big, _ = await call(client, "checkpoint_save", large_checkpoint(sid, 1))
    assert any("2,000" in w and "handoff" in w for w in big["warnings"]), big
    small, _ = await call(client, "checkpoint_save", {"session_id": sid, "summary": "short"})
    assert "warnings" not in small


async def test_checkpoint_save_reports_the_compression_ratio(client: Client) -> None:
    sid = (await call(client, "session_start", {"goal": "g"}))[0]["session_id"]
    plain, _ = await call(client, "checkpoint_save", {"session_id": sid, "summary": "s"})
    assert "compression" not in plain  # no transcript known: no ratio
    ck, _ = await call(
        client,
        "checkpoint_save",
        {"session_id": sid, "summary": "done half", "decisions": ["d"], "transcript_tokens": 120000},
    )
    _, resumed = await call(client, "session_resume", {"session_id": sid})
    assert ck["handoff_tokens"] == count_tokens(resumed)
    assert ck["compression"] == round(120000 / ck["handoff_tokens"], 1)
    r = await client.call_tool("checkpoint_save", {"session_id": sid, "summary": "s", "transcript_tokens": 0})
    assert r.is_error and "transcript_tokens" in r.content[0].text  # type: ignore[union-attr]
