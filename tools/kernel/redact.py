"""Secrets never enter a context load: secret files are excluded, token-like values redacted.

The file rules err on the side of exclusion (a `.env.local` is a secret); templates meant to be
committed (`.env.example`, `.env.sample`, `.env.template`) are not. Value rules look for the shapes
real credentials have (provider prefixes, PEM blocks, JWTs, `password = <long value>`), so prose
that merely says "password" and placeholders like `password = ""` are left alone.
"""

from __future__ import annotations

import re
from collections import Counter

_SECRET_NAMES = {
    ".env",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    "credentials",
    "credentials.json",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".htpasswd",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
    "service-account.json",
    ".git-credentials",
    "http_token",  # factorops' own bearer token in the data dir
}
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".kdbx", ".keystore", ".jks", ".asc", ".gpg")
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist")

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "private-key",
        re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----"),
    ),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b")),
    ("api-key", re.compile(r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{20,}\b")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("factorops-token", re.compile(r"\bfops_[A-Za-z0-9_\-]{32,}")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b")),
    (
        "assigned-secret",
        re.compile(
            r"(?i)\b([A-Za-z0-9_]*(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key)[A-Za-z0-9_]*)"
            r"(\s*[:=]\s*)([\"']?)([^\s\"']{12,})\3"
        ),
    ),
]


def is_secret_path(path: str) -> bool:
    """Called for every file of every listing, so plain string work only."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in _SECRET_NAMES:
        return True
    if name.startswith(".env"):
        return not name.endswith(_ENV_TEMPLATES)
    if name.endswith(_SECRET_SUFFIXES):
        return True
    if "/." not in "/" + path:
        return False
    parts = [x.lower() for x in path.split("/")]
    if ".aws" in parts and name in {"credentials", "config"}:
        return True
    return ".ssh" in parts and not name.endswith(".pub") and name not in {"known_hosts", "config"}


def _entropy_ok(value: str) -> bool:
    """A real secret mixes character classes; `changeme_changeme` or `${PASSWORD}` does not."""
    if value.startswith(("${", "$(", "<", "{{", "%(")) or value.lower() in {"none", "null", "true", "false"}:
        return False
    classes = sum(bool(re.search(rx, value)) for rx in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return classes >= 2 and len(set(value)) >= 8


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Replace secret-looking values with `[REDACTED:<kind>]`; returns the text and counts per kind."""
    counts: Counter[str] = Counter()
    for kind, rx in _RULES:
        if kind == "assigned-secret":

            def assigned(m: re.Match[str], kind: str = kind) -> str:
                if not _entropy_ok(m.group(4)) or m.group(4).startswith("[REDACTED"):
                    return m.group(0)
                counts[kind] += 1
                return f"{m.group(1)}{m.group(2)}{m.group(3)}[REDACTED:{kind}]{m.group(3)}"

            text = rx.sub(assigned, text)
        else:

            def plain(m: re.Match[str], kind: str = kind) -> str:
                counts[kind] += 1
                return f"[REDACTED:{kind}]"

            text = rx.sub(plain, text)
    return text, dict(counts)
