"""Patterns: record, search, guardrails, resources, promotion and rebuild, through the MCP client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from factorops.server.mcp.runtime import Runtime
from factorops.store.ledger_layout import pattern_path
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns

from .conftest import Clock, git


async def ok(c: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await c.call_tool(name, args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def err(c: Client, name: str, args: dict[str, Any]) -> str:
    r = await c.call_tool(name, args)
    assert r.is_error
    return str(r.content[0].text)  # type: ignore[union-attr]


LABELLED = [
    (
        "Retry flaky network calls with backoff",
        "Wrap HTTP calls in a retry with exponential backoff and jitter.",
        ["http"],
    ),
    (
        "Run the test suite before claiming success",
        "Always run pytest after an edit; never say tests pass without output.",
        ["validation"],
    ),
    ("Never force-push to main", "Force pushes rewrite shared history; open a PR instead.", ["git"]),
    (
        "Keep migrations backwards compatible",
        "Add columns as nullable first; drop them a release later.",
        ["database"],
    ),
    (
        "Load only the files the task needs",
        "Use context_load with a budget; avoid reading whole directories.",
        ["context"],
    ),
    (
        "Checkpoint before the context fills up",
        "Save a checkpoint at 40% window use and resume fresh.",
        ["context"],
    ),
]
QUERIES = {
    "backoff retry": "Retry flaky network calls with backoff",
    "force push": "Never force-push to main",
    "database migration column": "Keep migrations backwards compatible",
    "tests pass pytest": "Run the test suite before claiming success",
    "checkpoint window": "Checkpoint before the context fills up",
}


async def test_record_search_and_relevance(client: Client) -> None:
    ids = {}
    for title, solution, tags in LABELLED:
        r = await ok(client, "pattern_record", {"title": title, "solution": solution, "tags": tags})
        assert r["status"] == "candidate" and r["created"] and len(r["commit"]) == 40
        ids[title] = r["id"]
    top1 = 0
    for query, expected in QUERIES.items():
        res = await ok(client, "patterns_search", {"query": query, "limit": 3})
        titles = [h["title"] for h in res["results"]]
        top1 += titles[0] == expected
        assert expected in titles, (query, titles)
    assert top1 >= 4  # precision@1 on the labelled queries
    hit = (await ok(client, "patterns_search", {"query": "backoff"}))["results"][0]
    assert "[backoff]" in hit["snippet"]
    tagged = await ok(client, "patterns_search", {"query": "", "tags": ["context"]})
    assert {h["title"] for h in tagged["results"]} == {
        "Load only the files the task needs",
        "Checkpoint before the context fills up",
    }


@pytest.mark.parametrize(
    "query", ['foo"', "AND OR", "NOT", "(((", "*", "title:", "NEAR(a b)", '"', "-", "é∂ƒ"]
)
async def test_search_never_errors_on_query_syntax(client: Client, query: str) -> None:
    await ok(client, "pattern_record", {"title": "Quote handling in foo", "solution": "escape it"})
    res = await ok(client, "patterns_search", {"query": query})
    assert isinstance(res["results"], list) if "results" in res else res["tokens"] == 0


async def test_search_respects_budget_and_limit(client: Client) -> None:
    for i in range(30):
        await ok(
            client,
            "pattern_record",
            {"title": f"Payment rule {i}", "problem": "payment " * 30, "solution": "x"},
        )
    res = await ok(client, "patterns_search", {"query": "payment", "limit": 50, "budget_tokens": 200})
    assert res["tokens"] <= 200 and res["truncated"] and 0 < len(res["results"]) < 30
    res = await ok(client, "patterns_search", {"query": "payment", "limit": 3})
    assert len(res["results"]) == 3


async def test_update_keeps_status_and_merges_evidence(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    r = await ok(client, "pattern_record", {"title": "Use small commits", "evidence": ["ses-a", "abc1234"]})
    store = await runtime.store(None)
    u = await ok(
        client,
        "pattern_record",
        {"id": r["id"], "title": "Use small, validated commits", "evidence": ["ses-b"]},
    )
    assert u == {"id": r["id"], "status": "candidate", "created": False, "commit": u["commit"]}
    patterns.set_status(store, r["id"], "active", clock(), by="test")
    # Evidence alone is added to the active pattern in place ...
    e = await ok(
        client,
        "pattern_record",
        {"id": r["id"], "title": "Use small, validated commits", "evidence": ["ses-c"]},
    )
    assert e["id"] == r["id"] and e["status"] == "active"
    p = patterns.get(store, r["id"])
    assert p.title == "Use small, validated commits" and p.evidence.sessions == ["ses-a", "ses-b", "ses-c"]
    assert p.evidence.commits == ["abc1234"]
    # ... a change to its content is a candidate revision a person promotes (issue #12, hole 1).
    v = await ok(client, "pattern_record", {"id": r["id"], "title": "Use tiny commits"})
    assert v["id"] != r["id"] and v["status"] == "candidate" and v["revises"] == r["id"]
    assert patterns.get(store, r["id"]).title == "Use small, validated commits"


async def test_bad_inputs(client: Client) -> None:
    assert "no pattern" in await err(client, "pattern_record", {"id": "pat-nope", "title": "t"})
    assert "match" in await err(client, "pattern_record", {"title": "t", "kind": "guardrail", "match": "("})
    assert "kind" in await err(client, "pattern_record", {"title": "t", "match": "rm"})
    assert (await err(client, "pattern_record", {"title": ""})).startswith(
        "Invalid arguments for pattern_record: title"
    )
    assert (await err(client, "patterns_search", {"kind": "nonsense"})).startswith(
        "Invalid arguments for patterns_search: kind"
    )
    assert "limit" in await err(client, "patterns_search", {"limit": 0})


async def test_assistant_cannot_activate(client: Client, runtime: Runtime) -> None:
    r = await client.call_tool("pattern_record", {"title": "Sneaky", "status": "active"})
    # `status` is not an input of pattern_record: it is ignored, never obeyed. The pattern is
    # recorded, as a candidate.
    assert not r.is_error, r.content
    assert r.structured_content["status"] == "candidate"  # type: ignore[index]
    store = await runtime.store(None)
    stored = {p["id"]: p["status"] for p in patterns.list_patterns(store)}
    assert stored == {r.structured_content["id"]: "candidate"}  # type: ignore[index]


async def test_guardrail_check(client: Client, runtime: Runtime, clock: Clock) -> None:
    store = await runtime.store(None)
    block = await ok(
        client,
        "pattern_record",
        {
            "title": "No force push to main",
            "kind": "guardrail",
            "match": r"git\s+push\s+.*(--force|-f)\b.*\bmain\b",
            "effect": "block",
            "solution": "Open a pull request instead.",
        },
    )
    warn = await ok(
        client,
        "pattern_record",
        {
            "title": "Careful with git clean",
            "kind": "guardrail",
            "match": r"git\s+clean\s+-\w*f",
            "effect": "warn",
        },
    )
    # Candidates do not guard yet: a person must promote them.
    r = await ok(client, "guardrail_check", {"action": "push", "command": "git push --force origin main"})
    assert r["decision"] == "allow" and "no guardrails are active" in r["note"] and "matches" not in r
    for pid in (block["id"], warn["id"]):
        patterns.set_status(store, pid, "active", clock(), by="test")
    r = await ok(client, "guardrail_check", {"action": "push", "command": "git push --force origin main"})
    assert r["decision"] == "block" and r["matches"][0]["id"] == block["id"]
    assert "pull request" in r["matches"][0]["why"]
    r = await ok(client, "guardrail_check", {"action": "tidy", "command": "git clean -fdx"})
    assert r["decision"] == "warn"
    r = await ok(client, "guardrail_check", {"action": "push", "command": "git push origin feature"})
    assert r == {"decision": "allow"}
    patterns.set_status(store, block["id"], "retired", clock(), by="test")
    r = await ok(client, "guardrail_check", {"action": "push", "command": "git push --force origin main"})
    assert r == {"decision": "allow"}


async def test_resources(client: Client) -> None:
    r = await ok(
        client,
        "pattern_record",
        {"title": "Prefer small PRs", "problem": "Big PRs stall.", "solution": "Split them."},
    )
    index = (await client.read_resource("agentops://patterns")).contents[0].text  # type: ignore[union-attr]
    assert r["id"] in index and "Prefer small PRs" in index
    md = (await client.read_resource(f"agentops://patterns/{r['id']}")).contents[0].text  # type: ignore[union-attr]
    assert md.startswith("---\n") and "## Problem\n\nBig PRs stall." in md
    with pytest.raises(MCPError, match="no pattern 'pat-missing'"):
        await client.read_resource("agentops://patterns/pat-missing")
    guard = (await client.read_resource("agentops://guardrails")).contents[0].text  # type: ignore[union-attr]
    assert "None active" in guard
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert {"agentops://patterns/{pattern_id}", "agentops://factors/{n}"} <= templates
    allf = (await client.read_resource("agentops://factors")).contents[0].text  # type: ignore[union-attr]
    assert allf.count("agentops://factors/") == 12
    for n in ("4", "IV", "iv"):
        one = (await client.read_resource(f"agentops://factors/{n}")).contents[0].text  # type: ignore[union-attr]
        assert "Continuous validation" in one and "validation_run" in one
    with pytest.raises(MCPError, match="no factor '13'; use 1-12 or I-XII"):
        await client.read_resource("agentops://factors/13")


async def test_list_changed_is_sent(app: Any) -> None:
    seen: list[str] = []

    async def handler(message: Any) -> None:
        seen.append(type(message).__name__ + repr(getattr(message, "method", "")))

    async with Client(app, message_handler=handler, mode="legacy") as c:
        await ok(c, "pattern_record", {"title": "Notify me"})
    assert any("resources" in s.lower() or "ResourceListChanged" in s for s in seen), seen


def test_rebuild_restores_patterns_and_survives_a_broken_hand_edit(store: Store, clock: Clock) -> None:
    ids = [
        patterns.record(
            store, patterns.PatternRecordInput(title=f"Rule {i}", solution=f"do {i}", tags=["t"]), clock()
        ).id
        for i in range(3)
    ]
    patterns.set_status(store, ids[0], "active", clock(), by="test")
    before = store.db.execute("SELECT * FROM patterns ORDER BY id").fetchall()
    fts_before = store.db.execute("SELECT rowid, title FROM patterns_fts ORDER BY rowid").fetchall()
    result = store.rebuild()
    assert result.errors == ()
    assert store.db.execute("SELECT * FROM patterns ORDER BY id").fetchall() == before
    assert store.db.execute("SELECT rowid, title FROM patterns_fts ORDER BY rowid").fetchall() == fts_before
    # A person edits a pattern file by hand and breaks its front matter.
    broken = store.ledger.path / pattern_path(ids[1])
    broken.write_text(broken.read_text().replace("confidence: 0.5", "confidence: [oops"))
    git(store.ledger.path, "commit", "-qam", "hand edit")
    result = store.rebuild()
    assert len(result.errors) == 1 and ids[1] in result.errors[0] and "confidence" in result.errors[0]
    remaining = {r[0] for r in store.db.execute("SELECT id FROM patterns")}
    assert remaining == {ids[0], ids[2]}
    with pytest.raises(patterns.DomainError, match="broken"):
        patterns.get(store, ids[1])


def test_cli_promote_and_list(project: Path, store: Store, clock: Clock) -> None:
    pid = patterns.record(store, patterns.PatternRecordInput(title="CLI promoted"), clock()).id
    store.close()

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "factorops", *a, "--project", str(project)], capture_output=True, text=True
        )

    out = run("patterns", "promote", pid)
    assert out.returncode == 0 and "is now active" in out.stdout
    again = run("patterns", "promote", pid)
    assert again.returncode == 2 and "already active" in again.stderr
    listed = run("patterns", "list", "--status", "active")
    assert pid in listed.stdout
    missing = run("patterns", "show", "pat-none")
    assert missing.returncode == 2 and "no pattern" in missing.stderr
    log = git(project / ".agentops" / "ledger", "log", "-1", "--format=%B")
    assert f"Pattern: {pid}" in log and "via cli" in log
