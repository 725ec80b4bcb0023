"""Issue 13 items 2 and 5 through the real interfaces: hostile rules cannot hang a real server, and
header-bomb archives are refused by the real CLI in bounded memory.

Timeouts here are generous fences so a regression fails instead of hanging the suite; nothing
asserts how fast an answer came (bench/bench_rule_regex.py measures that).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from . import hostile_archives as h
from .conftest import git
from .stdio_server import server_params

HOSTILE_REGEXES = [r"(\w|\w)*$", r"(a|a)*$", r"((a)*)*$"]
HOSTILE_COMMAND = "a" * 9_999 + "!"  # 10,000 characters: exponential for a backtracking engine


def _cli(*args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # a fence for the machine: a regression must not take all its memory
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "factorops", *args],
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=limit,
    )


def _fresh(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q")
    r = _cli("init", "--project", str(root), "--no-starter")
    assert r.returncode == 0, r.stderr
    return root


async def test_a_bundled_hostile_rule_cannot_hang_guardrail_check(tmp_path: Path) -> None:
    # Project a records the hostile guardrails (RE2 accepts them: they cannot hang it) and a
    # person promotes them; its bundle is imported into project b, keeping them active.
    a = _fresh(tmp_path / "a")
    async with Client(server_params(a)) as c:
        ids = []
        for i, regex in enumerate(HOSTILE_REGEXES):
            r = await c.call_tool(
                "pattern_record", {"title": f"hostile rule {i}", "kind": "guardrail", "match": regex}
            )
            assert not r.is_error, r.content
            ids.append(r.structured_content["id"])  # type: ignore[index]
    for pid in ids:
        promoted = _cli("patterns", "promote", pid, "--project", str(a))
        assert promoted.returncode == 0, promoted.stderr
    bundle = tmp_path / "hostile.tar.gz"
    exp = _cli("bundle", "export", str(bundle), "--project", str(a))
    assert exp.returncode == 0, exp.stderr
    b = _fresh(tmp_path / "b")
    imp = _cli("bundle", "import", str(bundle), "--keep-status", "--project", str(b))
    assert imp.returncode == 0, imp.stderr
    listed = _cli("patterns", "list", "--project", str(b), "--kind", "guardrail", "--status", "active")
    assert listed.returncode == 0, listed.stderr
    assert all(pid in listed.stdout for pid in ids), listed.stdout

    # A real server on b answers guardrail_check on a 10,000-character hostile command, and the same
    # connection still answers another request afterwards (not ping: the protocol of 2026-07-28
    # dropped it, and the SDK warns).
    async with Client(server_params(b)) as c:
        with anyio.fail_after(120):  # a fence: a backtracking engine never returns here
            r = await c.call_tool("guardrail_check", {"action": "run it", "command": HOSTILE_COMMAND})
            assert not r.is_error, r.content
            assert r.structured_content is not None
            assert r.structured_content["decision"] in ("warn", "block")
            listed = await c.list_tools()
            assert "guardrail_check" in {t.name for t in listed.tools}
    # A fresh server on the same project is not stuck either.
    async with Client(server_params(b)) as c:
        with anyio.fail_after(120):
            r = await c.call_tool("guardrail_check", {"action": "x", "command": "a" * 10_000})
            assert not r.is_error, r.content


@pytest.mark.parametrize(
    "case",
    ["long-name 'L' claims 1 GiB (zeros)", "PAX 'x' claims 1 GiB (zeros)", "member claims 1 GiB (lie)"],
)
def test_bundle_verify_refuses_a_header_bomb_in_bounded_memory(tmp_path: Path, case: str) -> None:
    build, needle = h.HOSTILE[case]
    path = h.write(tmp_path / "bomb.tar.gz", build())
    # 2 GiB of address space: tarfile needed 5.3 GB for the long-name archive.
    r = _cli("bundle", "verify", str(path), "--project", str(tmp_path), limit_bytes=2 << 30)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    out = r.stderr + r.stdout
    assert "bundle" in out and needle in out, out


def test_starter_install_restores_pre_re2_starter_regexes(tmp_path: Path) -> None:
    """A project initialised before the switch keeps lookaround starter regexes (RE2 cannot run
    them); `factorops starter install` puts the shipped RE2 text back."""
    import json
    import os

    from factorops.store.ledger_layout import pattern_path

    from .conftest import GIT_ENV
    from .starter_cases import ORIGINAL

    root = tmp_path / "old"
    root.mkdir()
    git(root, "init", "-q")
    assert _cli("init", "--project", str(root)).returncode == 0
    ledger = root / ".agentops" / "ledger"
    slug = "git-clean-force"
    p = ledger / pattern_path(f"starter-{slug}")
    lines = p.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("rule: "):
            rule = json.loads(line[len("rule: ") :])
            rule["command_regex"] = ORIGINAL[slug]
            lines[i] = "rule: " + json.dumps(rule) + "\n"
    p.write_text("".join(lines))
    subprocess.run(
        ["git", "commit", "-qam", "a starter rule as written before RE2"],
        cwd=ledger,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    assert _cli("rebuild", "--project", str(root)).returncode == 0
    shown = _cli("patterns", "show", f"starter-{slug}", "--project", str(root))
    assert "(?!" in shown.stdout, shown.stdout  # the old lookaround text is what the project holds
    r = _cli("starter", "install", "--project", str(root))
    assert r.returncode == 0, r.stderr
    assert f"restored starter-{slug}" in r.stdout, r.stdout
    shown = _cli("patterns", "show", f"starter-{slug}", "--project", str(root))
    assert "(?!" not in shown.stdout and "(?=" not in shown.stdout, shown.stdout
