"""Hostile and generated input to every tool the server lists, through a real MCP client.

Tools are discovered with `tools/list`, so a tool someone adds later is fuzzed without touching this
file. Arguments are drawn from each tool's own input schema (right types, out-of-range values,
enum near-misses, huge and unicode strings, NULs, path traversal, shell and SQL metacharacters) mixed
with plain junk (wrong types, nested lists and objects, unknown keys). Every call must end in a
result or a *clear* tool error (the SDK's bare "Error executing tool X" means an exception escaped),
the server must keep answering, and afterwards SQLite's integrity_check and git fsck must be clean
with the index at the ledger's head (no partial write).

Example counts: FACTOROPS_FUZZ_EXAMPLES per tool (default 100) schema-shaped, a quarter of that pure
junk. Inputs are derandomized so CI is repeatable; FACTOROPS_FUZZ_RANDOM=1 explores new ones.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, Tool

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

from .conftest import commit_files, git

EXAMPLES = int(os.environ.get("FACTOROPS_FUZZ_EXAMPLES", "100"))
CALL_TIMEOUT_S = 60

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "../../../../etc/passwd",
    "/etc/passwd",
    "..",
    "../",
    "~/.ssh/id_rsa",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "file:///etc/passwd",
    "link_out/secret.txt",
    "link_out",
    ".agentops/agentops.db",
    ".agentops/http_token",
    ".git/config",
    ".env",
    "$(touch /tmp/factorops-pwned)",
    "`id`",
    "; rm -rf /",
    "' OR '1'='1' --",
    '"); DROP TABLE sessions; --',
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    "\U0001f642" * 50,
    "ses-20260101-000000-deadbeef",
    "*",
    "**/*",
    "[",
    "(?",
    "a" * 70,
    "\n\n\n",
    "NaN",
    "null",
    "-" * 3 + "\n" + "title: x\n---",
]

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(HOSTILE),
)
JUNK = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
HUGE = st.builds(
    lambda s, n: s * n, st.text(min_size=1, max_size=4), st.sampled_from([5_000, 60_000, 250_000])
)
STRINGS = st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE), HUGE)


def value_for(name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped by one property's schema, edges included; junk is mixed in by the caller."""
    if "wait" in name:  # tools that wait on a person by design: keep the fuzz bounded
        return st.floats(min_value=0, max_value=0.2)
    options = [value_for(name, s) for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if options:
        return st.one_of(*options)
    if "enum" in schema:
        near = [str(v).upper() for v in schema["enum"]] + [str(v) + " " for v in schema["enum"]]
        return st.sampled_from(list(schema["enum"]) + near)
    kind = schema.get("type")
    if kind == "string":
        return STRINGS
    if kind == "integer":
        edges = [0, -1, 1, 2**31, 2**53 + 1, 10**30, schema.get("maximum", 7), schema.get("minimum", 3)]
        return st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.sampled_from(edges))
    if kind == "number":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, -1, 1e308]))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        limit = min(int(schema.get("maxItems", 5)) + 2, 60)
        return st.lists(value_for(name, schema.get("items", {})), max_size=limit)
    return JUNK


def valid_for(name: str, schema: dict[str, Any], ids: list[str]) -> st.SearchStrategy[Any]:
    """Values the schema accepts, so calls get past validation into the domain code, where
    hostile-but-valid strings (traversal paths, metacharacters, unicode) do their damage."""
    if "wait" in name:
        return st.floats(min_value=0, max_value=0.2)
    options = [valid_for(name, s, ids) for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if options:
        return st.one_of(*options)
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    kind = schema.get("type")
    if kind == "string":
        lo, hi = int(schema.get("minLength", 0)), int(schema.get("maxLength", 300))
        fits = [h for h in HOSTILE if lo <= len(h) <= hi]
        if ids and (name.endswith("id") or name == "evidence"):
            return st.one_of(
                st.sampled_from(ids), st.sampled_from(fits), st.text(min_size=max(lo, 1), max_size=64)
            )
        # (min 1: trimmed schemas drop the minLength of list items, which the server still checks)
        return st.one_of(st.text(min_size=max(lo, 1), max_size=min(hi, 120)), st.sampled_from(fits))
    if kind == "integer":
        lo, hi = int(schema.get("minimum", -(2**31))), int(schema.get("maximum", 2**31))
        return st.integers(min_value=lo, max_value=min(hi, lo + 100_000))
    if kind == "number":
        lo, hi = float(schema.get("minimum", -1e9)), float(schema.get("maximum", 1e9))
        return st.floats(min_value=lo, max_value=hi, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            valid_for(name, schema.get("items", {}), ids),
            min_size=int(schema.get("minItems", 0)),
            max_size=min(int(schema.get("maxItems", 5)), 8),
        )
    return JUNK


def arguments_for(tool: Tool, ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Two parts valid (required fields present, values the schema accepts) to one part hostile."""
    props: dict[str, Any] = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    valid = st.fixed_dictionaries(
        {k: valid_for(k, s, ids) for k, s in props.items() if k in required},
        optional={k: valid_for(k, s, ids) for k, s in props.items() if k not in required},
    )
    shaped = st.fixed_dictionaries(
        {}, optional={k: st.one_of(value_for(k, s), valid_for(k, s, ids), JUNK) for k, s in props.items()}
    )
    extra = st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda k: k not in props), JUNK, max_size=2
    )
    hostile = st.builds(lambda a, b: {**b, **a}, shaped, extra)
    return st.one_of(valid, valid, hostile)


def _make_project(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    commit_files(
        root,
        {
            "README.md": "# fuzz target\n",
            "src/app.py": "def main():\n    return 1\n",
            "tests/test_app.py": "from src.app import main\n\ndef test_main():\n    assert main() == 1\n",
            ".env": "API_KEY=sk-live-abcdefghijklmnopqrstuvwxyz0123\n",
        },
        "fix: initial layout",
    )
    # One fast gate, so validation_run gets past "no gates configured" into the runner.
    (root / ".agentops").mkdir()
    (root / ".agentops" / "config.toml").write_text(
        '[[gates]]\nname = "quick"\ncommand = ["python", "-c", "print(1)"]\ntimeout_s = 30\n'
    )
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET outside the project\n")
    (root / "link_out").symlink_to(outside)
    return root


async def _list_tools(project: Path) -> list[Tool]:
    runtime = Runtime(project=project, use_roots=False)
    try:
        async with Client(build_app(runtime)) as c:
            return list((await c.list_tools()).tools)
    finally:
        runtime.close()


@dataclass
class Live:
    portal: BlockingPortal
    client: Client
    project: Path
    calls: Counter[str]
    errors: Counter[str]
    ids: list[str]

    def call(self, name: str, args: dict[str, Any]) -> CallToolResult:
        async def go() -> CallToolResult:
            with anyio.fail_after(CALL_TIMEOUT_S):
                return await self.client.call_tool(name, args)

        result = self.portal.call(go)
        self.calls[name] += 1
        if result.is_error:
            self.errors[name] += 1
        return result


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    project = _make_project(tmp_path_factory.mktemp("fuzz") / "proj")
    runtime = Runtime(project=project, use_roots=False)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_app(runtime))) as client,
    ):
        live = Live(portal, client, project, Counter(), Counter(), [])
        # Real ids, so id fields sometimes name something that exists.
        started = live.call("session_start", {"goal": "fuzz target"}).structured_content
        made = live.call("pattern_record", {"title": "fuzz pattern", "solution": "x"}).structured_content
        asked = live.call("approval_request", {"action": "deploy", "rationale": "fuzz", "risk": "low"})
        for found in (started, made, asked.structured_content):
            live.ids += [str(v) for k, v in (found or {}).items() if k in ("id", "session_id", "approval_id")]
        yield live
    runtime.close()


# Discovered at collection: every tool the server lists gets its own fuzz test. (Listing opens no
# store; the empty temp project is there in case a future tool's listing does.)
with tempfile.TemporaryDirectory(prefix="factorops-fuzz-list-") as _empty:
    TOOLS: list[Tool] = anyio.run(_list_tools, Path(_empty))


def assert_clear(name: str, result: CallToolResult) -> None:
    assert isinstance(result, CallToolResult)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        assert text.strip(), f"{name}: an error with no message"
        assert text.strip() != f"Error executing tool {name}", (
            f"{name}: an exception escaped (see server log)"
        )
        assert "Traceback" not in text
    else:
        assert result.structured_content is not None or text, f"{name}: an empty result"


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("FACTOROPS_FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_schema_shaped_and_hostile_arguments(live: Live, tool: Tool) -> None:
    @FUZZ
    @given(args=arguments_for(tool, live.ids))
    def run(args: dict[str, Any]) -> None:
        assert_clear(tool.name, live.call(tool.name, args))

    run()


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_pure_junk_arguments(live: Live, tool: Tool) -> None:
    @settings(FUZZ, max_examples=max(5, EXAMPLES // 4))
    @given(args=st.dictionaries(st.text(max_size=12), JUNK, max_size=6))
    def run(args: dict[str, Any]) -> None:
        assert_clear(tool.name, live.call(tool.name, args))

    run()


def test_a_nul_in_text_that_reaches_a_commit_message(live: Live) -> None:
    """Found by this fuzz: a NUL in a session goal crashed the ledger commit (argv cannot carry
    NUL). The record keeps the exact text; the commit message shows a stand-in."""
    r = live.call("session_start", {"goal": "before\x00after"})
    assert not r.is_error, r.content
    sid = r.structured_content["session_id"]  # type: ignore[index]
    resumed = live.call("session_resume", {"session_id": sid}).structured_content
    assert resumed is not None and resumed["goal"] == "before\x00after"


def test_unknown_tool_names_are_refused(live: Live) -> None:
    for name in ("../../etc/passwd", "approval_decide", "", "x" * 10_000, "session_start\x00"):

        async def go(n: str = name) -> CallToolResult:
            return await live.client.call_tool(n, {})

        result = live.portal.call(go)
        assert result.is_error


def test_zz_server_survived_and_storage_is_clean(live: Live) -> None:
    """Runs after the fuzz tests above (file order): the same server still answers, and the files
    on disk are healthy."""
    result = live.call("session_start", {"goal": "after the fuzz"})
    assert not result.is_error, result.content
    data = live.project / ".agentops"
    conn = sqlite3.connect(data / "agentops.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    head_in_index = conn.execute("SELECT value FROM meta WHERE key = 'ledger_head'").fetchone()
    conn.close()
    ledger = data / "ledger"
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=ledger, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert git(ledger, "status", "--porcelain") == ""
    assert head_in_index is not None and head_in_index[0] == git(ledger, "rev-parse", "HEAD").strip()
    # The user's repository was never written: no tracked file changed, no commit added.
    assert git(live.project, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(live.project, "rev-list", "--count", "HEAD").strip() == "1"
    total = sum(live.calls.values())
    print(
        f"\nfuzz: {total} calls over {len(live.calls)} tools, {sum(live.errors.values())} clear tool errors"
    )
    for name in sorted(live.calls):
        print(f"  {name}: {live.calls[name]} calls, {live.errors[name]} errors")
