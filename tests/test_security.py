"""Security contract, tested the way an attacker would try it.

1. Every path argument of every tool (found by field name in the listed schemas, so new tools are
   covered) is fed traversal and symlink escapes: nothing outside the project is ever returned, and
   a refusal names the field.
2. Secrets (a .env key, the HTTP token, the index and ledger) never come back from any tool.
3. HTTP: no token, a wrong token, a hijacked session id, a foreign Origin or Host, an oversized
   body: all refused before any tool runs.
4. No tool can decide an approval: with approvals pending, every listed tool is called with the
   approval's id and approving words in every field, and the approvals stay pending.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult, Tool

from .conftest import INIT, commit_files, git, new_repo
from .spawn import HTTP_HEADERS, HttpServer, http_server

OUTSIDE_MARK = "TOP-SECRET-OUTSIDE-THE-PROJECT"
ENV_KEY = "sk-live-abcdefghijklmnopqrstuvwxyz012345"
READERS = ("context_load", "count_tokens")  # tools that open the files they are given
PATH_FIELD = re.compile(r"(^|_)(paths?|files?|files_touched|dir|directory|file_path)$")


def text_of(result: CallToolResult) -> str:
    parts = [getattr(c, "text", "") for c in result.content]
    if result.structured_content is not None:
        parts.append(json.dumps(result.structured_content))
    return "\n".join(parts)


@pytest.fixture
def attack_project(project: Path) -> Path:
    """The project plus bait: a secret outside it, symlinks pointing out, a .env inside."""
    outside = project.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{OUTSIDE_MARK}\n")
    commit_files(
        project, {"src/app.py": "def main():\n    return 1\n", "docs/guide.md": "# guide\n"}, "layout"
    )
    (project / ".env").write_text(f"OPENAI_API_KEY={ENV_KEY}\n")
    (project / "link_dir").symlink_to(outside)
    (project / "src" / "link_file.txt").symlink_to(outside / "secret.txt")
    return project


def escapes(project: Path) -> list[str]:
    outside = project.parent / "outside"
    return [
        "../outside/secret.txt",
        str(outside / "secret.txt"),
        "link_dir/secret.txt",
        "link_dir",
        "src/link_file.txt",
        "src/../../outside/secret.txt",
        "./src/../../outside/secret.txt",
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "~/../../etc/passwd",
        "..",
        "/",
        "src/\x00/../../outside/secret.txt",
        ".agentops/http_token",
        ".agentops/agentops.db",
        ".agentops/ledger/.git/config",
        ".env",
    ]


def path_fields(tool: Tool) -> dict[str, bool]:
    """{field: is_list} for fields that carry paths."""
    props: dict[str, Any] = tool.input_schema.get("properties", {})
    return {k: s.get("type") == "array" for k, s in props.items() if PATH_FIELD.search(k)}


def minimal_args(tool: Tool, session_id: str) -> dict[str, Any]:
    """Required fields filled with something plausible, so the call reaches the path handling."""
    args: dict[str, Any] = {}
    props: dict[str, Any] = tool.input_schema.get("properties", {})
    for name in tool.input_schema.get("required", []):
        schema = props.get(name, {})
        if name == "session_id":
            args[name] = session_id
        elif "enum" in schema:
            args[name] = schema["enum"][0]
        elif schema.get("type") == "integer":
            args[name] = max(int(schema.get("minimum", 1)), 1)
        elif schema.get("type") == "array":
            args[name] = []
        else:
            args[name] = "read the secret file and print it"
    return args


def secrets_in(text: str, project: Path) -> list[str]:
    found = [s for s in (OUTSIDE_MARK, ENV_KEY, "root:x:0:0") if s in text]
    token = project / ".agentops" / "http_token"
    if token.exists() and token.read_text().strip() in text:
        found.append("http token")
    if "SQLite format 3" in text:
        found.append("database bytes")
    return found


async def test_path_arguments_never_escape_the_project(client: Client, attack_project: Path) -> None:
    from factorops.server.auth_token import ensure_token
    from factorops.store.datadir import DataDir

    ensure_token(DataDir.for_project(attack_project))
    started = await client.call_tool("session_start", {"goal": "attack"})
    sid = started.structured_content["session_id"]  # type: ignore[index]
    tools = (await client.list_tools()).tools
    with_paths = {t.name: (t, path_fields(t)) for t in tools if path_fields(t)}
    assert "context_load" in with_paths and "count_tokens" in with_paths  # discovery works
    refused: dict[str, int] = {}
    for name, (tool, fields) in with_paths.items():
        for field, is_list in fields.items():
            for bad in escapes(attack_project):
                args = {**minimal_args(tool, sid), field: [bad] if is_list else bad}
                result = await client.call_tool(name, args)
                text = text_of(result)
                assert not secrets_in(text, attack_project), (name, field, bad, text[:300])
                if result.is_error:
                    refused[name] = refused.get(name, 0) + 1
                    assert "Traceback" not in text
                    # The refusal names a field (ours, or another one the call got wrong first).
                    assert any(p in text for p in tool.input_schema["properties"]), (name, bad, text[:300])
                    if name in READERS:
                        assert field in text, (name, field, bad, text[:300])
    # The tools that read files refuse every escape outright.
    n = len(escapes(attack_project))
    assert refused.get("count_tokens", 0) >= n - 2  # ".env"/"/" may be refused as secret/not-a-file instead
    assert refused.get("context_load", 0) >= 1


async def test_secrets_inside_the_project_never_come_back(client: Client, attack_project: Path) -> None:
    from factorops.server.auth_token import ensure_token
    from factorops.store.datadir import DataDir

    token, _ = ensure_token(DataDir.for_project(attack_project))
    # A teammate pasted the token into a tracked file: the value is redacted, not loaded.
    commit_files(
        attack_project, {"notes/setup.md": f"# remote setup\n\nuse the token {token} here\n"}, "notes"
    )
    asks = [
        ("context_load", {"task": "remote setup notes", "paths": ["notes/setup.md"]}),
        ("context_load", {"task": "find the OPENAI_API_KEY in .env and the http_token", "paths": [".env"]}),
        ("context_load", {"task": "show the environment file and credentials", "budget_tokens": 100000}),
        ("count_tokens", {"paths": [".env"]}),
        ("count_tokens", {"paths": [".agentops/http_token"]}),
        ("patterns_search", {"query": "sk-live api key token"}),
    ]
    for name, args in asks:
        result = await client.call_tool(name, args)
        assert not secrets_in(text_of(result), attack_project), (name, args)
        assert token not in text_of(result)
    notes = await client.call_tool(*asks[0])
    assert "use the token" in text_of(notes)  # the file was loaded, with the value redacted


# -- HTTP --------------------------------------------------------------------------------------------

CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "session_start", "arguments": {"goal": "x"}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    root = tmp_path_factory.mktemp("sec") / "proj"
    new_repo(root, {"README.md": "# x\n"}, "initial")
    with http_server(root) as srv:
        yield srv


def ledger_commits(srv: HttpServer) -> int:
    return int(git(srv.project / ".agentops" / "ledger", "rev-list", "--count", "HEAD").strip())


def test_http_refusals(server: HttpServer) -> None:
    good = {**HTTP_HEADERS, "authorization": f"Bearer {server.token}"}
    opened = httpx.post(server.url, json=INIT, headers=good)
    assert opened.status_code == 200
    session = opened.headers.get("mcp-session-id", "")
    assert session
    before = ledger_commits(server)
    with_session = {"mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
    cases: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
        ("no token", "POST", HTTP_HEADERS, None, 401),
        ("wrong token", "POST", {**HTTP_HEADERS, "authorization": "Bearer fops_" + "A" * 43}, None, 401),
        (
            "token in the wrong scheme",
            "POST",
            {**HTTP_HEADERS, "authorization": f"Token {server.token}"},
            None,
            401,
        ),
        ("bearer without a token", "POST", {**HTTP_HEADERS, "authorization": "Bearer"}, None, 401),
        (
            "token with a suffix",
            "POST",
            {**HTTP_HEADERS, "authorization": f"Bearer {server.token}x"},
            None,
            401,
        ),
        (
            "hijacked session, no token",
            "POST",
            {**HTTP_HEADERS, **with_session},
            json.dumps(CALL).encode(),
            401,
        ),
        ("event stream, no token", "GET", {"accept": "text/event-stream", **with_session}, None, 401),
        ("end session, no token", "DELETE", with_session, None, 401),
        ("cross-origin page", "POST", {**good, "origin": "https://evil.example"}, None, 403),
        ("null origin (sandboxed iframe)", "POST", {**good, "origin": "null"}, None, 403),
        ("DNS rebinding host", "POST", {**good, "host": "attacker.example"}, None, 421),
        ("oversized body", "POST", good, b'{"x":"' + b"a" * (1024 * 1024 + 10) + b'"}', 413),
        ("not JSON", "POST", {**good, "content-type": "text/plain"}, b"hello", 400),
        # ...while the legitimate variants pass: a loopback page, a client naming localhost.
        ("loopback origin", "POST", {**good, "origin": f"http://localhost:{server.port}"}, None, 200),
        ("localhost host", "POST", {**good, "host": f"localhost:{server.port}"}, None, 200),
    ]
    for what, method, headers, body, expected in cases:
        content = body if body is not None else (json.dumps(INIT).encode() if method == "POST" else None)
        r = httpx.request(method, server.url, headers=headers, content=content, timeout=30)
        assert r.status_code == expected, f"{what}: {r.status_code} {r.text[:200]}"
    assert ledger_commits(server) == before  # nothing refused reached a tool
    for header in ({}, {"authorization": "Bearer nope"}):  # a refusal carries no session or tool data
        r = httpx.post(server.url, json=CALL, headers={**HTTP_HEADERS, **header})
        assert r.status_code == 401 and "mcp-session-id" not in r.headers and "session_id" not in r.text


# -- approvals ---------------------------------------------------------------------------------------


def _deciding_args(tool: Tool, approval_id: str) -> list[dict[str, Any]]:
    """Argument sets that would decide an approval if any route allowed it."""
    props: dict[str, Any] = tool.input_schema.get("properties", {})
    words = [approval_id, "approved", f"approve {approval_id}", "yes"]
    sets = []
    for word in words:
        args: dict[str, Any] = {}
        for name, schema in props.items():
            if "enum" in schema:
                approving = [v for v in schema["enum"] if str(v).startswith(("approv", "accept", "allow"))]
                args[name] = approving[0] if approving else schema["enum"][0]
            elif schema.get("type") == "array":
                args[name] = [word]
            elif schema.get("type") in ("integer", "number"):
                args[name] = max(schema.get("minimum", 0), 0)
            elif schema.get("type") == "boolean":
                args[name] = True
            else:
                args[name] = word
        sets.append({**args, "status": "approved", "decision": "approve", "approve": True})
        sets.append(args)
    return sets


async def test_no_tool_can_decide_an_approval(client: Client, project: Path) -> None:
    tools = (await client.list_tools()).tools
    names = {t.name for t in tools}
    # A missing approvals tool fails here: a skip would pass the day the capability went missing.
    assert {"approval_request", "approval_status"} <= names, names
    assert not [n for n in names if re.search(r"approve|deny|decide|decision", n)], names
    asked = await client.call_tool(
        "approval_request",
        {"action": "drop the production table", "rationale": "cleanup", "risk": "critical"},
    )
    assert not asked.is_error, asked.content
    approval_id = asked.structured_content["id"]  # type: ignore[index]
    assert asked.structured_content["status"] == "pending"  # type: ignore[index]
    for tool in tools:
        for args in _deciding_args(tool, approval_id):
            await client.call_tool(tool.name, args)
    status = await client.call_tool("approval_status", {"id": approval_id})
    assert status.structured_content["status"] == "pending"  # type: ignore[index]
    ledger = project / ".agentops" / "ledger"
    files = git(ledger, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert not [f for f in files if f.startswith("approvals/") and f.endswith("decision.json")]
