"""guardrail_check on hostile, huge commands: the work is bounded by deterministic budgets.

Past a budget (tree-sitter's operations and lexer reads, syntax nodes walked, commands found) the
command is "too large to understand": rules whose keywords appear fail closed with that reason,
others are not matched, nothing crashes. Decisions are asserted, never timings (those are in
bench/bench_shell.py). The same input gets the same decision every time, however busy the machine.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.tools.flywheel.inject import install_starters
from factorops.tools.guardrails.shell import normalise
from factorops.tools.patterns.model import GuardrailRule, Pattern
from factorops.tools.patterns.records import upsert

from .conftest import Clock

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
