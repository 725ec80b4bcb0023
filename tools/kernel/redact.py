"""Secrets never leave the server: secret files are excluded, secret values are redacted in place.

Three layers, cheapest first:

* `is_secret_path` - files whose *name* says they hold credentials (`.env*`, `*.pem`, `id_rsa`,
  `*.tfstate`, kubeconfigs, ...) never enter a context load. Plain string work: it runs for every
  file of every listing.
* `is_secret_content` - files whose *content* makes the whole file a credential whatever its name
  (a private key, a kubeconfig with client keys, a Terraform state): the caller skips them.
* `redact` - every text leaving the server goes through it, so it must be cheap on ordinary code
  and must keep the text readable: only the secret *value* is replaced, by `[REDACTED:<kind>]`,
  and key names, quotes and URLs around it stay (`"password": "[REDACTED:assigned-secret]"`,
  `postgres://user:[REDACTED:url-password]@host/db`).

`redact` is built from two sources. Our own rules, run over the whole text with regexes that start
with a literal (so the regex engine skips ahead at C speed), cover what must never leak and what
detect-secrets misses: PEM/PGP/OpenSSH/PuTTY private keys with or without their END line, base64
key blobs, provider tokens by prefix, passwords in URLs, connection strings, kubeconfig data,
Authorization headers and assigned secrets in JSON/YAML/TOML/.env/shell/code. Then detect-secrets'
plugins (AWS, Stripe, GitHub, GitLab, Slack, SendGrid, Twilio, JWT, Azure, Basic auth, keyword,
high-entropy strings, ...) run per line, but only on the lines a cheap trigger selects for each
plugin: detect-secrets' own `scan_line` over every line of the stdlib ran at 0.04 MB/s, this module at
~8 MB/s (CPU time; today's regex-only module: ~2.5 MB/s).

Every finding is a span of the original text; overlapping spans merge into one redaction named
after the most specific rule, so `API_TOKEN = "ghp_..."` counts once, as a github-token.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from detect_secrets.plugins.base import BasePlugin

__all__ = ["is_secret_content", "is_secret_path", "redact"]

# --------------------------------------------------------------------------------------------
# Secret files, by name

_SECRET_NAMES = frozenset(
    {
        ".env",
        ".netrc",
        "_netrc",
        ".npmrc",
        ".pypirc",
        ".pgpass",
        ".my.cnf",
        ".dockercfg",
        ".git-credentials",
        ".htpasswd",
        "htpasswd",
        ".vault_pass",
        ".vault-pass",
        ".vault_password",
        ".vault-password",
        "vault_pass.txt",
        "credentials",
        "credentials.json",
        "credentials.yml",
        "credentials.yaml",
        "credentials.xml",  # Jenkins
        "application_default_credentials.json",  # gcloud
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "id_ecdsa_sk",
        "id_ed25519_sk",
        "secret.json",
        "secret.yaml",
        "secret.yml",
        "secrets.json",
        "secrets.yaml",
        "secrets.yml",
        "secrets.toml",  # Streamlit
        "service-account.json",
        "service_account.json",
        "kubeconfig",
        "http_token",  # factorops' own bearer token in the data dir
    }
)
_SECRET_SUFFIXES = (
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".p8",  # Apple AuthKey_*.p8
    ".ppk",  # PuTTY
    ".kdbx",
    ".keystore",
    ".jks",
    ".jceks",
    ".asc",
    ".gpg",
    ".tfstate",
    ".tfstate.backup",
    ".kubeconfig",
    ".env",  # prod.env, deploy/staging.env
)
# Meant to be committed: `.env.example`, `server.key.sample`.
_TEMPLATES = (".example", ".sample", ".template", ".dist", ".tpl", ".tmpl")
# `kubeconfig.go`, `config.env.ts` and `id_rsa.py` are code about secrets, not secrets.
_CODE_EXTS = frozenset(
    {
        "py",
        "pyi",
        "js",
        "mjs",
        "cjs",
        "jsx",
        "ts",
        "tsx",
        "go",
        "rs",
        "rb",
        "java",
        "kt",
        "kts",
        "scala",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "cs",
        "php",
        "swift",
        "m",
        "sh",
        "bash",
        "zsh",
        "ps1",
        "lua",
        "pl",
        "r",
        "md",
        "rst",
        "txt",
        "html",
        "css",
        "scss",
        "vue",
        "svelte",
    }
)
_ENV_VARIANT = re.compile(r"\.env\.([a-z0-9_-]+)$")  # prod.env.local
_TFSTATE_NAME = re.compile(r"\.tfstate(?:\.\d+)?(?:\.backup|\.bak)?$")  # terraform.tfstate.1700000000.backup
_SSH_KEY_NAME = re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?(?:[_.-][\w.-]*)?")


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1] if "." in name else ""


def is_secret_path(path: str) -> bool:
    """Whether a file's name says it holds credentials; called for every listed file, so string work only.

    Errs on the side of exclusion (`.env.local`, `prod.env`, `id_rsa_deploy` are secrets) but leaves
    templates (`.env.example`) and code about secrets (`kubeconfig.go`, `id_rsa.pub`) alone.
    """
    path = path.replace("\\", "/")
    name = path.rsplit("/", 1)[-1].lower()
    if name in _SECRET_NAMES:
        return True
    if name.endswith(_TEMPLATES) or name.endswith(".pub"):
        return False
    if name.startswith(".env") or name.endswith(_SECRET_SUFFIXES) or _TFSTATE_NAME.search(name):
        return True
    code = _ext(name) in _CODE_EXTS
    m = _ENV_VARIANT.search(name)
    if m and m.group(1) not in _CODE_EXTS:
        return True
    if not code and (name.startswith("kubeconfig") or name.startswith(("client_secret", "service-account-"))):
        return True
    if not code and _SSH_KEY_NAME.fullmatch(name):
        return True
    if "/." not in "/" + path:
        return False
    parts = [x.lower() for x in path.split("/")]
    if ".aws" in parts and name in {"credentials", "config"}:
        return True
    if ".kube" in parts and (name == "config" or name.startswith("config")):
        return True
    if ".docker" in parts and name == "config.json":
        return True
    if ".gnupg" in parts:
        return True
    return ".ssh" in parts and name not in {"known_hosts", "config", "authorized_keys"}


# --------------------------------------------------------------------------------------------
# Secret files, by content

_PEM_ANY_BLOCK = re.compile(
    r"-{5}BEGIN ([A-Z0-9 ]+)-{5}[\s\S]*?-{5}END \1-{5}"
    r"|---- BEGIN [A-Z0-9 ]+ ----[\s\S]*?---- END [A-Z0-9 ]+ ----"
)
_KEY_HEADER = re.compile(
    r"-{4,5} ?BEGIN (?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)? ?-{4,5}|PuTTY-User-Key-File-\d"
)
# Lines before a key in a key file: blank, comments, openssl's "Bag Attributes" and their indented values.
_FILE_PREAMBLE = re.compile(r"(?:(?:(?:#|Bag Attributes|Key Attributes|[ \t\r])[^\n]*)?\n)*")
_KUBE_CREDENTIAL = re.compile(
    r"(?m)^[ \t]*[\"']?(?:client-key-data|token|password|id-token|refresh-token|access-token)[\"']?"
    r"[ \t]*:[ \t]*\S"
)
_KUBE_KEY_DATA = re.compile(r"client-key-data[\"']?\s*:\s*[\"']?[A-Za-z0-9+/=]{40}")
_SERVICE_ACCOUNT = re.compile(r"\"type\"\s*:\s*\"service_account\"")
_AWS_CREDENTIALS = re.compile(r"(?mi)^[ \t]*aws_secret_access_key[ \t]*=[ \t]*\S")
_INI_SECTION = re.compile(r"(?m)^[ \t]*\[[^\]\n]+\][ \t]*\r?$")
_DOCKER_AUTH = re.compile(r"\"auth\"\s*:\s*\"[A-Za-z0-9+/=]{12,}\"")
_NETRC_LINE = re.compile(r"(?m)^[ \t]*(?:machine[ \t]+\S+[ \t]+)?(?:login[ \t]+\S+[ \t]+)?password[ \t]+\S")
_HTPASSWD_LINE = re.compile(r"[^:\s]+:(?:\$(?:apr1|2[abxy]?|1|5|6)\$|\{SHA\})\S+")


def is_secret_content(text: str) -> bool:
    """Whether the whole text is a credential, whatever the file is called; the caller skips it.

    Redacting a private key file or a Terraform state would leave nothing worth reading, and a
    kubeconfig's value is its credentials: such files are skipped whole. A source file that merely
    *contains* a key or a password is not one of these; `redact` handles it.
    """
    head = text[:4096]
    if "PRIVATE KEY" in text or "SECRET KEY" in text or "PuTTY-User-Key-File" in head:
        start = _FILE_PREAMBLE.match(text)
        if start and _KEY_HEADER.match(text, start.end()):
            return True  # the file starts with a private key (after comments and openssl bag attributes)
        rest = _PEM_ANY_BLOCK.sub("", text) if len(text) < 65536 else text  # key bundles are small
        if not rest.strip() and _KEY_HEADER.search(text):
            return True  # nothing but PEM blocks, one of them a private key (a cert + key bundle)
    if "client-key-data" in text and _KUBE_KEY_DATA.search(text):
        return True
    if ("clusters" in head and "users" in text and "contexts" in text) and _KUBE_CREDENTIAL.search(text):
        return True  # a kubeconfig carrying a token or password
    if '"terraform_version"' in head and ('"resources"' in text or '"modules"' in text):
        # A Terraform state: every attribute of every resource (passwords, keys) in clear.
        return '"lineage"' in text or '"serial"' in text
    if '"private_key"' in text and _SERVICE_ACCOUNT.search(head):
        return True  # a Google service account key file
    if "aws_secret_access_key" in text.lower() and _AWS_CREDENTIALS.search(text):
        return bool(_INI_SECTION.search(text))  # ~/.aws/credentials under another name
    if '"auths"' in head and _DOCKER_AUTH.search(text):
        return True  # a docker config.json with registry logins
    lines = [ln.strip() for ln in head.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and all(_NETRC_LINE.match(ln) or ln.startswith(("machine", "login", "default")) for ln in lines):
        return any(_NETRC_LINE.match(ln) for ln in lines)  # a .netrc
    return bool(lines) and all(_HTPASSWD_LINE.fullmatch(ln) for ln in lines)  # an htpasswd file


# --------------------------------------------------------------------------------------------
# Spans: what every rule produces

# Merged spans take the kind of their most specific member (lowest rank).
_R_KEY, _R_TOKEN, _R_SHAPE, _R_ASSIGNED, _R_GENERIC = 0, 1, 2, 3, 4


class _Span(NamedTuple):
    start: int
    end: int
    kind: str
    rank: int


_MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")


def _apply(text: str, spans: list[_Span]) -> tuple[str, dict[str, int]]:
    """Replace each group of overlapping spans by one marker, left to right.

    A group that covers nothing but an existing marker is left as it is: redacting twice changes nothing.
    """
    spans.sort()
    out: list[str] = []
    counts: Counter[str] = Counter()
    pos = 0
    groups: list[list[Any]] = []
    for start, end, kind, rank in spans:
        if groups and start < groups[-1][1]:
            group = groups[-1]
            group[1] = max(group[1], end)
            if rank < group[3]:
                group[2], group[3] = kind, rank
        else:
            groups.append([start, end, kind, rank])
    for start, end, kind, _ in groups:
        if _MARKER.fullmatch(text, start, end):
            continue
        out += (text[pos:start], f"[REDACTED:{kind}]")
        counts[kind] += 1
        pos = end
    out.append(text[pos:])
    return "".join(out), dict(counts)


def _line_at(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _lines_matching(text: str, src: str, needle: str | re.Pattern[str]) -> list[tuple[int, int]]:
    """The (start, end) of each line where `needle` (a literal or a regex) occurs in `src`.

    `src` is the text or its lowercase twin (same positions). Searching resumes at the next line after
    a hit, so a line full of matches costs one search; a literal is found by `str.find` (memchr speed).
    """
    out: list[tuple[int, int]] = []
    pos = 0
    if isinstance(needle, str):
        find = src.find
        while (i := find(needle, pos)) >= 0:
            line = _line_at(text, i)
            out.append(line)
            pos = line[1] + 1
        return out
    search = needle.search
    while (m := search(src, pos)) is not None:
        line = _line_at(text, m.start())
        out.append(line)
        pos = line[1] + 1
    return out


# --------------------------------------------------------------------------------------------
# Private keys: PEM/PGP/OpenSSH blocks (with or without END), PuTTY files, base64 key blobs

_BEGIN_KEY = re.compile(r"-{4,5} ?BEGIN ((?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)?) ?-{4,5}")
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{16}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/=]+")
_ESCAPES = re.compile(r"\\[nrt]")
_ARMOR_HEADER = re.compile(r"[A-Za-z][\w-]*: .*")  # Proc-Type:, DEK-Info:, Version:, Comment:
_QUOTING = " \t\r\"'`+,;()[]{}"
_STRING_PREFIX = re.compile(r"^[ \t]*[bBrRuU]{1,2}(?=[\"'])")  # b"MIIE...", Python bytes literals
_MAX_KEY_CHARS = 65536  # an END further away than any key is long belongs to something else


def _material(line: str) -> int:
    """2: a line of key material (base64, maybe quoted or with \\n escapes), 1: neutral, 0: other."""
    parts = [p.strip(_QUOTING) for p in _ESCAPES.split(_STRING_PREFIX.sub("", line))]
    parts = [p for p in parts if p]
    if not parts:
        return 1
    if all(_B64_RUN.fullmatch(p) for p in parts):
        return 2
    return 1 if len(parts) == 1 and _ARMOR_HEADER.fullmatch(parts[0]) else 0


def _material_end(text: str, pos: int) -> int | None:
    """Where the key material starting at `pos` ends, for a key whose END line is missing.

    A truncated key runs to the end of its base64 lines (or of the text); a header merely mentioned in
    code (`if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):`) has no material and is left alone.
    """
    end, found, n = pos, False, len(text)
    while pos <= n:
        line_end = text.find("\n", pos)
        line_end = n if line_end < 0 else line_end
        kind = _material(text[pos:line_end])
        if kind == 0 and not (found and _material_follows(text, line_end + 1)):
            break
        if kind == 2:
            found = found or bool(_KEY_MATERIAL.search(text, pos, line_end))
            end = line_end
        pos = line_end + 1
    return end if found else None


def _material_follows(text: str, pos: int, lines: int = 2) -> bool:
    """Whether key material resumes within the next `lines` lines: a stray line inside a key body (a
    comment, a mangled wrap) must not leave the rest of the key in clear."""
    for _ in range(lines):
        if pos > len(text):
            return False
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        if _material(text[pos:line_end]) == 2 and _KEY_MATERIAL.search(text, pos, line_end):
            return True
        pos = line_end + 1
    return False


def _trimmed(text: str, start: int, end: int, quoting: bool = False) -> tuple[int, int]:
    """The span without surrounding blank space; with `quoting`, without the closing quotes and commas
    (and `\\n` escapes) of a key that sits in a string literal, so the code around stays readable."""
    while start < end and text[start] in " \t\r\n":
        start += 1
    while end > start:
        if text[end - 1] in " \t\r\n" or quoting and text[end - 1] in _QUOTING:
            end -= 1
        elif quoting and text.startswith(("\\n", "\\r"), end - 2):
            end -= 2
        else:
            break
    return start, end


_END_KEY = re.compile(r"-{4,5} ?END ((?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)?) ?-{4,5}")


def _key_blocks(text: str, spans: list[_Span]) -> None:
    """The body of every private key block; its BEGIN and END lines stay, to say what was there."""
    ends = [(m.start(), m.group(1)) for m in _END_KEY.finditer(text)]  # found once: a text may hold many
    for m in _BEGIN_KEY.finditer(text):
        body_end: int | None = None
        quoting = False
        i = bisect.bisect_left(ends, (m.end(), ""))
        while i < len(ends) and ends[i][0] < m.end() + _MAX_KEY_CHARS:
            if ends[i][1] == m.group(1):
                if _KEY_MATERIAL.search(text, m.end(), ends[i][0]):
                    body_end = ends[i][0]
                break
            i += 1
        if body_end is None:
            body_end, quoting = _material_end(text, m.end()), True
        if body_end is not None:
            start, stop = _trimmed(text, m.end(), body_end, quoting)
            if stop > start:
                spans.append(_Span(start, stop, "private-key", _R_KEY))


_PUTTY_PRIVATE = re.compile(r"Private-Lines:[ \t]*\d+[ \t]*\r?\n|Private-MAC:[ \t]*([0-9a-fA-F]{16,})")


def _putty(text: str, spans: list[_Span]) -> None:
    for m in _PUTTY_PRIVATE.finditer(text):
        if m.group(1):
            spans.append(_Span(m.start(1), m.end(1), "private-key", _R_KEY))
        else:
            end = _material_end(text, m.end())
            if end is not None:
                spans.append(_Span(*_trimmed(text, m.end(), end), "private-key", _R_KEY))


def _b64_of_pem_headers(labels: tuple[str, ...]) -> str:
    """Base64 of `-----BEGIN <label>PRIVATE KEY`: a PEM key encoded again (kubeconfig, k8s Secrets)."""
    out = []
    for label in labels:
        raw = f"-----BEGIN {label}PRIVATE KEY".encode()
        out.append(base64.b64encode(raw[: len(raw) // 3 * 3]).decode())
    common = "LS0tLS1CRUdJTi"  # "-----BEGIN": kept as a literal prefix, which the regex engine skips to
    return common + "(?:" + "|".join(re.escape(p.removeprefix(common)) for p in out) + ")"


_BLOB_TAIL = r"(?:[A-Za-z0-9+/=]|\\[nr])*"
# DER private keys in base64, by the ASN.1 bytes that open them (public keys and certificates differ):
# PKCS#1 RSA/DSA `MII...IBAAK`, PKCS#8 `MII...IBADAN`/`IBADCC`, EC in PKCS#8 `MIG.AgEAMB`, SEC1 EC
# `MHcCAQEE`/`MIG.AgEBB`, Ed25519/X25519 PKCS#8 `MC4CAQAwBQYDK2V`, encrypted PKCS#8 (PBES2), and the
# body of an OpenSSH key (`openssh-key-v1`). One regex per literal prefix: an alternation would scan slowly.
_KEY_BLOBS = tuple(
    re.compile(rx + _BLOB_TAIL)
    for rx in (
        r"M(?:II[A-Za-z0-9+/]{3}IBA(?:AK|DAN|DCC)|I[GH][A-Za-z0-9+/]AgE(?:AMB|BB)|HcCAQEE|C4CAQAwBQYDK2V[uw]"
        r"|II[A-Za-z0-9+/]{5}BgkqhkiG9w0BBQ0w)",
        r"b3BlbnNzaC1rZXktdjE",
        _b64_of_pem_headers(("", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED ", "PGP ")),
    )
)


_KEY_BLOB_NEEDLES = (("MI", "MHcCAQEE", "MC4CAQAwBQYDK2V"), ("b3BlbnNzaC1rZXktdjE",), ("LS0tLS1CRUdJTi",))


def _key_blobs(text: str, spans: list[_Span]) -> None:
    for rx, needles in zip(_KEY_BLOBS, _KEY_BLOB_NEEDLES, strict=True):
        if not any(n in text for n in needles):
            continue  # `in` runs at memory speed: most texts skip the regex, and its per-call cost
        for m in rx.finditer(text):
            start = m.start()
            if start and (text[start - 1].isalnum() or text[start - 1] in "+/"):
                continue  # inside some longer base64 run, by chance
            end = m.end()
            more = _material_end(text, end)
            if more is not None and end <= text.find("\n", end) < more:
                end = _trimmed(text, start, more, quoting=True)[1]  # the blob is wrapped over several lines
            if end - start >= 40:
                spans.append(_Span(start, end, "private-key", _R_KEY))


# --------------------------------------------------------------------------------------------
# Provider tokens, recognised by their prefix

# (kind, pattern, characters one of which must precede the match and belongs to the token, literals one of
# which the text must contain). Every pattern starts with a literal (`[rs]k_live_` scans at 76 MB/s,
# `k_live_` plus a look back at 650) and is tried only if one of its needles is in the text: `in` runs at
# memory speed, so most texts, and all short ones, skip the regex and its per-call cost.
_TOKENS: tuple[tuple[str, re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (kind, re.compile(rx), lead, needles)
    for kind, rx, lead, needles in (
        (
            "aws-access-key",
            r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
            "",
            ("A3T", "AKIA", "ASIA", "ABIA", "ACCA"),
        ),
        ("github-token", r"gh[pousr]_[A-Za-z0-9]{30,}", "", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
        ("github-token", r"github_pat_[A-Za-z0-9_]{40,}", "", ("github_pat_",)),
        (
            "gitlab-token",
            r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas|sa)-[A-Za-z0-9_\-]{20,}",
            "",
            ("gl",),
        ),
        ("gitlab-token", r"GR1348941[A-Za-z0-9_\-]{20,}", "", ("GR1348941",)),
        ("stripe-key", r"k_(?:live|test)_[A-Za-z0-9]{16,}", "rs", ("k_live_", "k_test_")),
        ("stripe-key", r"whsec_[A-Za-z0-9]{24,}", "", ("whsec_",)),
        ("api-key", r"sk-(?:ant-|proj-|live-|test-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", "", ("sk-",)),
        ("slack-token", r"xox[abposre]-[A-Za-z0-9-]{10,}", "", ("xox",)),
        ("slack-token", r"xapp-\d-[A-Za-z0-9-]{10,}", "", ("xapp-",)),
        (
            "slack-webhook",
            r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,}",
            "",
            ("hooks.slack.com",),
        ),
        ("factorops-token", r"fops_[A-Za-z0-9_\-]{32,}", "", ("fops_",)),
        ("google-api-key", r"AIza[0-9A-Za-z_\-]{35}", "", ("AIza",)),
        ("google-oauth-secret", r"GOCSPX-[A-Za-z0-9_\-]{20,}", "", ("GOCSPX-",)),
        ("jwt", r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", "", ("eyJ",)),
        ("sendgrid-key", r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}", "", ("SG.",)),
        ("npm-token", r"npm_[A-Za-z0-9]{36}", "", ("npm_",)),
        ("pypi-token", r"pypi-AgE[A-Za-z0-9_\-]{50,}", "", ("pypi-AgE",)),
        ("huggingface-token", r"hf_[A-Za-z0-9]{34,}", "", ("hf_",)),
        ("twilio-key", r"SK[0-9a-f]{32}(?![A-Za-z0-9])", "", ("SK",)),
        ("digitalocean-token", r"do[opr]_v1_[a-f0-9]{64}", "", ("_v1_",)),
        ("shopify-token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", "", ("shp",)),
        ("age-secret-key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}", "", ("AGE-SECRET-KEY-1",)),
        (
            "password-hash",
            r"\$(?:2[abxy]?|apr1|1|5|6|argon2(?:id|i|d))\$[./A-Za-z0-9$=,+]{20,}",
            "",
            ("$",),
        ),
    )
)


# Every needle once, with the rules it unlocks: one flat loop of `in` tests per call.
_TOKEN_NEEDLES = tuple(
    (needle, tuple(i for i, rule in enumerate(_TOKENS) if needle in rule[3]))
    for needle in dict.fromkeys(n for rule in _TOKENS for n in rule[3])
)


def _tokens(text: str, spans: list[_Span]) -> None:
    rules = {i for needle, users in _TOKEN_NEEDLES if needle in text for i in users}
    for i in sorted(rules):
        kind, rx, lead, _ = _TOKENS[i]
        for m in rx.finditer(text):
            start = m.start()
            if lead:
                if not start or text[start - 1] not in lead:
                    continue
                start -= 1
            if start and (text[start - 1].isalnum() or text[start - 1] == "_") and kind != "password-hash":
                continue  # `disk-...`, `xghp_...`: the prefix is the tail of a longer word
            if "EXAMPLE" in m.group():
                continue  # AKIAIOSFODNN7EXAMPLE: the documented example key
            spans.append(_Span(start, m.end(), kind, _R_TOKEN))


# --------------------------------------------------------------------------------------------
# Secrets recognised by the shape around them: URLs, connection strings, headers, kubeconfig

_URL_PASSWORD = re.compile(r"://[^\s:/@\"'<>?#\[\]{}]*:(?P<v>[^\s/@\"'<>?#]+)@(?=[\w\[.-])")
_AZURE = re.compile(r"(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*(?P<v>[^;\s\"'<>]{8,})")
_SAS_SIG = re.compile(r"[?&]sig=(?P<v>[A-Za-z0-9%+/=]{16,})")
_KUBE_DATA = re.compile(r"client-(?:key|certificate)-data[\"']?\s*:\s*[\"']?(?P<v>[A-Za-z0-9+/=]{16,})")
# These run over the lowercased text (positions are the same): case-insensitive regexes are 10x slower.
# Possessive quantifiers: `authorization = self.headers.get(` must not match by giving characters back.
_AUTH_SCHEME = re.compile(
    r"(?<![a-z0-9_])authorization[\"']?\s*[:=,]\s*[\"']?(?:bearer|basic|token|bot|digest|apikey|api-key|sso-key)\s+"
    r"(?P<v>[a-z0-9._~+/\-]{8,}+=*+)(?![\w(\[])"
)
# Without a scheme, the value must be the whole header value: `AWS4-HMAC-SHA256 Credential=...` is none.
_AUTH_VALUE = re.compile(
    r"(?m)(?<![a-z0-9_])authorization[\"']?\s*:\s*[\"']?(?P<v>[a-z0-9._~+/\-]{16,}+=*+)"
    r"(?=[\"'`]?[ \t]*(?:[,;})\]]|\r?$))"
)
_BEARER = re.compile(r"bearer\s+(?P<v>[a-z0-9._~+/\-]{16,}+=*+)(?![\w(\[])")
_NETRC = re.compile(r"machine\s+\S+\s+login\s+\S+\s+password\s+(?P<v>\S+)")
# requests/httpx `auth=("user", "pw")`, `HTTPBasicAuth("user", "pw")`, and `curl -u user:pw`.
_AUTH_PAIR = re.compile(
    r"(?:auth\s*=\s*[(\[]|basicauth\(|basic_auth\(|\.login\()\s*([\"'])[^\"'\n]*\1\s*,\s*([\"'])(?P<v>[^\"'\n]+)\2"
)
# The user name may not be a marker: `curl -u [REDACTED:stripe-key]:` was redacted a second time.
_CURL_USER = re.compile(
    r"curl\b[^\n|;&]*?\s(?:-u|--user)\s*[\"']?(?!\[redacted:)[^\s:\"']+:(?P<v>[^\s\"'@]+)"
)
_TEMPLATED = re.compile(
    r"\$\{|\$\(|\{\{|\{%|%\(|%[sd]\b|\{[\w.\[\]'\"]*\}|^\$[A-Za-z_]|^%[A-Z_]+%$|^<[^>]*>$|^\*+$|^x{3,}$"
)
_HOST_PORT = re.compile(r"[\w.\-]+:\d{1,5}")
_CSS_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _shape(
    text: str, src: str, rx: re.Pattern[str], kind: str, ok: Callable[[str], bool], spans: list[_Span]
) -> None:
    for m in rx.finditer(src):
        value = text[m.start("v") : m.end("v")]
        if "[REDACTED" not in value and "EXAMPLE" not in value and not _TEMPLATED.search(value) and ok(value):
            spans.append(_Span(m.start("v"), m.end("v"), kind, _R_SHAPE))


def _any(_value: str) -> bool:
    return True


def _token_like(value: str) -> bool:
    """A credential, not a word: `Bearer abc0123456789xyz`, not `Bearer authorization`."""
    if _DOTTED_NAME.fullmatch(value):
        return False  # `bearer self.token`
    return any(c.isdigit() for c in value) or any(c in "._~+/-=" for c in value.rstrip("="))


def _netrc_password(value: str) -> bool:
    """A password after its user name: one is there, but not every word is (`password pass` in a test)."""
    return _value_ok(value, True, False, "pass")


def _shapes(text: str, low: str, spans: list[_Span]) -> None:
    if "://" in text:
        _shape(text, text, _URL_PASSWORD, "url-password", _any, spans)
    if "AccountKey" in text or "SharedAccess" in text:
        _shape(text, text, _AZURE, "azure-key", _any, spans)
    if "sig=" in text:
        _shape(text, text, _SAS_SIG, "azure-key", _any, spans)
    if "-data" in text:
        _shape(text, text, _KUBE_DATA, "kube-credential", _any, spans)
    if "authorization" in low:
        _shape(text, low, _AUTH_SCHEME, "bearer-token", _token_like, spans)
        _shape(text, low, _AUTH_VALUE, "bearer-token", _token_like, spans)
    if "bearer" in low:
        _shape(text, low, _BEARER, "bearer-token", _token_like, spans)
    if "machine" in low:
        _shape(text, low, _NETRC, "assigned-secret", _netrc_password, spans)
    if "auth" in low or ".login(" in low:
        _shape(text, low, _AUTH_PAIR, "assigned-secret", _netrc_password, spans)
    if "curl" in low:
        _shape(text, low, _CURL_USER, "assigned-secret", _netrc_password, spans)


# --------------------------------------------------------------------------------------------
# Assigned secrets: `password = ...` in JSON, YAML, TOML, .env, shell, XML and code

# A line is parsed only where it mentions one of these (in the lowercased text), and only from the key
# around each mention: parsing every `=` of every line would cost more than everything else here.
_HINT_WORDS = ("pass", "pw", "secret", "token", "key", "cred", "auth", "contrase")
_HINT = re.compile("|".join(_HINT_WORDS))
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$@ñ")

_ASSIGN_TAIL = (
    r"(?:[ \t]*:[ \t]*[A-Za-z_][\w.\[\], |]{0,60}?(?=[ \t]*=[^=]))?"  # an annotation: `password: str = `
    r"[ \t]*(?P<op>:=|=>|===?|!==?|=|:|,(?=[ \t]*[\"'])|[ \t](?=[ \t]*[\"']))[ \t]*"
    r"(?P<val>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`|[^\s\"'`]*)"
)
# The key: a name, maybe quoted or subscripted (`"api-key"`, `headers["X-Api-Key"]`), or any quoted
# label (`"API Key"`, `"AWS::KMS::Key"`).
_ASSIGN = re.compile(
    r"(?P<kq>[\"'`]?)(?P<key>[A-Za-z_$@][\w.\-]{0,127}(?:::[A-Za-z_][\w.\-]{0,63}){0,4})(?P=kq)\]?"
    + _ASSIGN_TAIL
)
_QUOTED_ASSIGN = re.compile(r"(?P<kq>[\"'`])(?P<key>[\w$@][^\"'`\n,;()=]{0,127}?)(?P=kq)\]?" + _ASSIGN_TAIL)
_CLI_FLAG = re.compile(r"(?<![\w-])--(?P<key>[A-Za-z][\w-]*)[ \t]+(?P<val>[^\s\"'`\\|;&<>$-][^\s\"'`|;&<>]*)")
_XML_ELEMENT = re.compile(r"<(?P<key>[\w:.-]+)>(?P<val>[^<\n]+)</(?P=key)>")
_XML_KEY_VALUE = re.compile(
    r"(?:key|name)\s*=\s*[\"'](?P<key>[^\"'\n]+)[\"']\s+value\s*=\s*(?P<val>\"[^\"\n]*\"|'[^'\n]*')"
)
_CONFIG_PREFIX = re.compile(
    r"[ \t]*(?:export[ \t]+|set[ \t]+|setenv[ \t]+|ENV[ \t]+|-[ \t]+|declare[ \t]+(?:-\w+[ \t]+)*)?"
)
_TRAILING_COMMENT = re.compile(r"[ \t]+(?:#|//|;).*$")
# A literal that is a separator or a template, not the value: `" ...\n".join(parts)`, `"Bearer %s" % t`.
# (`"s3cr3t".encode()` is still the secret.)
_LITERAL_IN_EXPRESSION = re.compile(r"\.(?:join|format|split|rsplit|replace|partition)\(|[ \t]*%[ \t(]")
_PAIR_KEY = re.compile(r"[\w.\-]{5,}")
_UNQUOTED_END = re.compile(r"[,;)\]}&]")

# A key names a secret when one of its parts ends with one of these, is one of the exact stems, or is
# `key` qualified by the part before it (api_key, signing_key, but not dict_key).
_STEM_SUFFIXES = (
    *("password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "accesskey", "secretkey"),
    *(
        "privatekey",
        "authkey",
        "credential",
        "credentials",
        "keypass",
        "storepass",
        "contraseña",
        "contrasena",
    ),
)
_PASS_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "keypass",
    "storepass",
    "contraseña",
    "contrasena",
)
_EXACT_STEMS = frozenset({"pass", "pw", "pwd", "cred", "creds", "auth"})
_KEY_QUALIFIERS = frozenset(
    {
        *("api", "access", "private", "priv", "secret", "auth", "signing", "sign", "encryption", "enc"),
        *("decryption", "master", "account", "session", "app", "client", "service", "storage", "license"),
        *("licence", "db", "database", "shared", "hmac", "jwt", "aes", "ssh", "gpg", "pgp", "root", "admin"),
        *(
            "consumer",
            "subscription",
            "deploy",
            "webhook",
            "bot",
            "sas",
            "crypt",
            "cipher",
            "secure",
            "cookie",
        ),
    }
)
# A part after the secret word that makes the key name something *about* the secret: password_field,
# token_url, api_key_env, ssl_key.passwd.pem.
_NOT_SECRET_AFTER = frozenset(
    {
        *("url", "uri", "urls", "endpoint", "endpoints", "host", "type", "types", "name", "names", "file"),
        *(
            "files",
            "filename",
            "path",
            "paths",
            "dir",
            "len",
            "length",
            "size",
            "count",
            "id",
            "ids",
            "field",
        ),
        *("fields", "prompt", "help", "msg", "message", "text", "label", "desc", "description", "hint"),
        *("title", "error", "errors", "header", "headers", "param", "params", "env", "var", "vars", "policy"),
        *("regex", "re", "rx", "pattern", "format", "fmt", "expires", "expiry", "expiration", "exp", "ttl"),
        *("timeout", "version", "enabled", "enable", "required", "mode", "kind", "class", "cls", "method"),
        *("scheme", "prefix", "suffix", "validator", "validation", "min", "max", "store", "manager"),
        *("provider", "backend", "list", "dict", "set", "map", "callback", "func", "fn", "handler"),
        *("factory", "generator", "index", "idx", "column", "col", "attr", "attribute", "option", "options"),
        *("flag", "changed", "input", "widget", "form", "placeholder", "char", "chars", "limit", "rotation"),
        *("ref", "reference", "source", "location", "loc", "arn", "parameter", "lookup", "strength", "rules"),
        *("rule", "requirements", "age", "lifetime", "interval", "mgr", "info", "st", "t", "struct", "ptr"),
        *("pem", "crt", "cer", "der", "txt", "json", "yaml", "yml", "cfg", "ini", "conf", "py"),
        *("string", "keyword", "literal", "number", "operator", "punctuation", "comment", "generic"),
        *("iterator", "marker"),
    }
)
_NOT_SECRET_PARTS = frozenset({"public", "publishable", "pub"})
# A token named by what it pages, parses or de-duplicates is no credential: next_token, nextToken,
# input_token (botocore paginators), change_token, lexer_token.
_NOT_SECRET_TOKENS = frozenset(
    {
        *("next", "page", "pagination", "continuation", "cursor", "marker", "input", "output", "change"),
        *("idempotency", "request", "sync", "resume", "start", "end", "cancel", "lexer", "lex", "parser"),
        *("parse", "eof", "syntax", "split", "special", "stop", "pad", "unk", "bos", "eos", "mask", "sep"),
    }
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_KEY_SPLIT = re.compile(r"[^a-z0-9ñ]+")


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> str | None:
    """How a key names a secret: "pass" (a password: may contain spaces), "token", "auth", "other" or None.

    Cached: the same few keys recur across a project.
    """
    if "::" in key:
        return None  # a namespaced type (`AWS::AppSync::ApiKey`, `Token::String`), not a field
    name = _CAMEL_BOUNDARY.sub("_", key.strip("\"'`[]$@-")).lower()
    parts = [p for p in _KEY_SPLIT.split(name) if p]
    family: str | None = None
    last = -1
    for i, part in enumerate(parts):
        if part in _NOT_SECRET_PARTS:
            return None
        if part.endswith("token") and (part[:-5] or (parts[i - 1] if i else "")) in _NOT_SECRET_TOKENS:
            continue
        if part in _EXACT_STEMS or part.endswith(_STEM_SUFFIXES):
            last = i
            if part == "auth":
                family = "auth"
            elif part in ("pass", "pw") or part.endswith(_PASS_SUFFIXES):
                family = "pass"
            elif part.endswith("token"):
                family = "token"
            else:
                family = "other"
        elif part == "key" and i and parts[i - 1] in _KEY_QUALIFIERS:
            family, last = "other", i
    if family is None or any(p in _NOT_SECRET_AFTER for p in parts[last + 1 :]):
        return None
    if parts[last] in ("auth", "pass", "pw") and last != len(parts) - 1:
        return None  # auth_login_user, pass_zero: these short words name a credential only as the last word
    return family


_PLACEHOLDER_START = (
    "your",
    "<",
    "insert",
    "replace",
    "enter ",
    "put ",
    "example",
    "placeholder",
    "change-me",
)
# Words, not secrets: "password", "x-api-key", "Bearer", "HTTPPasswordMgr", "OPENAI_API_KEY".
_NAME_LIKE = re.compile(
    r"[a-z]+(?:[_\-.][a-z]+)+|[a-z]{1,15}|[A-Z][A-Za-z]*|[a-z]+(?:[A-Z][a-z]+)+|[A-Za-z]+(?:\.[A-Za-z]+)+"
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
)
_PATHLIKE = re.compile(
    r"(?:~|\.{1,2})?/(?:[\w.@-]+/)*[\w.@-]+/?|[A-Za-z]:\\.*|[\w.-]+\.(?:pem|key|json|ya?ml|txt|crt|p12|pfx"
    r"|env|cfg|ini|conf|toml|jks|keystore|gpg|asc)"
)
_CODE_LIKE = re.compile(r"[()\[\]{}]|^[!&*@]|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$|^-?\d+(?:\.\d+)?$")
_SNAKE_NAME = re.compile(r"[A-Za-z]*_[A-Za-z0-9_]*")
_CODE_WORDS = frozenset(
    {
        *("if", "else", "elif", "or", "and", "not", "in", "is", "for", "while", "lambda", "none", "true"),
        *("false", "await", "yield", "new", "typeof", "return", "function", "def", "const", "let", "var"),
        # numpy-style docstrings: `pass_zero : bool, optional`
        *(
            "bool",
            "bool,",
            "int",
            "int,",
            "str",
            "str,",
            "float",
            "float,",
            "optional",
            "list",
            "dict",
            "tuple",
        ),
        *("array", "array_like", "default", "object", "callable", "type", "or"),
    }
)
_PASSPHRASE_WORD = re.compile(r"[\w'!@#$%^&*.,-]*\w[\w'!@#$%^&*.,-]*")


def _random_looking(value: str) -> bool:
    """An unquoted value outside a config line is a secret only if it looks generated."""
    has_digit = any(c.isdigit() for c in value)
    if len(value) >= 8 and has_digit and any(c.isalpha() for c in value) and "_" not in value:
        return True
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), has_digit))
    return len(value) >= 20 and classes == 3


def _passphrase_ok(value: str) -> bool:
    """`correct horse battery staple` and `p@ss w0rd!` are passwords; `Enter it:`, `The one we use.` and
    `a or b` are not."""
    words = value.split()
    if not 2 <= len(words) <= 10 or value.rstrip()[-1] == ":":
        return False
    if value[0].isupper() and value.rstrip()[-1] in ".?!" and len(words) >= 3:
        return False  # a sentence
    low = value.lower()
    if any(w in _CODE_WORDS for w in low.split()) or _HINT.search(low):
        return False
    return all(_PASSPHRASE_WORD.fullmatch(w) for w in words)


def _value_ok(value: str, quoted: bool, config: bool, family: str) -> bool:
    """Whether the value assigned to a secret-ish key is a secret and not a name, a reference or code.

    `config` is a whole-line `key: value`/`KEY=value` (YAML, .env, INI), where unquoted values are
    literal; elsewhere an unquoted value is an expression unless it looks generated.
    """
    v = value.strip()
    low = v.lower()
    if len(v) < 4 or "[REDACTED" in v or "example" in low or v.endswith(("...", "…")):
        return False  # AKIAIOSFODNN7EXAMPLE, "eyJ2IjoiMSIs...": documentation, in every cloud SDK
    if family == "token" and _UUID.fullmatch(v):
        return False  # idempotency and client-request tokens (`--client-token 550e8400-...`)
    if len(set(v)) <= 2 or low.startswith("arn:") or _CSS_COLOR.fullmatch(v) or _HOST_PORT.fullmatch(v):
        return False  # "111111111111", an ARN (a name), a colour in a pygments style, "localhost:22"
    if low.startswith(_PLACEHOLDER_START) or _TEMPLATED.search(v):  # placeholder *words* are name-like
        return False
    if "://" in v or _PATHLIKE.fullmatch(v):
        return False
    if not quoted and _CODE_LIKE.search(v):
        return False
    if family == "auth":  # a bare "auth" key also holds "basic", "oauth2", "CRAM-MD5"
        return len(v) >= 16 and _random_looking(v)
    if any(c.isspace() for c in v):
        return family == "pass" and (quoted or config) and _passphrase_ok(v)
    if _NAME_LIKE.fullmatch(v.rstrip("?")):
        return False  # "password", "Bearer", "string?" (a type in a protocol spec)
    if quoted:
        return True
    if not config:
        return _random_looking(v)
    return not _SNAKE_NAME.fullmatch(v)  # `password = default_password` is code, even at a line start


def _quoted(val: str) -> bool:
    return len(val) >= 2 and val[0] in "\"'`" and val[-1] == val[0]


def _key_start(line: str, pos: int) -> int:
    """Where the key around a hint word at `pos` starts (its opening quote included).

    At most 128 characters back: keys are short, and a hint inside a megabyte of base64 must not cost
    a megabyte of scanning."""
    stop = max(0, pos - 128)
    while pos > stop and (line[pos - 1] in _KEY_CHARS or line.startswith("::", pos - 2)):
        pos -= 2 if line[pos - 1] == ":" else 1  # across `::` too: `AWS::SecretsManager::Secret`
    while line.startswith("-", pos):
        pos += 1  # `--password=`: the dashes are not the key
    if pos and line[pos - 1] in "\"'`":
        pos -= 1
    return pos


def _assigned_in_line(
    line: str, line_low: str, base: int, spans: list[_Span], vetoes: list[tuple[int, int]]
) -> None:
    """Values assigned to secret-ish keys in one line; rejected ones are vetoed for detect-secrets."""
    done = 0
    for hint in _HINT.finditer(line_low):
        start = _key_start(line, hint.start())
        if start < done:
            continue
        m = _ASSIGN.match(line, start)
        if m is None or m.start("key") > hint.start() or m.end("key") < hint.end():
            quote = max(line.rfind(q, max(done, hint.start() - 128), hint.start()) for q in "\"'`")
            m = _QUOTED_ASSIGN.match(line, quote) if quote >= 0 else None
            if m is None or m.end("key") < hint.end():
                continue
        done = m.end()
        family = _secret_key(m.group("key"))
        op, val = m.group("op"), m.group("val")
        vs, ve = m.start("val"), m.end("val")
        if family is None:  # public_api_key, password_reset_url: the keyword plugin must not flag it either
            vetoes.append((base + vs, base + ve))
            continue
        quoted = _quoted(val)
        if quoted and _LITERAL_IN_EXPRESSION.match(line, m.end("val")):
            vetoes.append((base + vs, base + ve))
            continue  # `" ...\n".join(parts)`, `"Bearer %s" % token`: an expression built on a literal
        if op == "," and not (m.group("kq") and quoted and _PAIR_KEY.fullmatch(m.group("key"))):
            continue  # only ("password", "value") pairs, not ["-c", "pass", "arg1"] or ('User:Pass', 'host')
        if op in ("==", "===", "!=", "!==") and not quoted:
            continue
        config = False
        if not quoted and op in (":", "=", ":=") and _CONFIG_PREFIX.fullmatch(line, 0, m.start()):
            rest = _TRAILING_COMMENT.sub("", line[vs:]).rstrip()
            if rest and rest[-1] not in ",;({[":
                config, val, ve = True, rest, vs + len(rest)
        if not config and not quoted and (cut := _UNQUOTED_END.search(val)):
            val, ve = val[: cut.start()], vs + cut.start()
        if quoted:
            val, vs, ve = val[1:-1], vs + 1, ve - 1
        if not val:
            continue
        if _value_ok(val, quoted, config, family):
            spans.append(_Span(base + vs, base + ve, "assigned-secret", _R_ASSIGNED))
        else:
            vetoes.append((base + vs, base + ve))
    if "--" in line:
        _assigned_other(_CLI_FLAG, line, base, False, spans)
    if "</" in line:
        _assigned_other(_XML_ELEMENT, line, base, True, spans)
    if "value" in line_low:
        _assigned_other(_XML_KEY_VALUE, line, base, True, spans)


def _assigned_other(rx: re.Pattern[str], line: str, base: int, quoted: bool, spans: list[_Span]) -> None:
    """`--password hunter2`, `<password>hunter2</password>`, `<add key="DbPassword" value="hunter2"/>`."""
    for m in rx.finditer(line):
        family = _secret_key(m.group("key"))
        vs, ve = m.span("val")
        if m.group("val")[:1] in "\"'":
            vs, ve = vs + 1, ve - 1
        if family and _value_ok(line[vs:ve], quoted, False, family):
            spans.append(_Span(base + vs, base + ve, "assigned-secret", _R_ASSIGNED))


_BLOCK_SCALAR = re.compile(
    r"(?m)^(?P<indent>[ \t]*)(?:-[ \t]+)?[\"']?(?P<key>[A-Za-z_][\w.\-]{0,127})[\"']?[ \t]*:"
    r"[ \t]*[|>][+-]?[0-9]?[ \t]*\r?\n(?P<val>(?:(?P=indent)[ \t]+\S[^\n]*(?:\n|$)|[ \t]*\r?\n)+)"
)


# `key: |`, `key:  >-`, `key:\t|`: any blanks between the colon and the block indicator.
_BLOCK_SCALAR_START = re.compile(r":[ \t]*[|>]")


def _block_scalars(text: str, spans: list[_Span]) -> None:
    """YAML `password: |` followed by an indented block: the whole block is the value."""
    for m in _BLOCK_SCALAR.finditer(text):
        if _secret_key(m.group("key")) is not None:
            start, end = _trimmed(text, m.start("val"), m.end("val"))
            if end - start >= 4 and not text.startswith("[REDACTED:", start):
                spans.append(_Span(start, end, "assigned-secret", _R_ASSIGNED))


def _hint_lines(text: str, low: str) -> list[tuple[int, int]]:
    """Lines mentioning a hint word: one `str.find` pass per word beats one alternation regex by 30%."""
    lines: set[tuple[int, int]] = set()
    for word in _HINT_WORDS:
        if word in low:
            lines.update(_lines_matching(text, low, word))
    return sorted(lines)


# --------------------------------------------------------------------------------------------
# detect-secrets, per line, only where a cheap trigger says a plugin could fire

_QUOTED_TOKEN = re.compile(r"[\"'][A-Za-z0-9+/=_\-]{16,}[\"']")
_HASH_CONTEXT = re.compile(
    r"sha\d|md5|hash|digest|checksum|integrity|fingerprint|etag|commit|revision|uuid|guid|nonce|base64,|data:"
    r"|expected|test_?vector|signature"
)
# Base64 that is not a key by its first bytes: public keys (PKCS#1 and SPKI RSA, EC, Ed25519, OpenSSH;
# X.509 certificates are `_CERTIFICATE`) and files inlined in code (PNG, JPEG, GIF, PDF, WebP, WOFF, zip,
# gzip, XML, SVG).
_FILE_MAGIC = (
    *("MIIBCgKCAQEA", "MIIBIjANBgkqhkiG9w0BAQEFAAOC", "MIIBojANBgkqhkiG9w0BAQEFAAOC", "MFkwEwYHKoZIzj0CAQY"),
    *("MIICIjANBgkqhkiG9w0BAQEFAAOC", "MHYwEAYHKoZIzj0CAQY", "MCowBQYDK2V", "AAAAB3NzaC1", "AAAAC3NzaC1"),
    "AAAAE2VjZHNh",
    "iVBORw0KGgo",
    "/9j/",
    "R0lGOD",
    "JVBERi0",
    "UklGR",
    "d09GR",
    "UEsDB",
    "H4sI",
    "PD94bWwg",
    "PHN2Zy",
)
_CERTIFICATE = re.compile(r"MII[A-Za-z0-9+/]{2}CCA")
_SECRET_CONTEXT = re.compile(r"key|secret|token|pass|pwd|auth|cred")
_MAX_DS_LINE = 10_000  # minified bundles: our own rules still run on them, the plugins would crawl

# Plugins we do not run: a public IP is not a secret, and private keys are `_key_blocks`' job (the
# plugin reports only the BEGIN line, which is not the secret).
_DS_SKIP = frozenset({"IPPublicDetector", "PrivateKeyDetector"})
_DS_KINDS = {
    "AWSKeyDetector": "aws-access-key",
    "AzureStorageKeyDetector": "azure-key",
    "BasicAuthDetector": "url-password",
    "GitHubTokenDetector": "github-token",
    "GitLabTokenDetector": "gitlab-token",
    "JwtTokenDetector": "jwt",
    "KeywordDetector": "assigned-secret",
    "NpmDetector": "npm-token",
    "OpenAIDetector": "api-key",
    "PypiTokenDetector": "pypi-token",
    "SendGridDetector": "sendgrid-key",
    "SlackDetector": "slack-token",
    "StripeDetector": "stripe-key",
    "TwilioKeyDetector": "twilio-key",
    "Base64HighEntropyString": "high-entropy-string",
    "HexHighEntropyString": "high-entropy-string",
}


class _Trigger(NamedTuple):
    """Selects the lines a detect-secrets plugin runs on: a literal (found with `str.find`), a regex, or
    None for the lines `_hint_lines` found; `low` searches the lowercased text."""

    needle: str | re.Pattern[str] | None
    low: bool = False


def _lits(*needles: str, low: bool = False) -> tuple[_Trigger, ...]:
    return tuple(_Trigger(n, low) for n in needles)


_ON_HINT_LINES = (_Trigger(None, True),)
_QUOTED_TOKEN_LINES = (_Trigger(_QUOTED_TOKEN),)
# Each plugin's trigger is a cheap superset of where its own patterns can match: the literal every one
# of its patterns contains, or a simpler regex. (triggers, regexes a selected line must also contain:
# the keyword plugin only reports quoted values, and only of 4+ characters can we accept)
_DS_DENYLIST = "<detect-secrets' keyword denylist>"  # filled in when the plugins load
_DS_TRIGGERS: dict[str, tuple[tuple[_Trigger, ...], tuple[str, ...]]] = {
    "ArtifactoryDetector": ((_Trigger(re.compile(r"A(?:KC|P[\dA-F])[a-zA-Z0-9]{8}")),), ()),
    "AWSKeyDetector": ((*_lits("A3T", "ABIA", "ACCA", "AKIA", "ASIA"), _Trigger("aws", True)), ()),
    "AzureStorageKeyDetector": (_lits("AccountKey="), ()),
    "BasicAuthDetector": (_lits("://"), ()),
    "CloudantDetector": ((*_ON_HINT_LINES, _Trigger("cloudant", True)), (r"[0-9a-f]{64}|[a-z]{24}",)),
    "DiscordBotTokenDetector": ((_Trigger(re.compile(r"\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}")),), ()),
    "GitHubTokenDetector": (_lits("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), ()),
    "GitLabTokenDetector": (
        _lits("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "GR1348941", "glcbt-", "glimt-", "glptt-")
        + _lits("glagent-", "gloas-"),
        (),
    ),
    "IbmCloudIamDetector": (_ON_HINT_LINES, (r"[a-zA-Z0-9_\-]{44}",)),
    "IbmCosHmacDetector": (_ON_HINT_LINES, (r"[a-f0-9]{48}",)),
    "JwtTokenDetector": (_lits("eyJ"), ()),
    "KeywordDetector": (_ON_HINT_LINES, (_DS_DENYLIST, r"[\"'`][^\"'`\n]{4}")),
    "MailchimpDetector": (_lits("-us"), ()),
    "NpmDetector": (_lits("_authToken"), ()),
    "OpenAIDetector": (_lits("T3BlbkFJ"), ()),
    "PypiTokenDetector": (_lits("pypi-"), ()),
    "SendGridDetector": (_lits("SG."), ()),
    "SlackDetector": (_lits("xox", "hooks.slack.com", low=True), ()),
    "SoftlayerDetector": ((*_ON_HINT_LINES, _Trigger("softlayer", True)), (r"[a-z0-9]{64}",)),
    "SquareOAuthDetector": (_lits("sq0csp-"), ()),
    "StripeDetector": (_lits("k_live_"), ()),
    "TelegramBotTokenDetector": ((_Trigger(re.compile(r":[0-9A-Za-z_-]{35}")),), ()),
    # Its own patterns: each has a literal prefix, so the regex engine skips ahead at C speed.
    "TwilioKeyDetector": (
        (
            _Trigger(re.compile(r"AC[a-z0-9]{32}", re.MULTILINE)),
            _Trigger(re.compile(r"SK[a-z0-9]{32}", re.MULTILINE)),
        ),
        (),
    ),
    "Base64HighEntropyString": (_QUOTED_TOKEN_LINES, ()),
    "HexHighEntropyString": (_QUOTED_TOKEN_LINES, ()),
}
# The plugins that run, in detect-secrets' own order (`get_mapping_from_secret_type_to_class()` less
# `_DS_SKIP`), each with its entry above. Written out, not read from detect-secrets, so that choosing the
# lines a plugin runs on needs no import of it (~0.5 s with `requests`): a text no trigger selects never
# loads it. tests/test_redact_triggers.py checks both tables against the installed plugins (a plugin
# added or renamed by a newer detect-secrets, a regex plugin whose patterns changed), so they cannot rot.
_DS_PLUGINS: tuple[str, ...] = (
    "ArtifactoryDetector",
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)


@dataclass(frozen=True)
class _DsPlugin:
    plugin: BasePlugin
    name: str
    kind: str
    mode: str  # "regex": a provider pattern; "keyword": a secret-ish name; "entropy": a random string
    triggers: tuple[_Trigger, ...]
    line_filters: tuple[re.Pattern[str], ...]  # all must occur in the (lowercased) line


@functools.cache
def _ds_plugins() -> tuple[_DsPlugin, ...]:
    """detect-secrets' plugins named in `_DS_PLUGINS`, in that order, with their triggers.

    Imported on first use: detect-secrets pulls in `requests`, which a process that never redacts
    anything a trigger selects should not pay for. Plugins are instantiated directly rather than
    through `default_settings()` and `scan_line`: those mutate process-wide settings on every call, and
    `scan_line` runs the high-entropy plugins in "eager" mode, which reports every word of a line.
    """
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.keyword import DENYLIST, KeywordDetector

    mapping: dict[str, Any] = get_mapping_from_secret_type_to_class()
    classes: dict[str, Any] = {c.__name__: c for c in mapping.values()}
    out = []
    for name in _DS_PLUGINS:
        plugin: Any = classes[name]()
        if isinstance(plugin, KeywordDetector):
            mode = "keyword"
        elif isinstance(plugin, HighEntropyStringsPlugin):
            mode = "entropy"
        else:
            mode = "regex"
        triggers, filters = _DS_TRIGGERS[name]
        line_filters = tuple(re.compile("|".join(DENYLIST) if f is _DS_DENYLIST else f) for f in filters)
        kind = _DS_KINDS.get(name) or re.sub(r"[^a-z0-9]+", "-", str(plugin.secret_type).lower()).strip("-")
        out.append(_DsPlugin(plugin, name, kind, mode, triggers, line_filters))
    return tuple(out)


@functools.cache
def _ds_filters() -> tuple[Callable[..., bool], ...]:
    """detect-secrets' own false-positive heuristics that need only the value."""
    from detect_secrets.filters import heuristic as h

    return (
        h.is_sequential_string,
        h.is_potential_uuid,
        h.is_templated_secret,
        h.is_prefixed_with_dollar_sign,
        h.is_not_alphanumeric_string,
    )


def _decodes_to_text(value: str) -> bool:
    """Base64 of readable text (`SGVsbG8gV29ybGQ=`) is encoded data, not a random key."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value else None)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 8:
        return False
    return sum(32 <= b < 127 or b in (9, 10, 13) for b in raw) >= 0.95 * len(raw)


def _alphabet_like(value: str) -> bool:
    """An alphabet or a keyboard row (`abcdefghij...`, `zyxw...`, `QWERTYUIOP...`), not a key.

    Half the characters follow their neighbour, or a single case: a random base64 run of 23+
    characters (all the entropy plugin can flag) is practically never single-case.
    """
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in zip(value, value[1:], strict=False))
    return steps >= len(value) // 2 or value.isupper() or value.islower()


def _ds_values(p: _DsPlugin, line: str, line_low: str) -> Iterator[str]:
    plugin: Any = p.plugin
    if p.mode != "entropy":
        yield from plugin.analyze_string(line)
        return
    if _HASH_CONTEXT.search(line_low):
        return
    hex_plugin = p.name == "HexHighEntropyString"
    if hex_plugin and not _SECRET_CONTEXT.search(line_low):
        return  # a hex string is a hash far more often than a key, unless the line says otherwise
    for value in plugin.analyze_string(line):
        if "=" in value.rstrip("="):
            continue  # `EndpointId=subnet-...`: base64 has `=` only as trailing padding
        if plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit:
            continue
        if hex_plugin or not (
            _alphabet_like(value)
            or _decodes_to_text(value)
            or value.startswith(_FILE_MAGIC)
            or _CERTIFICATE.match(value) is not None
            or _composed_name(value)
        ):
            yield value


@functools.cache
def _ds_trigger_index() -> tuple[tuple[_Trigger, tuple[int, ...]], ...]:
    """Every distinct trigger once, with the plugins (their index in `_DS_PLUGINS`, the same as in
    `_ds_plugins()`) it selects lines for. Built from the static tables: detect-secrets is not imported."""
    of = [_DS_TRIGGERS[name][0] for name in _DS_PLUGINS]
    triggers = dict.fromkeys(t for plugin_triggers in of for t in plugin_triggers)
    return tuple((t, tuple(i for i, ts in enumerate(of) if t in ts)) for t in triggers)


def _detect_secrets(
    text: str, low: str, hint_lines: list[tuple[int, int]], claimed: _Claims, spans: list[_Span]
) -> None:
    """Run each plugin on the lines its triggers select; most texts select none (a flat loop of `in`).

    A plugin's line filters are tested line by line when its lines are a small part of the text (the
    usual case: most filters start with a character class and scan slowly), else scanned once over the
    whole text and intersected (a config file where every line says "key").
    """
    selected: dict[int, set[tuple[int, int]]] = {}
    for (needle, on_low), users in _ds_trigger_index():
        src = low if on_low else text
        if needle is None:
            lines = hint_lines
        elif isinstance(needle, str) and needle not in src:
            continue
        else:
            lines = _lines_matching(text, src, needle)
        if lines:
            for i in users:
                selected.setdefault(i, set()).update(lines)
    if not selected:
        return
    from detect_secrets.filters.heuristic import is_indirect_reference, is_likely_id_string

    filters = _ds_filters()
    plugins = _ds_plugins()
    filtered: dict[re.Pattern[str], set[tuple[int, int]]] = {}
    for i, plugin_lines in selected.items():
        p = plugins[i]
        whole = p.line_filters and sum(e - s for s, e in plugin_lines) * 4 > len(text)
        for f in p.line_filters if whole else ():
            if f not in filtered:
                filtered[f] = set(_lines_matching(text, low, f))
            plugin_lines &= filtered[f]
        for start, end in plugin_lines:
            if end - start > _MAX_DS_LINE:
                continue
            line, line_low = text[start:end], low[start:end]
            if not whole and not all(f.search(line_low) for f in p.line_filters):
                continue
            for value in _ds_values(p, line, line_low):  # cheap checks first
                if not value or "[REDACTED" in value or "EXAMPLE" in value:
                    continue
                if p.name == "AzureStorageKeyDetector":
                    value = value.split("=", 1)[-1]  # the plugin reports `AccountKey=...`
                if p.mode == "regex":  # Artifactory's patterns include the delimiters around the token
                    value = value.strip(" \t\r\"'=:")
                    if not value:
                        continue
                at = line.find(value)
                if p.mode == "regex" and at > 0 and line[at - 1].isalnum():
                    continue  # mid-token: `ACCA...` inside a DNA string, digits of a longer number
                after = at + len(value)
                if p.name == "AWSKeyDetector" and after < len(line) and line[after].isalnum():
                    continue  # a key id is exactly 20 characters: `ACCAQFODXMPL4YFHP7DZE` is some other id
                places = _occurrences(line, start, value, p.mode == "regex")
                if p.mode != "regex":  # already redacted by our rules, or judged harmless by them
                    places = [(s, e) for s, e in places if not claimed.covers(s, e)]
                if p.mode == "entropy":  # `"ArchiveId": "kKB7ym..."`, `"version": "PNyF..."`
                    places = [(s, e) for s, e in places if not _named_as_non_secret(text, start, s)]
                if not places:
                    continue
                if p.mode == "keyword" and not _value_ok(value, True, False, "other"):
                    continue
                if any(f(value) for f in filters):
                    continue
                if p.mode != "regex" and (
                    is_indirect_reference(line) or is_likely_id_string(value, line, p.plugin)
                ):
                    continue
                kind = p.kind
                if p.name == "SlackDetector" and "hooks.slack.com" in value:
                    kind = "slack-webhook"
                elif p.name == "AWSKeyDetector" and not value.startswith(
                    ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")
                ):
                    kind = "aws-secret-key"
                rank = _R_TOKEN if p.mode == "regex" else _R_ASSIGNED if p.mode == "keyword" else _R_GENERIC
                spans.extend(_Span(s, e, kind, rank) for s, e in places)


_KEY_BEFORE = re.compile(r"([A-Za-z_][\w.\-]{0,127})(?:[\"'`]?\]?\s*[:=]|(?<=[\w-])\s)\s*[\"'`]?$")


def _named_as_non_secret(text: str, line_start: int, pos: int) -> bool:
    """The key the value at `pos` is assigned to names an id, a version, a name: not a secret."""
    m = _KEY_BEFORE.search(text, max(line_start, pos - 160), pos)
    if m is None:
        return False
    parts = _KEY_SPLIT.split(_CAMEL_BOUNDARY.sub("_", m.group(1)).lower())
    return parts[-1] in _NOT_SECRET_AFTER


_WORD = re.compile(r"[A-Z]?[a-z]{2,}|[A-Z]{2,}(?![a-z])")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")


def _composed_name(value: str) -> bool:
    """Words joined, not random bytes: `Infra-ECS-Cluster-d6bb6d5b-EC2CapacityProvider-3fIpdk`,
    `AWSQuickSetupManageJITNAResourcesExecutionPolicy`. (Random base64 passes this test <1% of the time.)
    """
    segments = [s for s in re.split(r"[-_]+", value) if s]
    if len(segments) >= 4 and sum(s.isalpha() and len(s) >= 3 for s in segments) >= 3:
        return True
    return sum(len(w) for w in _WORD.findall(value) if _VOWEL.search(w)) >= 0.75 * len(value)


def _occurrences(line: str, base: int, value: str, extend: bool) -> list[tuple[int, int]]:
    """Where a plugin's value sits in its line (absolute positions).

    With `extend`, over the rest of the token: a provider pattern may stop short of the token's end
    (Stripe's `{24}` of a 99-character key) and must not leave the tail in clear.
    """
    out = []
    i = line.find(value)
    while i >= 0:
        s, e = i, i + len(value)
        if extend:
            while e < len(line) and (line[e].isalnum() or line[e] in "_-+/="):
                e += 1
        out.append((base + s, base + e))
        i = line.find(value, i + len(value))
    return out


class _Claims:
    """Stretches of the text our own rules already decided: redacted, or judged not a secret (vetoed).

    detect-secrets' keyword and entropy plugins defer to them: they would only repeat a redaction, or
    undo a judgement made with more context (`PASSWORD_FIELD = "password"`, `public_api_key = ...`).
    """

    def __init__(self, spans: list[_Span], vetoes: list[tuple[int, int]]) -> None:
        self._items = sorted([(s.start, s.end) for s in spans] + vetoes)
        self._starts = [s for s, _ in self._items]

    def covers(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start)
        return any(self._items[j][1] >= end for j in range(max(0, i - 4), i))


# --------------------------------------------------------------------------------------------
# The entry point


def _lower(text: str) -> str:
    """The text lowercased with positions unchanged (`str.lower` grows a few characters, like 'İ')."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(lc if len(lc := c.lower()) == 1 else c for c in text)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Replace secret values with `[REDACTED:<kind>]`; returns the text and the count per kind.

    Idempotent (a marker is never redacted again) and safe on any text, code or prose.
    """
    if not text:
        return text, {}
    low = _lower(text)
    spans: list[_Span] = []
    if "PRIVATE KEY" in text or "SECRET KEY" in text:
        _key_blocks(text, spans)
    if "Private-Lines:" in text or "Private-MAC:" in text:  # with or without the file's header line
        _putty(text, spans)
    _key_blobs(text, spans)
    _tokens(text, spans)
    _shapes(text, low, spans)
    hint_lines = _hint_lines(text, low)
    if hint_lines and _BLOCK_SCALAR_START.search(text):
        _block_scalars(text, spans)
    vetoes: list[tuple[int, int]] = []
    for start, end in hint_lines:
        _assigned_in_line(text[start:end], low[start:end], start, spans, vetoes)
    _detect_secrets(text, low, hint_lines, _Claims(spans, vetoes), spans)
    if not spans:
        return text, {}
    return _apply(text, spans)
