"""Patterns that mature (issue #18): citations, maturity from evidence, contradictions.

Shown is not used: only the ids a session cites at `session_end` (helped / hurt) move a pattern's
confidence and counters. Maturity (discovery -> validated -> general -> standard, or deprecated)
follows from distinct citing sessions; a person still promotes. Every rule is driven through the
MCP client in-process or the CLI as a subprocess, with the test's clock where time matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.server.mcp.runtime import Runtime
from factorops.store.ledger_layout import pattern_path
from factorops.store.store import Store
from factorops.tools.patterns import records as patterns

from .conftest import Clock


async def ok(c: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await c.call_tool(name, args)
    assert not r.is_error, r.content
    return r.structured_content


async def err(c: Client, name: str, args: dict[str, Any]) -> str:
    r = await c.call_tool(name, args)
    assert r.is_error, r.structured_content
    return " ".join(getattr(x, "text", "") for x in r.content)


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args, "--project", str(project)], capture_output=True, text=True
    )


def active(store: Store, clock: Clock, title: str, kind: str = "pattern", **kw: Any) -> str:
    pid = patterns.record(
        store,
        patterns.PatternRecordInput(title=title, kind=kind, solution=kw.pop("solution", "x"), **kw),
        clock(),
    ).id
    patterns.set_status(store, pid, "active", clock(), by="test")
    return pid


def candidate(store: Store, clock: Clock, title: str, **kw: Any) -> str:
    return patterns.record(store, patterns.PatternRecordInput(title=title, solution="x", **kw), clock()).id


async def run_session(c: Client, goal: str, outcome: str = "partial", **cite: list[str]) -> str:
    sid = str((await ok(c, "session_start", {"goal": goal}))["session_id"])
    await ok(c, "session_end", {"session_id": sid, "outcome": outcome, **cite})
    return sid


# -- 1. shown is not used ------------------------------------------------------------------------


async def test_only_citations_move_confidence(client: Client, runtime: Runtime, clock: Clock) -> None:
    store = await runtime.store(None)
    a = active(store, clock, "Retry payment calls with backoff", tags=["payments"])
    b = active(store, clock, "Payment webhooks are idempotent", tags=["payments"])
    before_a, before_b = patterns.get(store, a), patterns.get(store, b)
    s = await ok(client, "session_start", {"goal": "payment retry and webhooks"})
    assert {p["id"] for p in s["patterns"]} == {a, b}  # both shown
    await ok(client, "session_end", {"session_id": s["session_id"], "outcome": "failed", "helped": [a]})
    after_a, after_b = patterns.get(store, a), patterns.get(store, b)
    # Cited as helpful: used, helped, more confident, the session named -- even in a failed session.
    assert (after_a.times_used, after_a.times_helped, after_a.helped_in) == (1, 1, [s["session_id"]])
    assert after_a.confidence > before_a.confidence and after_a.last_cited == clock()
    # Shown but not cited: nothing moved, although the session failed.
    assert after_b == before_b
    # The citation is in the ledger: the session's end record, and the pattern's own file.
    end = json.loads(
        subprocess.run(
            ["git", "show", f"HEAD~1:{_end_path(store, s['session_id'])}"],
            cwd=store.ledger.path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert end["cited"] == {"helped": [a], "hurt": []}
    assert f'helped_in: ["{s["session_id"]}"]' in (store.ledger.path / pattern_path(a)).read_text()
    # Cited as harmful: used, hurt, less confident.
    s2 = await run_session(client, "payment webhooks again", hurt=[b])
    hurt = patterns.get(store, b)
    assert (hurt.times_used, hurt.times_hurt, hurt.hurt_in) == (1, 1, [s2])
    assert hurt.confidence < before_b.confidence


def _end_path(store: Store, sid: str) -> str:
    row = store.db.execute("SELECT ledger_dir FROM sessions WHERE id = ?", [sid]).fetchone()
    return f"{row[0]}/end.json"


async def test_bad_citation_is_refused_naming_it_and_writes_nothing(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    a = active(store, clock, "Keep migrations reversible")
    sid = (await ok(client, "session_start", {"goal": "migrations"}))["session_id"]
    head = store.ledger.head()
    msg = await err(
        client, "session_end", {"session_id": sid, "outcome": "partial", "helped": [a, "pat-nope"]}
    )
    assert "helped" in msg and "pat-nope" in msg
    msg = await err(client, "session_end", {"session_id": sid, "outcome": "partial", "hurt": ["../sessions"]})
    assert "hurt" in msg and "../sessions" in msg
    msg = await err(
        client, "session_end", {"session_id": sid, "outcome": "partial", "helped": [a], "hurt": [a]}
    )
    assert a in msg and "both" in msg
    assert store.ledger.head() == head  # nothing half-written: no end record, no pattern change
    assert patterns.get(store, a).times_used == 0
    await ok(client, "session_end", {"session_id": sid, "outcome": "partial", "helped": [a]})  # still open


# -- 2. maturity from evidence ---------------------------------------------------------------------


async def read_index(c: Client) -> str:
    res = await c.read_resource("agentops://patterns")
    return " ".join(getattr(x, "text", "") for x in res.contents)


async def test_a_candidate_matures_from_citations_and_becomes_eligible(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    c = candidate(store, clock, "Pin the provider SDK version in lock files")
    sids = []
    for i in range(2):
        clock.advance(days=1)
        sids.append(await run_session(client, f"upgrade attempt {i}", helped=[c]))
    assert "For a person to decide" not in await read_index(client)  # discovery: 2 < 3
    clock.advance(days=1)
    sids.append(await run_session(client, "upgrade attempt 2", helped=[c]))
    review = (await read_index(client)).split("## For a person to decide")[1]
    assert "Eligible for promotion" in review and c in review and "validated" in review
    assert "helped in 3 sessions, hurt in 0" in review and all(s in review for s in sids)
    # Still a candidate: eligibility decides nothing; a person promotes.
    assert patterns.get(store, c).status == "candidate"
    for i in range(2):
        sids.append(await run_session(client, f"more {i}", helped=[c]))
    assert "general: helped in 5 sessions" in (await read_index(client))


async def test_the_dashboard_shows_maturity_and_which_candidates_are_eligible(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    """The person who promotes sees, on the dashboard, which candidates the evidence carries and why."""
    from starlette.testclient import TestClient

    from factorops.server.web.app import build

    store = await runtime.store(None)
    ready = candidate(store, clock, "Pin the provider SDK version in lock files")
    young = candidate(store, clock, "Run the linter before pushing")
    for i in range(3):
        clock.advance(days=1)
        await run_session(client, f"upgrade attempt {i}", helped=[ready])
    await run_session(client, "lint once", helped=[young])
    token = "maturity-dashboard-token-0123456789"
    web = TestClient(build(store, token, now=clock, by="dashboard:tester"), base_url="http://127.0.0.1:8766")
    assert web.get(f"/?token={token}", follow_redirects=False).status_code == 303
    listing = web.get("/patterns", params={"status": "candidate"}).text
    row = {pid: listing.split(f'href="/patterns/{pid}"')[1].split("</tr>")[0] for pid in (ready, young)}
    assert "validated" in row[ready] and "eligible for promotion" in row[ready]
    assert "discovery" in row[young] and "eligible" not in row[young]
    page = web.get(f"/patterns/{ready}").text
    assert "<dt>maturity</dt>" in page and "helped in 3 sessions, hurt in 0" in page


async def test_repeated_harm_deprecates_an_active_pattern(
    client: Client, runtime: Runtime, clock: Clock
) -> None:
    store = await runtime.store(None)
    a = active(store, clock, "Mock the database in integration tests")
    await run_session(client, "s0", helped=[a])
    for i in range(2):
        await run_session(client, f"s{i + 1}", hurt=[a])
    assert "Deprecated" not in await read_index(client)  # hurt 2 < 3
    await run_session(client, "s3", hurt=[a])
    review = (await read_index(client)).split("## For a person to decide")[1]
    assert "Deprecated, proposed for retirement" in review and a in review
    assert "repeatedly harmful: helped in 1 session, hurt in 3" in review
    assert patterns.get(store, a).status == "active"  # a person retires


async def test_unused_past_decay_deprecates(client: Client, runtime: Runtime, clock: Clock) -> None:
    store = await runtime.store(None)
    a = active(store, clock, "Keep feature flags out of the domain layer")
    await run_session(client, "flags", helped=[a])
    clock.advance(days=29)
    assert "Deprecated" not in await read_index(client)
    clock.advance(days=61)  # 90 days unused: confidence ~0.55 halves three times, below 0.2
    review = (await read_index(client)).split("## For a person to decide")[1]
    assert a in review and "unused for 90 days" in review


async def test_cli_shows_stage_and_eligible_candidates_with_configured_thresholds(
    project: Path, tmp_path: Path
) -> None:
    # The CLI reads the real clock, so the sessions here are recorded on it too (no simulated time).
    from factorops.server.mcp.app import build_app

    rt = Runtime(project=project, use_roots=False, starters=False)
    try:
        async with Client(build_app(rt)) as c:
            store = await rt.store(None)
            now = rt.now
            pid = patterns.record(
                store, patterns.PatternRecordInput(title="Batch writes", solution="x"), now()
            ).id
            other = patterns.record(store, patterns.PatternRecordInput(title="Other", solution="y"), now()).id
            sids = [await run_session(c, f"goal {i}", helped=[pid]) for i in range(3)]
            await run_session(c, "one more", helped=[other])
    finally:
        rt.close()
    out = cli(project, "patterns", "list")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith(f"  {pid}"))
    assert "validated: helped in 3 sessions, hurt in 0" in line and all(s in line for s in sids)
    assert f"  {other}" not in out.stdout  # one session is not enough
    rows = {r["id"]: r for r in json.loads(cli(project, "patterns", "list", "--json").stdout)}
    assert rows[pid]["stage"] == "validated" and rows[other]["stage"] == "discovery"
    # The team's thresholds: validated after one helpful session, standard after three.
    config = project / ".agentops" / "config.toml"
    config.write_text("[maturity]\nvalidated = 1\ngeneral = 2\nstandard = 3\n")
    rows = {r["id"]: r for r in json.loads(cli(project, "patterns", "list", "--json").stdout)}
    assert rows[pid]["stage"] == "standard" and rows[other]["stage"] == "validated"
    # A broken [maturity] table gives the defaults, with a warning naming the key.
    config.write_text("[maturity]\nvalidated = 5\ngeneral = 2\n")
    out = cli(project, "patterns", "list", "--json")
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert rows[pid]["stage"] == "validated" and "maturity" in out.stderr


# -- 4. contradictions -----------------------------------------------------------------------------


async def test_contradicting_active_patterns_are_flagged_everywhere(
    client: Client, runtime: Runtime, clock: Clock, project: Path
) -> None:
    store = await runtime.store(None)
    do = active(store, clock, "Use mocks in integration tests", scope=["tests/integration/*"])
    dont = active(
        store, clock, "Never use mocks in integration tests", scope=["tests/integration/test_db.py"]
    )
    squash = active(store, clock, "Squash commits before merging")
    anti = active(store, clock, "Squash commits before merging", kind="anti-pattern", scope=["src/**"])
    # Not contradictions: disjoint scopes; the same advice twice; a candidate.
    active(store, clock, "Pin versions in the lock file", scope=["web/*"])
    active(store, clock, "Do not pin versions in the lock file", scope=["tools/*"])
    active(store, clock, "Run the linter before committing")
    active(store, clock, "Always run the linter before committing code")
    candidate(store, clock, "Never squash commits before merging")
    index = await read_index(client)
    assert "Contradicting active patterns" in index
    flagged = [line for line in index.splitlines() if " vs " in line]
    assert len(flagged) == 2, flagged
    assert any(do in x and dont in x and "tests/integration" in x for x in flagged)
    assert any(squash in x and anti in x for x in flagged)
    out = cli(project, "patterns", "list")
    assert out.returncode == 0, out.stderr
    pairs = [line for line in out.stdout.splitlines() if " vs " in line]
    assert any(do in x and dont in x for x in pairs) and any(squash in x and anti in x for x in pairs)
    doc = cli(project, "doctor")
    warned = [x for x in (doc.stdout + doc.stderr).splitlines() if "contradicting active patterns" in x]
    assert any(do in x and dont in x for x in warned) and any(squash in x and anti in x for x in warned)
    assert "patterns retire" in doc.stdout + doc.stderr
    # A person retires one: the flag goes.
    patterns.set_status(store, dont, "retired", clock(), by="test")
    after = [x for x in (await read_index(client)).splitlines() if " vs " in x]
    assert len(after) == 1 and squash in after[0]
