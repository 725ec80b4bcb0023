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
    assert f'helped_in: ["{s["session_id"]}"]' in (store.ledger.path / f"patterns/{a}.md").read_text()
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
