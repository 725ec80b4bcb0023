"""Tests that kill the mutants of `tools/kernel/redact.py` that `tests/test_redact.py` let live.

`bench/mutation.py redact` breaks one line of the rule-table parts of redaction at a time; each row
here exists because a mutant survived the existing tests (its number and line are in the row's
comment; see docs/testing.md "Mutation testing"). Through the real interface, the in-process MCP
client: secret file *names* through `count_tokens` (it refuses a path whose name says it holds a
credential and counts any other file), secret file *contents* and redacted *values* through
`context_load` with `paths` (a credential file is listed in `excluded`, any other file is returned
with its secret values replaced). Secrets are assembled from fragments and seeded random characters,
as in tests/test_redact.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.tools.kernel.redact import is_secret_path

from .test_redact import RSA_BODY, TFSTATE, b64, pem, pem_body, rnd

# --------------------------------------------------------------------------------------------
# Secret file names: count_tokens

# (path, whether its name says it holds a credential)
SECRET_NAMES: list[tuple[str, bool]] = [
    ("deploy\\id_rsa", True),  # 0, line 171: a Windows-style path (`path.replace("\\", "/")` deleted)
    ("home/.kube/config-prod", True),  # 38, line 192: `name == "config" or ...` -> `and`
    ("home/.kube/cache/discovery.json", False),  # 39, line 192: `name == "config"` -> `!=`
    (".vscode/config.json", False),  # 42, line 194: `".docker" in parts and ...` -> `or`
    (".docker/daemon.json", False),  # 42 again, from the other side
    ("home/.gnupg/pubring.kbx", True),  # 48/49, line 197: `.gnupg` -> return None / False
]


async def _refused(client: Client, path: str) -> bool:
    r = await client.call_tool("count_tokens", {"paths": [path]})
    text = " ".join(getattr(c, "text", "") for c in r.content)
    if r.is_error:
        assert "looks like a secret file" in text, text
    return bool(r.is_error)


@pytest.mark.parametrize(("rel", "secret"), SECRET_NAMES, ids=[r for r, _ in SECRET_NAMES])
async def test_count_tokens_refuses_exactly_the_secret_file_names(
    client: Client, project: Path, rel: str, secret: bool
) -> None:
    f = project / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("some words in a file\n")
    assert await _refused(client, rel) is secret


@pytest.mark.parametrize("path", ["app/.env.example", "id_rsa.pub", "src/app.py", ".github/ci.yml"])
def test_is_secret_path_answers_a_bool_for_a_harmless_name(path: str) -> None:
    """6 (line 176) and 28 (line 188): `return False` -> `return None`. Every caller reads the answer
    as a truth value, so only the declared `-> bool` tells them apart (a template, a public key, a
    plain path without a dot directory)."""
    assert is_secret_path(path) is False


# --------------------------------------------------------------------------------------------
# Secret file contents and secret values: context_load with paths

PGP_SECRET = pem("PGP SECRET KEY BLOCK", pem_body(31, lines=6, first="lQOYBGZ"))
KUBE_USER_KEY = b64(pem("RSA PRIVATE KEY", RSA_BODY))
NETRC_PASSWORD = rnd(16, seed=3)

# (file name, content, whether the whole file is a credential)
CONTENTS: list[tuple[str, str, bool]] = [
    # 57, line 234: `"SECRET KEY" in text` -> `not in` (a PGP secret key file has no "PRIVATE KEY")
    ("pgp.txt", PGP_SECRET, True),
    # 69, line 241: `"client-key-data" in text and ...` -> `or` (a mention without key data)
    ("kube-notes.txt", "Set client-key-data to the base64 of your key.\n", False),
    # 70, line 241: `"client-key-data" in text` -> `not in` (a users: block without clusters/contexts)
    ("kube-user.yaml", f"users:\n- name: admin\n  user:\n    client-key-data: {KUBE_USER_KEY}\n", True),
    # 74, line 243: `clusters and users and contexts` -> `or` (an app config with a users list)
    ("users.yaml", "users:\n  - name: bob\n    password: hunter2\n", False),
    # 80, line 245: `"terraform_version" in head and ...` -> `or`
    ("serial.json", '{"serial": 3, "resources": []}', False),
    # 84, line 245: `'"modules"' in text` -> `not in` (terraform_version and serial, no resources)
    ("tf-version.json", '{"terraform_version": "1.6.2", "serial": 1}', False),
    # 86, line 247: `"lineage" in text or "serial" in text` -> `and` (a state without lineage)
    ("old.tfstate.json", TFSTATE.replace('  "lineage": "3f2b6c1e-0000-4000-8000-000000000000",\n', ""), True),
    # 89, line 248: `'"private_key"' in text and <service account>` -> `or`
    ("vault.json", '{"private_key": "kept in the vault"}', False),
    # 93, line 250: `"aws_secret_access_key" in text and <an assignment>` -> `or` (a mention in an ini)
    ("notes.ini", "[section]\nnote = put aws_secret_access_key in ~/.aws/credentials\n", False),
    # 96, line 252: `'"auths"' in head and <an auth value>` -> `or` (a credential-store docker config)
    ("docker.json", '{"auths": {"ghcr.io": {}}, "credsStore": "desktop"}', False),
    # 101, line 254: `ln.strip() and not <comment>` -> `or` (a .netrc with a comment line)
    ("netrc.txt", f"# work\nmachine api.example.com\n  login bob\n  password {NETRC_PASSWORD}\n", True),
]


async def _load(client: Client, project: Path, files: dict[str, str]) -> dict[str, Any]:
    for name, text in files.items():
        (project / name).write_text(text)
    r = await client.call_tool("context_load", {"task": "read these files", "paths": list(files)})
    assert not r.is_error, r.content
    return r.structured_content or {}


@pytest.mark.parametrize(("name", "text", "secret"), CONTENTS, ids=[c[0] for c in CONTENTS])
async def test_context_load_excludes_exactly_the_credential_files(
    client: Client, project: Path, name: str, text: str, secret: bool
) -> None:
    out = await _load(client, project, {name: text})
    loaded = [item["path"] for item in out.get("items", [])]
    if secret:
        assert out.get("excluded") == [name] and name not in loaded, out
    else:
        assert name in loaded and name not in out.get("excluded", []), out


# (file name, content, the secret value that must not come back, the marker that replaces it)
VALUES: list[tuple[str, str, str, str]] = [
    # 108/109, line 634-635: the URL-password shape skipped or deleted (detect-secrets' basic-auth
    # rule does not take `$` or `!` in a password, so only our shape sees this one)
    ("db.env.txt", "DATABASE_URL=postgres://app:pa$$w0rd!x@db.internal/app\n", "pa$$w0rd!x", "url-password"),
    # 127, line 649: `".login(" in low` -> `not in` (a login call without the word auth)
    ("login.py", "client.login('bob', 's3cr3t-Pa55w0rd')\n", "s3cr3t-Pa55w0rd", "assigned-secret"),
    # 136, line 1417: `"SECRET KEY" in text` -> `not in` (a PGP secret key inside a document)
    (
        "key-notes.md",
        "key:\n" + PGP_SECRET,
        pem_body(31, lines=6, first="lQOYBGZ").splitlines()[2],
        "private-key",
    ),
    # 149, line 1425: `": >" in text` -> `not in` (a YAML folded block holding a password)
    (
        "folded.yaml",
        "db:\n  password: >\n    " + rnd(20, seed=34) + "\n",
        rnd(20, seed=34),
        "assigned-secret",
    ),
]


@pytest.mark.parametrize(("name", "text", "secret", "kind"), VALUES, ids=[v[0] for v in VALUES])
async def test_context_load_redacts_the_value(
    client: Client, project: Path, name: str, text: str, secret: str, kind: str
) -> None:
    out = await _load(client, project, {name: text})
    assert [item["path"] for item in out.get("items", [])] == [name], out
    assert secret not in str(out), out
    assert f"[REDACTED:{kind}]" in out["content"], out["content"]
