"""The `[watch]` section is part of the kernel's typed configuration: the tools accept it as a known
section (no "unknown key" warning), bad values fall back to the methodology's defaults with a
warning naming the key, and the hooks read the same section without loading pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp import Client

from factorops.tools.kernel import config
from factorops.tools.watch import settings

_GATE = f'[[gates]]\nname = "ok"\ncommand = ["{sys.executable}", "-c", "print(1)"]\n'
_WATCH = "[watch]\nspiral_repeats = 4\nbreaker_cooldown_s = 60\n"


def _config(project: Path, body: str) -> Path:
    d = project / ".agentops"
    d.mkdir(exist_ok=True)
    (d / "config.toml").write_text(body)
    return d / "config.toml"


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(tool, args)
    assert not r.is_error, r.content
    return r.structured_content or {}


async def test_a_watch_table_is_a_known_section(client: Client, project: Path) -> None:
    _config(project, _GATE + _WATCH)
    ran = await _ok(client, "validation_run", {})
    assert ran["passed"] and not ran.get("warnings"), ran
    routed = await _ok(client, "route_task", {"task": "add a button"})
    assert not routed.get("warnings"), routed


def test_the_typed_section_has_the_methodologys_defaults_and_names_bad_values(tmp_path: Path) -> None:
    d = config.WatchSettings()
    assert (d.good_at, d.warning_at, d.critical_at, d.soft_warning_at) == (20, 40, 60, 35)
    assert (d.spiral_repeats, d.spiral_similar, d.spiral_window_s) == (3, 5, 600)
    assert (d.breaker_failures, d.breaker_cooldown_s) == (5, 300)
    path = _config(tmp_path, _GATE + _WATCH + "good_at = 'x'\ntypo = 1\n")
    loaded = config.load(path)
    assert loaded.watch == settings.load(path)  # the tools and the hooks read the same values
    assert loaded.watch.spiral_repeats == 4 and loaded.watch.breaker_cooldown_s == 60.0
    assert loaded.watch.good_at == 20.0  # a bad value: its default
    notes = " | ".join(loaded.notes["watch"])
    assert "watch.good_at must be a number from 1 to 99" in notes and "watch.typo is not a setting" in notes
    assert loaded.gates and not loaded.problems  # the other sections are untouched


def test_the_hooks_read_the_watch_section_without_pydantic(tmp_path: Path) -> None:
    path = _config(tmp_path, _WATCH)
    code = (
        "import sys\nfrom factorops.tools.watch import settings\n"
        f"s = settings.load(__import__('pathlib').Path({str(path)!r}))\n"
        "print(s.spiral_repeats, 'pydantic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["4", "False"]
