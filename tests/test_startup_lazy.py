"""A server opens an up-to-date store without importing the capabilities (issue #19, first answer).

`tools/registry.py` names every component's migrations; `Store.open` with `lazy_components()` asks
SQLite once whether all of them are applied and, when they are, neither imports a component module
nor takes the write lock to migrate. A first tool call then imports its own implementation only. An
index that misses a migration (an older factorops made it) is migrated as before. No timing is
asserted: the SQL statements a fresh process runs and the modules it loads are counted.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from factorops.tools.registry import MIGRATIONS, components

from .conftest import probe_child
from .stdio_server import server_params

# Runs the first tool calls through the in-process MCP client in a fresh Python process on a project
# `factorops init` made in its own process (as a user's is before a client starts us), recording
# every SQL statement the store's connections run.
_PROBE = """
import json, subprocess, sys
from pathlib import Path
import anyio
from mcp import Client
from factorops.store import db as store_db
from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

project = Path(sys.argv[1])
subprocess.run(["git", "init", "-q", str(project)], check=True)
subprocess.run([sys.executable, "-P", "-m", "factorops", "init", "--project", str(project)], check=True)
calls = json.loads(sys.argv[2])
statements = []
connect = store_db.connect

def traced(path):
    db = connect(path)
    db.conn.set_trace_callback(statements.append)
    return db

store_db.connect = traced

async def main() -> None:
    runtime = Runtime.from_env(project)  # as `factorops serve` makes it
    runtime.use_roots = False
    runtime.warm_secrets = False  # what the call itself loads is checked, not the later warm-up
    out = {}
    async with Client(build_app(runtime)) as client:
        for name, args in calls:
            res = await client.call_tool(name, args)
            assert not res.is_error, res
            out[name] = {"sql": list(statements), "modules": sorted(sys.modules)}
    runtime.close()
    print("RESULT", json.dumps(out))

anyio.run(main)
"""

# Component modules: each is imported by the calls that use it, never just to open the store.
COMPONENT_MODULES = (
    "factorops.tools.sessions.lifecycle",
    "factorops.tools.context.index",
    "factorops.tools.patterns.records",
    "factorops.tools.flywheel.inject",
    "factorops.tools.oversight.approvals",
    "factorops.tools.oversight.validation",
    "factorops.tools.oversight.routing",
    "factorops.tools.metrics.report",
    "factorops.tools.flywheel.mining",
    "factorops.tools.watch.records",
)


def probe(tmp_path: Path, calls: list[tuple[str, dict[str, object]]]) -> dict[str, dict[str, list[str]]]:
    got: dict[str, dict[str, list[str]]] = probe_child(tmp_path, _PROBE, calls, "RESULT")
    return got


def test_registry_names_every_migration_of_the_components() -> None:
    """The ids the store checks without importing the components are exactly their own."""
    assert {c.name: tuple(m.id for m in c.migrations) for c in components()} == MIGRATIONS


def test_an_up_to_date_store_opens_with_one_query_and_no_write_lock(tmp_path: Path) -> None:
    got = probe(tmp_path, [("guardrail_check", {"command": "git push --force"})])
    sql = got["guardrail_check"]["sql"]
    # the schema check is one read; no CREATE TABLE IF NOT EXISTS, no BEGIN IMMEDIATE to migrate
    assert [s for s in sql if "schema_migrations" in s] == ["SELECT id FROM schema_migrations"]
    assert not [s for s in sql if s.startswith(("BEGIN", "CREATE", "INSERT"))], sql


@pytest.mark.parametrize(
    ("first", "args", "needs"),
    [
        ("guardrail_check", {"command": "git push --force"}, ()),
        ("patterns_search", {"query": "force push"}, ("factorops.tools.patterns.records",)),
        (
            "session_start",
            {"goal": "tidy the release notes"},
            (
                "factorops.tools.sessions.lifecycle",
                "factorops.tools.patterns.records",
                "factorops.tools.flywheel.inject",
                "factorops.tools.oversight.validation",
                "factorops.tools.watch.records",
            ),
        ),
    ],
)
def test_a_first_call_imports_only_the_components_it_uses(
    tmp_path: Path, first: str, args: dict[str, object], needs: tuple[str, ...]
) -> None:
    loaded = set(probe(tmp_path, [(first, args)])[first]["modules"])
    assert [m for m in COMPONENT_MODULES if m in loaded] == [m for m in COMPONENT_MODULES if m in needs]
    # the call hook records the call through the light event buffer, not the report
    assert "factorops.tools.metrics.events" in loaded


async def test_an_index_missing_a_migration_is_migrated_at_open(project: Path, tmp_path: Path) -> None:
    """An index an older factorops made (a migration not applied yet) still gets it on open."""
    subprocess.run([sys.executable, "-m", "factorops", "init", "--project", str(project)], check=True)
    db = project / ".agentops" / "agentops.db"
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE pattern_injections")
        conn.execute("DELETE FROM schema_migrations WHERE id = 'flywheel-001'")
    conn.close()
    async with Client(server_params(project)) as c:
        res = await c.call_tool("session_start", {"goal": "force push the release branch"})
        assert not res.is_error, res
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT 1 FROM schema_migrations WHERE id = 'flywheel-001'").fetchone()
        conn.execute("SELECT count(*) FROM pattern_injections").fetchone()
    conn.close()


def test_servers_built_at_once_leave_the_sdks_logging_setup_as_it_was(tmp_path: Path) -> None:
    """Building a server swaps the SDK's `configure_logging` for a stand-in while the root logger
    has handlers; two threads building at once must not leave the stand-in there."""
    import logging
    import threading

    from mcp.server.mcpserver import server as sdk_server

    from factorops.server.mcp.app import build_app
    from factorops.server.mcp.runtime import Runtime

    original = sdk_server.configure_logging
    handler = logging.NullHandler()
    logging.getLogger().addHandler(handler)
    start = threading.Barrier(4)

    def builder() -> None:
        start.wait()
        for _ in range(25):
            build_app(Runtime(project=tmp_path, use_roots=False, starters=False))

    try:
        threads = [threading.Thread(target=builder) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sdk_server.configure_logging is original
    finally:
        sdk_server.configure_logging = original
        logging.getLogger().removeHandler(handler)
