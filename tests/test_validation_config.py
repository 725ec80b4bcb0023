"""Where settings come from (config.toml wins, pyproject's [tool.factorops] is the fallback) and
how a tampered or invalid file is reported: always naming the file and the key."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.store.datadir import DataDir
from factorops.tools.kernel import config
from factorops.tools.kernel.errors import DomainError

PY = sys.executable


def _write(project: Path, rel: str, body: str) -> None:
    p = project / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(body)


async def test_pyproject_table_is_used_when_there_is_no_config_toml(client: Client, project: Path) -> None:
    _write(
        project,
        "pyproject.toml",
        '[project]\nname = "demo"\n\n[[tool.factorops.gates]]\nname = "py-ok"\n'
        f'command = ["{PY}", "-c", "print(\'from pyproject\')"]\n',
    )
    r = await client.call_tool("validation_run", {})
    assert not r.is_error, r.content
    sc = r.structured_content
    assert sc is not None and sc["passed"] and "from pyproject" in sc["results"][0]["output"]


async def test_config_toml_wins_over_pyproject(client: Client, project: Path) -> None:
    _write(project, "pyproject.toml", '[[tool.factorops.gates]]\nname = "py-gate"\ncommand = ["true"]\n')
    _write(project, ".agentops/config.toml", '[[gates]]\nname = "toml-gate"\ncommand = ["true"]\n')
    r = await client.call_tool("validation_run", {"gate": "py-gate"})
    text = r.content[0].text  # type: ignore[union-attr]
    assert r.is_error and "configured gates: toml-gate" in text and "config.toml" in text
    ok = await client.call_tool("validation_run", {"gate": "toml-gate"})
    assert not ok.is_error and ok.structured_content["passed"]  # type: ignore[index]


async def test_pyproject_without_the_table_means_no_config(client: Client, project: Path) -> None:
    _write(project, "pyproject.toml", '[project]\nname = "demo"\n')
    r = await client.call_tool("validation_run", {})
    text = r.content[0].text  # type: ignore[union-attr]
    assert r.is_error and "no validation gates configured" in text
    assert "config.toml" in text and "[[tool.factorops.gates]]" in text


@pytest.mark.parametrize(
    ("rel", "body", "needle"),
    [
        (
            ".agentops/config.toml",
            '[[gates]]\nname = "t"\ncommand = ["true"]\ntimout_s = 5\n',
            "gates.0.timout_s",
        ),
        (".agentops/config.toml", "gatez = []\n", "gatez"),
        (
            ".agentops/config.toml",
            '[[gates]]\nname = "t"\ncommand = "pytest -q"\n',
            "gates.0.command: must be a list",
        ),
        (
            ".agentops/config.toml",
            '[[gates]]\nname = "t"\ncommand = ["a"]\n[[gates]]\nname = "t"\ncommand = ["b"]\n',
            "'t' appears twice",
        ),
        (".agentops/config.toml", '[[gates]]\nname = "has space"\ncommand = ["true"]\n', "gates.0.name"),
        (".agentops/config.toml", b"\xff\xfe not utf-8", "not valid TOML"),
        (
            "pyproject.toml",
            '[tool.factorops]\n[[tool.factorops.gates]]\nname = "t"\ncommand = []\n',
            "tool.factorops.gates.0.command",
        ),
        ("pyproject.toml", "[tool]\nfactorops = 3\n", "tool.factorops must be a table"),
        ("pyproject.toml", "not toml ===", "pyproject.toml is not valid TOML"),
    ],
)
async def test_invalid_config_names_the_file_and_key(
    client: Client, project: Path, rel: str, body: str | bytes, needle: str
) -> None:
    p = project / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(body if isinstance(body, bytes) else body.encode())
    r = await client.call_tool("validation_run", {})
    text = r.content[0].text  # type: ignore[union-attr]
    assert r.is_error and needle in text and rel.split("/")[-1] in text, text


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ('match = ["(unclosed"]', "routing.rules.0.match: '(unclosed' is not a valid regex"),
        ("match = []", "routing.rules.0.match"),
        ('match = ["x"]\nworkflow = "yolo"', "routing.rules.0.workflow"),
        ('match = ["x"]\nmodel = "big"', "routing.rules.0.model"),
    ],
)
async def test_bad_routing_rules_are_config_errors(
    client: Client, project: Path, rule: str, needle: str
) -> None:
    _write(project, ".agentops/config.toml", f"[[routing.rules]]\n{rule}\n")
    r = await client.call_tool("route_task", {"task": "change the schema"})
    text = r.content[0].text  # type: ignore[union-attr]
    assert r.is_error and needle in text, text


async def test_approval_expiry_defaults_to_the_configured_value(client: Client, project: Path) -> None:
    _write(project, ".agentops/config.toml", "approval_timeout_s = 120\n")
    r = await client.call_tool(
        "approval_request", {"action": "deploy", "rationale": "release", "risk": "low"}
    )
    sc: dict[str, Any] = r.structured_content  # type: ignore[assignment]
    asked = await client.call_tool("approval_status", {"id": sc["id"]})
    assert not asked.is_error
    from datetime import datetime

    from factorops.store.store import Store
    from factorops.tools.registry import components

    store = Store.open(DataDir.for_project(project), components())
    try:
        row = store.db.execute(
            "SELECT requested_at, expires_at FROM approvals WHERE id = ?", [sc["id"]]
        ).fetchone()
    finally:
        store.close()
    span = datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])
    assert span.total_seconds() == 120


def test_load_for_with_nothing_configured_is_empty(project: Path) -> None:
    cfg = config.load_for(DataDir.for_project(project))
    assert cfg.gates == [] and cfg.routing.rules == []
    with pytest.raises(DomainError) as exc:
        cfg.gate("tests")
    assert exc.value.field == "gate" and "configured gates: none" in exc.value.message


def test_the_shipped_example_config_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "config.toml"
    cfg = config.load(example)
    commands = {g.name: g.command for g in cfg.gates}
    assert commands["tests"][:3] == ["python", "-m", "pytest"] and commands["lint"][0] == "ruff"
    assert commands["types"][0] == "mypy" and cfg.routing.rules
    assert "npm" in example.read_text()  # the JavaScript gate, shown commented out
    assert not cfg.problems and not cfg.notes  # every section valid, no warning


def test_the_documented_keys_are_the_keys_there_are() -> None:
    """docs/operations.md lists every settings key; each must exist in the models, and vice versa."""
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
    table = doc.split("These are all the keys there are:", 1)[1].split("\n\n", 2)[1]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    documented = {k.rsplit(".", 1)[-1] for c in first_cells for k in re.findall(r"`\[*([a-z_.]+)\]*`", c)}
    known = (
        set(config.Config.model_fields)
        | set(config.Gate.model_fields)
        | set(config.Routing.model_fields)
        | set(config.RoutingRule.model_fields)
        | set(config.Approvals.model_fields)
        | set(config.SessionsSettings.model_fields)
        | set(config.ContextSettings.model_fields)
    )
    assert documented == known, (documented - known, known - documented)
