"""guardrail_check on hostile, huge commands: the work is bounded by deterministic budgets.

Past a budget (tree-sitter's operations and lexer reads, syntax nodes walked, commands found) the
command is "too large to understand": rules whose keywords appear fail closed with that reason,
others are not matched, nothing crashes. Decisions are asserted, never timings (those are in
bench/bench_shell.py). The same input gets the same decision every time, however busy the machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.flywheel.inject import install_starters
from factorops.tools.guardrails.check import matcher
from factorops.tools.guardrails.shell import normalise
from factorops.tools.patterns.model import GuardrailRule, Pattern
from factorops.tools.patterns.records import PatternRecordInput, get, record, save, set_status, upsert
from factorops.tools.patterns.rule_regex import MAX_REPEAT
from factorops.tools.registry import components

from .conftest import Clock, git

NOW = datetime(2026, 11, 25, tzinfo=UTC)
HOSTILE_RULES = [r"(\w|\w)*$", r"(a|a)*$", r"((a)*)*$", r"(x+x+)+y"]
FORCE_PUSH = "starter-force-push-default-branch"


async def check(c: Client, command: str) -> dict[str, Any]:
    r = await c.call_tool("guardrail_check", {"action": "run", "command": command})
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def _arm(client: Client, runtime: Runtime, clock: Clock, rules: list[str]) -> Client:
    store = await runtime.store(None)
    install_starters(store, clock())
    with store.index.transaction() as db:
        for i, rx in enumerate(rules):
            p = Pattern(
                id=f"pat-hostile{i}",
                title=f"hostile {i}",
                kind="guardrail",
                status="active",
                rule=GuardrailRule(effect="block", command_regex=rx),
                created=clock(),
                updated=clock(),
            )
            upsert(db, p, "0" * 40)
    return client


@pytest.fixture
async def armed(client: Client, runtime: Runtime, clock: Clock) -> Client:
    """The starter guardrails plus the hostile regex rules of issue #13, all active."""
    return await _arm(client, runtime, clock, HOSTILE_RULES)


@pytest.fixture
async def quiet(client: Client, runtime: Runtime, clock: Clock) -> Client:
    """The starter guardrails plus the one hostile rule that cannot match an empty string.

    (The other three match the empty string at the end of any text, so with them active every
    command is blocked, understood or not.)
    """
    return await _arm(client, runtime, clock, [r"(x+x+)+y"])


def _too_large(r: dict[str, Any], rule: str) -> str:
    hit = next(m for m in r["matches"] if m["id"] == rule)
    assert "too large to understand" in hit["why"], hit["why"]
    return str(hit["effect"])


async def test_force_push_at_the_end_of_a_2400_stage_pipeline_is_blocked(armed: Client) -> None:
    cmd = "a | " * 2400 + "git push -f origin main"
    r = await check(armed, cmd)
    assert r["decision"] == "block"
    assert _too_large(r, FORCE_PUSH) == "block"


async def test_force_push_after_thousands_of_assignments_is_blocked(armed: Client) -> None:
    cmd = ("B=main; " * 1240 + "git push -f origin $B")[-10_000:]
    r = await check(armed, cmd)
    assert r["decision"] == "block"
    assert any(m["id"] == FORCE_PUSH for m in r["matches"])


@pytest.mark.parametrize(
    "cmd",
    [
        "<" * 9_000 + " git push --force origin main",
        ">" * 9_000 + " git push --force origin main",
        "(" * 3000 + "git push -f origin main" + ")" * 3000,
        "true && " * 1200 + "git push -f origin main",
        "for a in 1 2 3 4 5 6 7 8; do " * 200 + "git push -f origin main" + "; done" * 200,
    ],
    ids=["<-run", ">-run", "3000 subshells", "1200 && stages", "200 nested loops"],
)
async def test_hostile_spellings_past_the_budget_block(armed: Client, cmd: str) -> None:
    r = await check(armed, cmd)
    assert r["decision"] == "block", r
    assert any(m["id"] == FORCE_PUSH for m in r["matches"])


async def test_harmless_long_command_without_rule_keywords_is_allowed(quiet: Client) -> None:
    # far past every budget, and no rule's keyword in it: nothing to fail closed for
    assert not normalise("ls | " * 1990 + "wc -l").understood
    r = await check(quiet, "ls | " * 1990 + "wc -l")
    assert r == {"decision": "allow"}
    r = await check(quiet, "echo hello; " * 800)
    assert r == {"decision": "allow"}


async def test_ordinary_command_is_understood_and_matched_on_its_argv(armed: Client) -> None:
    r = await check(armed, "git status && git push -f origin main")
    assert r["decision"] == "block"
    hit = next(m for m in r["matches"] if m["id"] == FORCE_PUSH)
    assert "too large" not in hit["why"]


def test_budgets_are_deterministic() -> None:
    """The same hostile input always gets the same reason (no wall-clock decides)."""
    for cmd in ["a | " * 2400 + "b", ">" * 9_000, "(" * 3000 + ")" * 3000, "x=1; " * 2000]:
        first = normalise(cmd)
        assert not first.understood
        assert "too large to understand" in (first.reason or "")
        for _ in range(3):
            again = normalise(cmd)
            assert (again.reason, again.commands) == (first.reason, first.commands)


# ---- item 2: counted repeats that make RE2 slow are refused at record, import and load ----------

WORST = r"(?:[ab][ab]?){999}!"  # linear in RE2, but ~370 ms per search of 10,000 characters


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args], capture_output=True, text=True, timeout=180
    )


async def test_slow_counted_repeat_is_refused_at_record(client: Client) -> None:
    r = await client.call_tool("pattern_record", {"title": "t", "kind": "guardrail", "match": WORST})
    assert r.is_error
    msg = str(r.content[0].text)  # type: ignore[union-attr]
    assert "match: the counted repeat (?:[ab][ab]?){999} repeats up to 999 times" in msg, msg
    assert f"limit {MAX_REPEAT}" in msg
    r = await client.call_tool(
        "pattern_record", {"title": "t", "kind": "guardrail", "match": r"rm\s{1,10}-rf"}
    )
    assert not r.is_error, r.content


def test_slow_counted_repeat_is_refused_at_import(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
        git(root, "init", "-q")
        assert _cli("init", "--project", str(root), "--no-starter").returncode == 0
    # a bundle made by an older factorops, whose rule was accepted before the cap: export a
    # harmless rule, then put the slow regex in its place (with the manifest's hash to match)
    with Store.open(DataDir.for_project(a), components()) as store:
        pid = record(store, PatternRecordInput(title="Slow rule", kind="guardrail", match="wgetx"), NOW).id
    exported = tmp_path / "a.tar.gz"
    assert (
        _cli("bundle", "export", str(exported), "--include-candidates", "--project", str(a)).returncode == 0
    )
    with tarfile.open(exported) as tar:
        f = tar.extractfile(f"patterns/{pid}.md")
        assert f is not None
        data = f.read()
    assert data.count(b"wgetx") == 1
    data = data.replace(b"wgetx", WORST.encode())
    bundle = tmp_path / "old.tar.gz"
    members = [(f"patterns/{pid}.md", data)]
    manifest = {
        "format": "factorops-bundle",
        "version": 1,
        "members": [{"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members],
    }
    with tarfile.open(bundle, "w:gz") as tar:
        for name, blob in [("manifest.json", json.dumps(manifest).encode()), *members]:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    head = git(b / ".agentops" / "ledger", "rev-parse", "HEAD")
    r = _cli("bundle", "import", str(bundle), "--project", str(b))
    assert r.returncode != 0
    assert "guardrail rule refused" in r.stderr, r.stderr
    assert "(?:[ab][ab]?){999} repeats up to 999 times" in r.stderr and f"limit {MAX_REPEAT}" in r.stderr
    assert git(b / ".agentops" / "ledger", "rev-parse", "HEAD") == head  # nothing written


async def test_slow_counted_repeat_in_the_ledger_is_disabled_at_load(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    install_starters(store, clock())
    r = await client.call_tool(
        "pattern_record", {"title": "Old slow rule", "kind": "guardrail", "match": "wget"}
    )
    pid = r.structured_content["id"]  # type: ignore[index]
    set_status(store, pid, "active", clock(), by="test")
    p = get(store, pid)
    assert p.rule is not None
    p.rule.command_regex = WORST  # as a project written before the cap holds it
    save(store, p, "hand edit: a rule from before the repeat cap")
    got = await check(client, "a" * 9_000 + "! wget")
    assert got == {"decision": "allow"}  # the rule is not run
    invalid = matcher(store).invalid
    assert [i.title for i in invalid] == ["Old slow rule"]
    assert "(?:[ab][ab]?){999} repeats up to 999 times" in invalid[0].error
