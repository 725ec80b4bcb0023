"""Validation gates as real subprocesses: pass, fail, hang, flood, crash; config errors."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.tools.oversight import validation

PY = sys.executable


def _config(project: Path, body: str) -> None:
    d = project / ".agentops"
    d.mkdir(exist_ok=True)
    (d / "config.toml").write_text(body)


def _gate(name: str, code: str, timeout: float = 20) -> str:
    return f'[[gates]]\nname = "{name}"\ncommand = ["{PY}", "-c", {code!r}]\ntimeout_s = {timeout}\n'


async def run(client: Client, **args: Any) -> Any:
    return await client.call_tool("validation_run", args)


async def test_pass_and_fail_are_recorded(client: Client, project: Path) -> None:
    _config(
        project,
        _gate("ok", "print('all good')") + _gate("bad", "import sys; print('FAILED test_x'); sys.exit(3)"),
    )
    s = (await client.call_tool("session_start", {"goal": "validate"})).structured_content
    r = await run(client, session_id=s["session_id"])  # type: ignore[index]
    sc = r.structured_content
    assert sc["passed"] is False
    by = {g["gate"]: g for g in sc["results"]}
    assert by["ok"]["passed"] and "all good" in by["ok"]["output"]
    assert not by["bad"]["passed"] and by["bad"]["exit_code"] == 3 and "FAILED test_x" in by["bad"]["output"]
    one = (await run(client, gate="ok")).structured_content
    assert one["passed"] and [g["gate"] for g in one["results"]] == ["ok"]
    store_rows = project / ".agentops" / "ledger" / "validations"
    assert len(list(store_rows.glob("*/*.json"))) == 2


async def test_timeout_kills_the_whole_process_group(client: Client, project: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    _config(project, _gate("hang", code, timeout=1.5))
    sc = (await run(client, gate="hang")).structured_content
    g = sc["results"][0]
    assert g["timed_out"] and not g["passed"] and "timed out" in g["output"]
    child = int(pidfile.read_text())
    time.sleep(0.3)
    alive = os.path.exists(f"/proc/{child}") and "Z" not in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert not alive, "the gate's child survived its time-out"


async def test_huge_output_is_bounded_and_keeps_failures(client: Client, project: Path) -> None:
    code = "import sys\nfor i in range(400000): print('noise line', i)\nprint('FAILED tests/test_core.py::test_important')\nsys.exit(1)"
    _config(project, _gate("flood", code, timeout=60))
    sc = (await run(client, gate="flood")).structured_content
    out = sc["results"][0]["output"]
    assert "FAILED tests/test_core.py::test_important" in out
    from factorops.tools.kernel.tokens import count_tokens

    assert count_tokens(out) <= validation.OUTPUT_BUDGET + 50


async def test_missing_command_and_crash(client: Client, project: Path) -> None:
    _config(
        project,
        '[[gates]]\nname = "ghost"\ncommand = ["definitely-not-a-command-xyz"]\n'
        + _gate("crash", "import os; os.abort()"),
    )
    sc = (await run(client)).structured_content
    by = {g["gate"]: g for g in sc["results"]}
    assert not by["ghost"]["passed"] and "could not start" in by["ghost"]["output"]
    assert not by["crash"]["passed"] and by["crash"]["exit_code"] != 0


@pytest.mark.parametrize(
    ("body", "args", "needle"),
    [
        (None, {}, "no validation gates configured"),
        ('[[gates]]\nname = "a"\ncommand = ["true"]\n', {"gate": "nope"}, "configured gates: a"),
        ("this is = = not toml", {}, "not valid TOML"),
        ('[[gates]]\nname = "a"\ncommand = []\n', {}, "gates.0.command"),
        ('[[gates]]\nname = "a"\ncommand = ["true"]\ncwd = "../.."\n', {}, "cwd must be a path inside"),
        ('[[gates]]\nname = "a"\ncommand = ["true"]\ntimout_s = 5\n', {}, "gates.0.timout_s"),
    ],
)
async def test_config_errors(
    client: Client, project: Path, body: str | None, args: dict[str, Any], needle: str
) -> None:
    if body is not None:
        _config(project, body)
    r = await run(client, **args)
    assert r.is_error and needle in r.content[0].text  # type: ignore[union-attr]


def test_trim_output_keeps_failures() -> None:
    text = (
        "\n".join(f"ok {i}" for i in range(5000))
        + "\nTraceback (most recent call last):\nValueError: boom\n"
        + "\n".join(f"tail {i}" for i in range(50))
    )
    out = validation.trim_output(text, 300)
    assert "ValueError: boom" in out and "tail 49" in out and "ok 10 " not in out
