"""Start-up imports only what `initialize` and `tools/list` need (issue #19).

Building the app registers every tool from its input model (a light `models.py` per capability);
each tool's implementation is imported on its first call. A fresh Python process builds the app,
lists the tools through the in-process MCP client and prints `sys.modules`; no timing is asserted.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import probe_child

_PROBE = """
import json, subprocess, sys
from pathlib import Path
import anyio
from mcp import Client
from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime

project = Path(sys.argv[1])
subprocess.run(["git", "init", "-q", str(project)], check=True)
# set up by `factorops init` in its own process, as a user's project is before a client starts us
# (creating a ledger is not a first call's work)
subprocess.run([sys.executable, "-P", "-m", "factorops", "init", "--project", str(project)], check=True)
calls = json.loads(sys.argv[2])

async def main() -> None:
    runtime = Runtime.from_env(project)  # as `factorops serve` makes it
    runtime.use_roots = False
    # A server loads the secret detector on a timer after its first answer; here what a call
    # itself imports is checked, so the timer is off.
    runtime.warm_secrets = False
    snapshots = {}
    app = build_app(runtime)
    added = {}  # tools the SDK has built (argument model, schema), before and after tools/list
    async with Client(app) as client:
        snapshots["built"] = sorted(sys.modules)
        added["built"] = len(app._tool_manager.list_tools())
        listed = await client.list_tools()
        snapshots["listed"] = sorted(sys.modules)
        added["listed"] = len(app._tool_manager.list_tools())
        for name, args in calls:
            res = await client.call_tool(name, args)
            assert not res.is_error, res
            snapshots[name] = sorted(sys.modules)
    runtime.close()
    print("RESULT", json.dumps({"tools": len(listed.tools), "added": added, "modules": snapshots}))

anyio.run(main)
"""

# What `initialize` and `tools/list` must not pay for: the domain's heavy modules and libraries.
HEAVY = (
    "factorops.tools.context.load",
    "factorops.tools.flywheel.inject",
    "factorops.tools.watch.live",
    "factorops.tools.patterns.records",
    "factorops.tools.guardrails.check",
    "factorops.tools.metrics.report",
    "factorops.tools.sessions.lifecycle",
    "factorops.resources.patterns",
    "tree_sitter_bash",
    "tree_sitter",
    "detect_secrets",
    "tiktoken",
    "git",
)


def probe(tmp_path: Path, calls: list[tuple[str, dict[str, object]]]) -> dict[str, object]:
    got: dict[str, object] = probe_child(tmp_path, _PROBE, calls, "RESULT")
    return got


def test_building_the_app_and_listing_tools_imports_no_domain(tmp_path: Path) -> None:
    got = probe(tmp_path, [])
    assert got["tools"] == 15
    # the SDK builds a tool (argument model, JSON schema) when it is first listed, not for `initialize`
    assert got["added"] == {"built": 0, "listed": 15}
    modules: dict[str, list[str]] = got["modules"]  # type: ignore[assignment]
    for when in ("built", "listed"):
        loaded = set(modules[when])
        assert not [m for m in HEAVY if m in loaded], when
    # the input models come with tools/list (or a tool's first call), not with `initialize`
    models = [
        f"factorops.tools.{c}.models" for c in ("sessions", "context", "patterns", "guardrails", "oversight")
    ]
    assert not [m for m in models if m in modules["built"]]
    assert [m for m in models if m in modules["listed"]] == models


def test_a_first_call_imports_its_own_implementation_only(tmp_path: Path) -> None:
    got = probe(
        tmp_path,
        [
            ("guardrail_check", {"command": "git push --force"}),
            ("session_start", {"goal": "force push the release branch after reset --hard"}),
        ],
    )
    modules: dict[str, list[str]] = got["modules"]  # type: ignore[assignment]
    after_check = set(modules["guardrail_check"])
    assert "factorops.tools.guardrails.check" in after_check
    # opening the store (every component) does not import the context pipeline, the session tools'
    # replies or the secret detector
    for name in ("factorops.tools.context.load", "factorops.tools.watch.live", "detect_secrets", "tiktoken"):
        assert name not in after_check, name
    after_start = set(modules["session_start"])
    assert "factorops.tools.watch.live" in after_start
    # the injected patterns are sized by the estimate, a goal without a secret trigger is redacted
    # without detect-secrets, and the ledger commit reads the loose trees it needs without GitPython
    for lib in ("detect_secrets", "tiktoken", "git"):
        assert lib not in after_start, lib
    # nor the context pipeline (ranking, outlines, the repo map): only `context_load` needs it
    for name in (
        "factorops.tools.context.load",
        "factorops.tools.context.rank",
        "factorops.tools.context.outline",
    ):
        assert name not in after_start, name


def test_opening_the_store_imports_no_shell_parser(tmp_path: Path) -> None:
    """The guardrail matcher and the shell parser (tree-sitter-bash) come with the first
    guardrail_check; a first patterns_search or session_start opens the store (every component)
    without them: the starter rules are installed by `factorops init`, in its own process."""
    got = probe(
        tmp_path,
        [
            ("patterns_search", {"query": "force push"}),
            ("session_start", {"goal": "tidy the release notes"}),
            ("guardrail_check", {"command": "git push --force"}),
        ],
    )
    modules: dict[str, list[str]] = got["modules"]  # type: ignore[assignment]
    for when in ("patterns_search", "session_start"):
        loaded = set(modules[when])
        for name in (
            "tree_sitter_bash",
            "factorops.tools.guardrails.shell",
            "factorops.tools.guardrails.starters",
        ):
            assert name not in loaded, (when, name)
    assert "tree_sitter_bash" in set(modules["guardrail_check"])
