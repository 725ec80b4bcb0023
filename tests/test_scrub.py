"""Secrets that reach the ledger by a way other than recording (issue #13): bundles from elsewhere,
records written before redaction existed, rules from before RE2. Through the real CLI.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from factorops.store.ledger_layout import pattern_path
from factorops.tools.patterns import markdown as pattern_markdown
from factorops.tools.patterns.model import Evidence, Pattern

from .conftest import git

NOW = datetime(2026, 11, 25, tzinfo=UTC)
# test values shaped like real credentials (not real ones)
AWS_KEY = "AKIAZ3MXQ7JX2LPV4N5W"
GITHUB_TOKEN = "ghp_1234567890abcdefghijABCDEFGHIJ123456"
STRIPE_KEY = "sk_live_51H8abcdefghijklmnopqrstu"
SECRETS = (AWS_KEY, GITHUB_TOKEN, STRIPE_KEY)


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factorops", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def fresh(root: Path, *init_args: str) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    r = cli(root, "init", *init_args)
    assert r.returncode == 0, r.stderr
    return root


def ledger_text(project: Path) -> str:
    ledger = project / ".agentops" / "ledger"
    out = []
    for name in git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines():
        out.append(git(ledger, "show", f"HEAD:{name}"))
    return "\n".join(out)


def leaky_pattern(pid: str = "pat-20261125-000000-5ec2e7aa") -> Pattern:
    return Pattern(
        id=pid,
        title=f"Deploy with key {AWS_KEY}",
        kind="pattern",
        status="active",
        problem=f"the deploy script needs GITHUB_TOKEN={GITHUB_TOKEN} in the environment",
        solution=f"export STRIPE_KEY={STRIPE_KEY} before running it",
        tags=["deploy"],
        evidence=Evidence(excerpt=f"export AWS_ACCESS_KEY_ID={AWS_KEY}"),
        created=NOW,
        updated=NOW,
    )


def write_bundle(path: Path, patterns: list[Pattern]) -> Path:
    members = [(f"patterns/{p.id}.md", pattern_markdown.render(p).encode()) for p in patterns]
    manifest = {
        "format": "factorops-bundle",
        "version": 1,
        "members": [{"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members],
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in [("manifest.json", json.dumps(manifest).encode()), *members]:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_bundle_import_redacts_incoming_text(tmp_path: Path) -> None:
    project = fresh(tmp_path / "p", "--no-starter")
    bundle = write_bundle(tmp_path / "leaky.tar.gz", [leaky_pattern()])
    r = cli(project, "bundle", "import", str(bundle))
    assert r.returncode == 0, r.stderr
    for secret in SECRETS:
        assert secret not in r.stdout
    text = ledger_text(project)
    assert "[REDACTED:aws-access-key]" in text and "[REDACTED:github-token]" in text
    assert "[REDACTED:stripe-key]" in text
    shown = cli(project, "patterns", "show", "pat-20261125-000000-5ec2e7aa")
    assert shown.returncode == 0, shown.stderr
    found = cli(project, "patterns", "list")
    assert "pat-20261125-000000-5ec2e7aa" in found.stdout, found.stdout
    for secret in SECRETS:
        assert secret not in text
        assert secret not in shown.stdout and secret not in found.stdout


def hand_commit(project: Path, files: dict[str, str], message: str) -> None:
    """Write ledger files and commit them the way an older factorops (or a person) would."""
    ledger = project / ".agentops" / "ledger"
    for rel, text in files.items():
        (ledger / rel).parent.mkdir(parents=True, exist_ok=True)
        (ledger / rel).write_text(text)
    git(ledger, "add", "--", *files)
    git(ledger, "commit", "-q", "-m", message)


# ---- item 4: rules RE2 refuses are reported by doctor, with the way out -----------------------


def test_doctor_warns_about_active_rules_re2_refuses(tmp_path: Path) -> None:
    project = fresh(tmp_path / "p")  # with the starter rules
    ledger = project / ".agentops" / "ledger"
    rel = pattern_path("starter-wipe-disk-described")
    old = pattern_markdown.parse((ledger / rel).read_text(), rel)
    assert old.rule is not None and old.status == "active"
    old.rule.action_regex = r"(?<!don't )wipe\s+the\s+disk"  # a pre-RE2 starter regex
    hand_commit(project, {rel: pattern_markdown.render(old)}, "a rule as factorops 0.0 wrote it")
    assert cli(project, "rebuild").returncode == 0
    doc = cli(project, "doctor")
    assert doc.returncode == 0, doc.stdout + doc.stderr  # a warning, not a failure
    line = next(x for x in doc.stdout.splitlines() if "checks nothing" in x)
    assert line.startswith("warn") and old.title in line
    assert "negative lookbehind (?<!...) is not supported" in line
    assert "factorops starter install --project" in doc.stdout
    assert cli(project, "starter", "install").returncode == 0
    assert "checks nothing" not in cli(project, "doctor").stdout


# ---- item 5: records written before redaction are counted and rewritten --------------------


async def test_doctor_finds_and_fix_redacts_old_records_with_secrets(tmp_path: Path) -> None:
    from mcp import Client

    from factorops.store.datadir import DataDir
    from factorops.store.store import Store
    from factorops.tools.registry import components
    from factorops.tools.sessions import lifecycle

    from .stdio_server import server_params

    project = fresh(tmp_path / "p", "--no-starter")
    with Store.open(DataDir.for_project(project), components()) as store:
        sid = lifecycle.start(store, lifecycle.SessionStartInput(goal="ship the deploy"), NOW).session_id
        lifecycle.checkpoint(store, lifecycle.CheckpointInput(session_id=sid, summary="half done"), NOW)
    ledger = project / ".agentops" / "ledger"
    names = git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    session_file = next(n for n in names if n.endswith("/session.json"))
    checkpoint_file = next(n for n in names if "/checkpoints/" in n)
    session = json.loads((ledger / session_file).read_text())
    session["goal"] = f"ship the deploy with {AWS_KEY}"
    cp = json.loads((ledger / checkpoint_file).read_text())
    cp["summary"] = f"half done; token {GITHUB_TOKEN}"
    pat = leaky_pattern()
    old_records = {
        session_file: json.dumps(session, indent=2, sort_keys=True) + "\n",
        checkpoint_file: json.dumps(cp, indent=2, sort_keys=True) + "\n",
        pattern_path(pat.id): pattern_markdown.render(pat),
    }
    hand_commit(project, old_records, "records as a factorops without redaction wrote them")
    assert cli(project, "rebuild").returncode == 0

    doc = cli(project, "doctor")
    assert doc.returncode == 0, doc.stdout + doc.stderr
    line = next(x for x in doc.stdout.splitlines() if "ledger records hold" in x)
    assert line.startswith("warn 3 ledger records hold 6 secrets"), line
    assert all(path in line for path in old_records)
    for secret in SECRETS:
        assert secret not in doc.stdout  # the report names records, never the values
    head = git(ledger, "rev-parse", "HEAD").strip()

    fixed = cli(project, "doctor", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed: redacted 6 secrets in 3 ledger records" in fixed.stdout
    assert "ok   no secrets in ledger records" in fixed.stdout, fixed.stdout
    assert git(ledger, "rev-list", "--count", f"{head}..HEAD").strip() == "1"  # one commit
    text = ledger_text(project)
    for secret in SECRETS:
        assert secret not in text

    async with Client(server_params(project)) as c:
        found = await c.call_tool("patterns_search", {"query": "deploy"})
        assert not found.is_error, found.content
        listing = json.dumps(found.structured_content)
        assert pat.id in listing
        shown = [
            await c.read_resource(f"agentops://patterns/{pat.id}"),
            await c.read_resource(f"agentops://sessions/{sid}"),
            await c.read_resource("agentops://sessions"),
        ]
        resumed = await c.call_tool("session_resume", {"session_id": sid})
        assert not resumed.is_error, resumed.content
        everything = (
            listing
            + json.dumps(resumed.structured_content)
            + "".join(str(part) for r in shown for part in r.contents)
        )
        assert "[REDACTED:" in everything
        parts = {"search": listing, "resume": json.dumps(resumed.structured_content)}
        parts.update({f"resource {i}": "".join(str(p) for p in r.contents) for i, r in enumerate(shown)})
        for secret in SECRETS:
            assert not [k for k, v in parts.items() if secret in v], (secret, parts)
