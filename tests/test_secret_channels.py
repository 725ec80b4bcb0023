"""Secrets never leave the server nor enter the ledger, channel by channel (issue #13 part 3).

Each table row is a secret shape; each test is a channel: a secret planted where a user or an
assistant would put it must be absent from everything that channel produces (tool results, search,
resources, every file and commit message of the ledger, an exported bundle). Secrets are assembled
from fragments so this file holds no literal credential.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from .conftest import commit_files, git

_B64 = "MIIEowIBAAKCAQEAx4k2Qz9vLp3mZ7wXk29fjQ8vLp3mZ7wXk29fjQ8"
# (name, text as it would be written, the part that must never appear)
SHAPES: list[tuple[str, str, str]] = [
    ("aws-key", "use key " + "AKIA" + "Q3VZ7XK2M9PLR4TB", "Q3VZ7XK2M9PLR4TB"),
    ("postgres-url", "connect to postgres://app:" + "s3cr3tPassw0rd" + "@db.internal/prod", "s3cr3tPassw0rd"),
    ("pem-block", "add -----BEGIN RSA " + "PRIVATE KEY----- " + _B64, _B64[10:40]),
    ("env-assignment", "set DB_PASSWORD=" + "Xk29fjQ8vLp3mZ7w", "Xk29fjQ8vLp3mZ7w"),
]
IDS = [s[0] for s in SHAPES]


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(tool, args)
    assert not r.is_error, r.content
    return r.structured_content or {}


async def _resource(client: Client, uri: str) -> str:
    return str((await client.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]


def _ledger_text(project: Path) -> str:
    """Every file of the ledger's working tree and every commit message: what sync shares."""
    ledger = project / ".agentops" / "ledger"
    files = [
        p.read_text(errors="replace") for p in ledger.rglob("*") if p.is_file() and ".git" not in p.parts
    ]
    return "\n".join(files) + git(ledger, "log", "--format=%B")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(("name", "text", "secret"), SHAPES, ids=IDS)
async def test_a_secret_in_a_commit_subject_reaches_no_mined_pattern(
    client: Client, project: Path, tmp_path: Path, name: str, text: str, secret: str
) -> None:
    commit_files(project, {"app.py": "x = 1\n"}, f'Revert "{text}"')
    mined = await _ok(client, "patterns_mine", {"sources": ["git"]})
    assert mined["candidates"], mined
    assert any("Reverted change" in c["title"] for c in mined["candidates"]), mined
    out = [str(mined)]
    pid = next(c["id"] for c in mined["candidates"] if "Reverted change" in c["title"])
    out.append(str(await _ok(client, "patterns_search", {"query": "reverted change"})))
    out.append(str(await _ok(client, "patterns_search", {"query": "key password postgres"})))
    out.append(await _resource(client, f"agentops://patterns/{pid}"))
    out.append(await _resource(client, "agentops://patterns"))
    out.append(_ledger_text(project))
    bundle = tmp_path / "b.tar.gz"
    r = _cli("bundle", "export", str(bundle), "--project", str(project), "--include-candidates")
    assert r.returncode == 0, r.stderr
    with tarfile.open(bundle) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            if f is not None:
                out.append(f.read().decode(errors="replace"))
    everything = "\n".join(out)
    assert "REDACTED" in everything
    assert secret not in everything, f"{name} leaked"


@pytest.mark.parametrize(("name", "text", "secret"), SHAPES, ids=IDS)
async def test_a_secret_in_session_fields_reaches_no_resume_resource_or_ledger(
    client: Client, project: Path, name: str, text: str, secret: str
) -> None:
    sid = (await _ok(client, "session_start", {"goal": f"deploy: {text}"}))["session_id"]
    await _ok(
        client,
        "checkpoint_save",
        {
            "session_id": sid,
            "summary": f"did it: {text}",
            "decisions": [text],
            "next_steps": [f"rotate {text}"],
            "open_questions": [text],
        },
    )
    out = [str(await _ok(client, "session_resume", {"session_id": sid}))]
    out.append(await _resource(client, f"agentops://sessions/{sid}"))
    out.append(await _resource(client, "agentops://sessions"))
    await _ok(
        client, "session_end", {"session_id": sid, "outcome": "partial", "learnings": [f"never {text}"]}
    )
    out.append(_ledger_text(project))
    everything = "\n".join(out)
    assert "REDACTED" in everything
    assert secret not in everything, f"{name} leaked"


@pytest.mark.parametrize(("name", "text", "secret"), SHAPES, ids=IDS)
async def test_a_secret_in_a_pattern_an_assistant_records_reaches_no_ledger(
    client: Client, project: Path, name: str, text: str, secret: str
) -> None:
    r = await _ok(
        client, "pattern_record", {"title": f"Deploy with {text}", "problem": text, "solution": text}
    )
    out = [str(r), await _resource(client, "agentops://patterns"), _ledger_text(project)]
    out.append(str(await _ok(client, "patterns_search", {"query": "deploy"})))
    everything = "\n".join(out)
    assert "REDACTED" in everything
    assert secret not in everything, f"{name} leaked"


@pytest.mark.parametrize(("name", "text", "secret"), SHAPES, ids=IDS)
async def test_a_secret_in_a_loaded_file_is_redacted(
    client: Client, project: Path, name: str, text: str, secret: str
) -> None:
    body = text.split(" ", 2)[-1] if name != "pem-block" else text.split("add ", 1)[1]
    commit_files(project, {"src/deploy.py": f"# deploy settings\nTIMEOUT = 3\n{body}\n"}, "add deploy")
    r = await _ok(client, "context_load", {"task": "deploy settings", "paths": ["src/deploy.py"]})
    assert "deploy settings" in str(r)
    assert secret not in str(r), f"{name} leaked"


KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://k8s.internal\n  name: prod\n"
    "users:\n- name: admin\n  user:\n    client-certificate-data: TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0\n"
    "    client-key-" + "data: " + "S2V5RGF0YVZhbHVlVGhhdE11c3ROZXZlckxlYWs" + "\ncontexts:\n- context:\n"
    "    cluster: prod\n    user: admin\n  name: prod\n"
)


@pytest.mark.parametrize(
    ("rel", "content", "marker"),
    [
        (
            "deploy/prod.env",
            "DEPLOY_TARGET=prod\nREGION=eu-west-1\nAPI_BASE=https://api.internal\n",
            "eu-west-1",
        ),
        ("deploy/cluster.yaml", KUBECONFIG, "k8s.internal"),
    ],
    ids=["env-file-by-name", "kubeconfig-by-content"],
)
async def test_a_secret_file_is_not_loaded(
    client: Client, project: Path, rel: str, content: str, marker: str
) -> None:
    commit_files(
        project, {rel: content, "src/deploy.py": "# deploy to prod cluster\nTARGET = 'prod'\n"}, "add"
    )
    ranked = await _ok(client, "context_load", {"task": "deploy prod cluster region"})
    assert "deploy.py" in str(ranked)  # the load ran and found the neighbour
    assert marker not in str(ranked), ranked
    assert rel in ranked.get("excluded", []) or rel not in str(ranked)


@pytest.mark.parametrize(("name", "text", "secret"), SHAPES, ids=IDS)
def test_a_secret_in_a_log_message_is_redacted(tmp_path: Path, name: str, text: str, secret: str) -> None:
    """The logging set-up `factorops serve` uses, in a child process: stderr and the log file."""
    code = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from factorops.server.cli.base import setup_logging\n"
        "setup_logging(False, Path(sys.argv[1]))\n"
        "logging.getLogger('factorops.tools.example').warning('tool failed on input %s', sys.argv[2])\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), text], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    written = r.stderr + (tmp_path / "factorops.log").read_text()
    assert "tool failed on input" in written and "REDACTED" in written, written
    assert secret not in written, f"{name} leaked"
