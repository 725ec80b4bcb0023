"""What a real `factorops serve` process imports up to its first answer (issue #19).

The server is spawned as a client spawns it, with `python -X importtime`, and spoken to over stdio
in raw JSON-RPC; the module names come from its import log on stderr. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "test", "version": "0"},
}


def first_answer_imports(project: Path, *argv: str) -> tuple[dict[str, object], set[str]]:
    """Spawn `factorops serve`, initialize, call guardrail_check once, close: its answer and the
    modules the process imported."""
    subprocess.run(
        [sys.executable, "-m", "factorops", "init", "--project", str(project)],
        check=True,
        capture_output=True,
    )
    log = project.parent / "importtime.log"  # a file, not a pipe: the import log outgrows one
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "factorops", *argv, "--project", str(project)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert proc.stdin and proc.stdout
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "guardrail_check", "arguments": {"command": "git push --force"}},
        },
    ]
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    answer: dict[str, object] = {}
    while not answer:
        line = proc.stdout.readline()
        assert line, "the server closed stdout"
        reply = json.loads(line)
        if reply.get("id") == 2:
            answer = reply
    proc.stdin.close()
    assert proc.wait(timeout=120) == 0, log.read_text()[-2000:]
    proc.stdout.close()
    modules = {
        line.split("|")[2].strip()
        for line in log.read_text().splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    }
    return answer, modules


def test_serve_imports_no_other_command_and_no_rich(project: Path) -> None:
    answer, modules = first_answer_imports(project, "serve")
    result = answer["result"]
    assert isinstance(result, dict) and not result.get("isError"), answer
    assert "factorops.tools.guardrails.check" in modules  # the import log is read right
    # `serve` builds its own parser only: no other command's module
    for name in ("approvals", "dashboard", "flywheel", "hooks", "patterns"):
        assert f"factorops.server.cli.{name}" not in modules, name
    # the SDK's rich log handler is not built: under `serve` our handlers are in place and its
    # `logging.basicConfig` would not have used it
    assert "rich" not in modules and "rich.console" not in modules
    # nor any capability the call does not use (tools/registry.py's lazy components)
    for name in ("metrics.report", "flywheel.mining", "sessions.lifecycle", "patterns.records"):
        assert f"factorops.tools.{name}" not in modules, name
    # nor another tool's input model: each is imported when its tool is first listed or called
    assert "factorops.tools.guardrails.models" in modules
    for name in ("sessions", "context", "patterns", "oversight", "metrics"):
        assert f"factorops.tools.{name}.models" not in modules, name
