"""The starter guardrails through the real `guardrail_check` tool, over the shell-analysis corpus.

Every force-push spelling of tests/test_shell.py (checked against real git there) must block, and
every look-alike must not; each other starter failure pattern has commands it must catch (warn or
block) and harmless ones it must leave alone. The project is a real git repository whose current
branch is switched to each case's branch, so the tool reads the default and current branch from git.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.tools.flywheel.inject import install_starters
from factorops.tools.guardrails.starters import starter_rule
from factorops.tools.patterns import records as patterns

from .conftest import Clock, git
from .test_shell import (
    DB_CATCH,
    DB_HARMLESS,
    DEVICE_CATCH,
    DEVICE_HARMLESS,
    DOWNLOAD_CATCH,
    DOWNLOAD_HARMLESS,
    FORCE_CATCH,
    FORCE_HARMLESS,
    RESET_CATCH,
    RESET_HARMLESS,
    RM_CATCH,
    RM_HARMLESS,
)

PERSON_CATCH = [
    "factorops approve 3",
    "factorops deny 3 --reason no",
    "factorops patterns promote p-123",
    "factorops patterns retire p-123",
    "factorops token rotate",
    "python3 -m factorops approve 7",
    "python -m factorops --project . patterns promote x",
    "/usr/local/bin/factorops token show",
    "sudo factorops deny 9",
    "sh -c 'factorops approve 1'",
    "F=factorops; $F approve 2",
    "fac''torops 'approve' 4",
    "env X=1 factorops patterns retire y",
]
PERSON_HARMLESS = [
    "factorops status",
    "factorops patterns list",
    "factorops patterns search token",
    "factorops approvals list",
    'echo "factorops approve 3"',
    "grep -r 'factorops approve' docs/",
    "python3 -m factorops --help",
    "factorops init",
    "factorops starter install --dry-run",
    "cat docs/approve.md",
    "git commit -m 'factorops token rotate docs'",
]
BRANCH_CATCH = [
    "git branch -D main",
    "git branch -d main",
    "git branch --delete main",
    "git branch -D feature main",
    "git -C . branch -D main",
    "g''it branch -D 'main'",
    "B=main; git branch -D $B",
    "git branch -df main",
    "sudo git branch -D main",
    "sh -c 'git branch -D main'",
    "git push origin --delete main",
    "git push origin :main",
]
BRANCH_HARMLESS = [
    "git branch -D feature",
    "git branch -d old-fix",
    "git branch main-backup",
    "git branch --list main",
    "git branch -m feature",
    "echo 'git branch -D main'",
    "git branch -D Main-old",
    "git checkout main",
    "git branch",
    "git branch -D mainline",
]

# The helpers' fixtures name a project root of /work/proj; this project lives elsewhere.
_OTHER_ROOT = {"rm -rf /work/proj", "rm -rf /work/proj/build"}

FAMILIES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "delete the default branch": (
        ["delete-default-branch", "force-push-default-branch"],
        BRANCH_CATCH,
        BRANCH_HARMLESS,
    ),
    "reset/clean": (
        ["git-reset-hard", "git-clean-force"],
        RESET_CATCH,
        [c for c in RESET_HARMLESS if c != "git clean -f"],
    ),
    "recursive delete": (
        ["rm-rf-outside-project", "rm-rf-catastrophic"],
        [c for c in RM_CATCH if c not in _OTHER_ROOT],
        [c for c in RM_HARMLESS if c not in _OTHER_ROOT],
    ),
    "drop database/table": (["drop-database", "drop-table"], DB_CATCH, DB_HARMLESS),
    "write a device": (["write-device"], DEVICE_CATCH, DEVICE_HARMLESS),
    "download into a shell": (["pipe-download-to-shell"], DOWNLOAD_CATCH, DOWNLOAD_HARMLESS),
    "person-only commands": (["person-only-commands"], PERSON_CATCH, PERSON_HARMLESS),
}


async def check(c: Client, command: str) -> dict[str, Any]:
    r = await c.call_tool("guardrail_check", {"action": "run a command", "command": command})
    assert not r.is_error, (command, r.content[0].text)  # type: ignore[union-attr]
    assert r.structured_content is not None
    return r.structured_content


async def starters(runtime: Runtime, clock: Clock) -> None:
    install_starters(await runtime.store(None), clock())


def on_branch(project: Path, branch: str) -> None:
    if git(project, "branch", "--show-current").strip() != branch:
        git(project, "checkout", "-q", "-B", branch)


async def test_force_push_corpus_through_guardrail_check(
    client: Client, runtime: Runtime, clock: Clock, project: Path
) -> None:
    await starters(runtime, clock)
    missed, known, false_pos = [], [], []
    for case in FORCE_CATCH:
        on_branch(project, case.current)
        if (await check(client, case.cmd))["decision"] != "block":
            (known if case.known_miss else missed).append(case.cmd)
    for case in FORCE_HARMLESS:
        on_branch(project, case.current)
        if (await check(client, case.cmd))["decision"] == "block":
            false_pos.append(case.cmd)
    caught = len(FORCE_CATCH) - len(missed) - len(known)
    print(
        f"\nguardrail_check on the force-push corpus: catch {caught}/{len(FORCE_CATCH)} "
        f"({caught / len(FORCE_CATCH):.1%}), false positives {len(false_pos)}/{len(FORCE_HARMLESS)} "
        f"({len(false_pos) / len(FORCE_HARMLESS):.1%}); known misses {known}"
    )
    assert not missed, missed
    assert not false_pos, false_pos


async def test_each_failure_pattern_through_guardrail_check(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    await starters(runtime, clock)
    problems: list[str] = []
    for family, (slugs, catch, harmless) in FAMILIES.items():
        assert len(catch) >= 10 and len(harmless) >= 10, family
        titles = {starter_rule(s).title for s in slugs}
        for cmd in catch:
            got = await check(client, cmd)
            if got["decision"] == "allow" or not titles & {m["title"] for m in got.get("matches", [])}:
                problems.append(f"{family}: missed {cmd!r}: {got}")
        for cmd in harmless:
            got = await check(client, cmd)
            # A command the shell analysis cannot follow fails closed with a warning (by design).
            unsure = got["decision"] == "warn" and "could not be read the way the shell would" in str(got)
            if titles & {m["title"] for m in got.get("matches", [])} and not unsure:
                problems.append(f"{family}: flagged {cmd!r}: {got}")
    assert not problems, "\n".join(problems)


async def test_default_branch_is_whatever_the_repo_calls_it(
    client: Client, runtime: Runtime, clock: Clock, project: Path
) -> None:
    await starters(runtime, clock)
    git(project, "branch", "-m", "main", "trunk")
    git(project, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert (await check(client, "git push -f origin trunk"))["decision"] == "block"
    assert (await check(client, "git push -f origin main"))["decision"] != "block"


async def test_deeply_nested_force_push_is_a_decision_not_an_error(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    await starters(runtime, clock)
    got = await check(client, "$(" * 1000 + "git push -f origin main" + ")" * 1000)
    assert got["decision"] in ("warn", "block")
    assert "could not be read the way the shell would" in str(got["matches"])


async def test_quoted_text_is_data_not_a_command(client: Client, runtime: Runtime, clock: Clock) -> None:
    await starters(runtime, clock)
    for cmd in (
        "python -c \"print('git push -f origin main')\"",
        "cat > notes.txt <<'EOF'\ngit push -f origin main\nEOF",
        'echo "rm -rf /"',
        "git commit -m 'never run git reset --hard'",
    ):
        assert (await check(client, cmd))["decision"] == "allow", cmd


async def test_existing_projects_get_the_checks_of_their_starter_rules(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    # A project whose starter rules were stored before rules could name a check (regex only).
    store = await runtime.store(None)
    install_starters(store, clock())
    old = patterns.get(store, "starter-force-push-default-branch")
    assert old.rule is not None and old.rule.check == "force_push"
    regex_only = old.model_copy(update={"rule": old.rule.model_copy(update={"check": None})})
    patterns.save_many(store, [regex_only], "guardrails: an old starter rule", {"Factor": "XI"})
    assert patterns.get(store, "starter-force-push-default-branch").rule.check is None  # type: ignore[union-attr]
    # The old regex does not know --mirror; the shipped check does, and reaches the stored rule.
    got = await check(client, "git push --mirror origin")
    assert got["decision"] == "block", got
