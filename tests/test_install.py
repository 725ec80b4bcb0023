"""The README's two commands, taken from the README itself and run as printed.

`make run` must install and serve on a system Python that refuses `pip install` (PEP 668:
Debian's and Ubuntu's `python3` carry an EXTERNALLY-MANAGED file in their stdlib folder) as well as
on a plain one; `make test` is what CI runs. The install tests build the venv for real, from a copy
of this repository in a temporary folder, so they take a minute each (marked slow).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from factorops import __version__

from .conftest import INIT

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "/ABSOLUTE/PATH/TO/factorops/.venv/bin/factorops"


def readme_commands() -> list[str]:
    """The fenced `sh` blocks of the README's "Two commands" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    return [b.strip() for b in blocks]


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands), "each is one command line"
    run_cmd, test_cmd = commands
    assert shlex.split(run_cmd)[:2] == ["make", "run"]
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci[-1] == test_cmd, f".ci/run ends with {ci[-1]!r}, the README says {test_cmd!r}"


@pytest.mark.parametrize("name", ["claude_desktop_config.json", "claude_code.mcp.json", "cursor_mcp.json"])
def test_client_examples_run_the_venv_script(name: str) -> None:
    """Clients start servers without the user's PATH: the examples name `.venv/bin/factorops` by
    absolute path, with a placeholder the README tells how to fill (`make where`)."""
    config = json.loads((ROOT / "examples" / name).read_text())
    server = config["mcpServers"]["factorops"]
    assert server["command"] == PLACEHOLDER and server["args"][0] == "serve"
    readme = (ROOT / "README.md").read_text()
    assert PLACEHOLDER in readme and "make where" in readme


def fake_managed_python(where: Path) -> Path:
    """A Python that pip treats as externally managed, like Debian's: its `sysconfig` stdlib folder
    (where pip looks for the PEP 668 marker) holds an EXTERNALLY-MANAGED file.

    It is this interpreter's base installation seen through PYTHONHOME: a prefix whose stdlib
    folder links every entry of the real one, plus the marker. A venv cannot stand in for it: pip
    never applies PEP 668 inside a venv."""
    real_stdlib = Path(sysconfig.get_paths(vars={"installed_base": sys.base_prefix})["stdlib"])
    rel = real_stdlib.relative_to(sys.base_prefix)
    prefix = where / "managed-python"
    stdlib = prefix / rel
    stdlib.mkdir(parents=True)
    for entry in real_stdlib.iterdir():
        if entry.name != "EXTERNALLY-MANAGED":
            (stdlib / entry.name).symlink_to(entry)
    (stdlib / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=This Python is managed by the system: use a venv.\n"
    )
    base = getattr(sys, "_base_executable", sys.executable)
    bin_dir = prefix / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "python3"
    exe.write_text(f'#!/bin/sh\nPYTHONHOME={shlex.quote(str(prefix))} exec {shlex.quote(base)} "$@"\n')
    exe.chmod(0o755)
    return exe


def marker_of(python: Path | str) -> bool:
    """Whether pip would call this interpreter externally managed (pip's own test)."""
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import os, sys, sysconfig; "
            "print(sys.prefix == sys.base_prefix and "
            "os.path.isfile(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode == 0 and out.stdout.strip() == "True"


def copy_of_this_repo(dest: Path) -> Path:
    """What `make run` needs from a clone, copied: the test never touches this checkout's .venv."""
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".agentops")
    for name in ("Makefile", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("factorops", "server", "tools", "resources", "store"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


def clean_env(python: Path, tmp_path: Path) -> dict[str, str]:
    """The user's shell: `python3` is the managed Python, nothing inherited from an outer make
    (MAKEFLAGS would carry its variables into ours) or an outer venv."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python3").symlink_to(python)
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
            "MAKEOVERRIDES",
            "VIRTUAL_ENV",
            "PYTHONHOME",
            "PYTHONPATH",
        }
    }
    outer_venv = str(Path(sys.prefix) / "bin")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != outer_venv]
    env["PATH"] = os.pathsep.join([str(shim), *path])
    env["PYTHON"] = str(python)
    return env


def system_python() -> str:
    """Debian's or Ubuntu's own `python3`, when this machine has one that is externally managed."""
    return "/usr/bin/python3"


@pytest.mark.slow
@pytest.mark.parametrize("which", ["fake-managed", "system"])
def test_readme_run_command_installs_and_serves_on_a_managed_python(which: str, tmp_path: Path) -> None:
    if which == "fake-managed":
        python = fake_managed_python(tmp_path)
    else:
        python = Path(system_python())
        if not python.exists() or not marker_of(python):
            pytest.skip("no externally managed system python3 here")
    assert marker_of(python), "the stand-in must be externally managed"
    repo = copy_of_this_repo(tmp_path / "factorops clone" if which == "system" else tmp_path / "clone")
    env = clean_env(python, tmp_path)
    refused = subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "--no-deps", "."],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if "No module named pip" not in refused.stderr:  # a Python without pip refuses anyway
        assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr, refused

    run_cmd = readme_commands()[0]
    out = subprocess.run(
        ["sh", "-c", run_cmd],
        cwd=repo,
        env=env,
        input=json.dumps(INIT) + "\n",  # a client's first message; then stdin ends and serve stops
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [a["result"]["serverInfo"]["name"] for a in answers if a.get("id") == INIT["id"]] == [
        "factorops"
    ], out.stdout
    script = repo / ".venv" / "bin" / "factorops"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"factorops {__version__}", version

    # What the README says to put in client configs: the absolute path of that script.
    where = subprocess.run(
        ["make", "-s", "where"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip() == str(script) and Path(where.stdout.strip()).is_absolute()
