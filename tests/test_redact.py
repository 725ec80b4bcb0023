"""Table-driven tests for `redact`: one row per secret shape, one per harmless look-alike.

Secrets are assembled from fragments and seeded random characters, so this file holds no literal
credential for a scanner (or a push protection) to trip on, and every run sees the same values.
Each row names the layer expected to catch it (`kind`); a row exists because removing that layer
makes it fail.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass, field

import pytest

from factorops.tools.kernel import redact as R
from factorops.tools.kernel.redact import is_secret_content, is_secret_path, redact

B62 = string.ascii_letters + string.digits
B64 = B62 + "+/"
HEX = "0123456789abcdef"
LOWER_DIGITS = string.ascii_lowercase + string.digits


def rnd(n: int, alphabet: str = B62, seed: int = 0) -> str:
    """A fixed pseudo-random string with at least one digit, one lower and one upper letter when possible."""
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        wanted = [set(string.digits), set(string.ascii_lowercase), set(string.ascii_uppercase)]
        if all(set(s) & w for w in wanted if set(alphabet) & w):
            return s


def pem_body(seed: int, lines: int = 6, first: str = "") -> str:
    body = first + rnd(64 * lines - len(first), B64, seed)
    return "\n".join(body[i : i + 64] for i in range(0, len(body), 64))


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


BEGIN, END = "-----BEGIN ", "-----END "
RSA_BODY = pem_body(1, first="MIIEpAIBAAKCAQEA")
EC_BODY = pem_body(2, lines=3, first="MHcCAQEEI")
OPENSSH_BODY = pem_body(3, lines=5, first="b3BlbnNzaC1rZXktdjEAAAAABG5vbmU")
PGP_BODY = pem_body(4, lines=8, first="lQOYBGZ")
PKCS8_BODY = pem_body(5, first="MIIEvgIBADANBgkqhkiG9w0BAQEFAASC")


def pem(label: str, body: str, end: bool = True) -> str:
    tail = f"\n{END}{label}-----\n" if end else "\n"
    return f"{BEGIN}{label}-----\n{body}{tail}"


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    secrets: tuple[str, ...]  # must all be gone from the output
    kind: str  # `[REDACTED:<kind>]` must be in the output
    keep: tuple[str, ...] = field(default=())  # structure that must survive (key names, hosts)


GHP = "gh" + "p_" + rnd(36, seed=10)
AWS_ID = "AK" + "IA" + rnd(16, string.ascii_uppercase + string.digits, seed=11)
AWS_SECRET = rnd(40, B64, seed=12)
STRIPE = "sk" + "_live_" + rnd(24, seed=13)
GLPAT = "gl" + "pat-" + rnd(20, seed=14)
SENDGRID = "S" + "G." + rnd(22, seed=15) + "." + rnd(43, seed=16)
JWT = "ey" + "J" + rnd(20, seed=17) + ".ey" + "J" + rnd(40, seed=18) + "." + rnd(43, seed=19)
AZURE_KEY = rnd(86, B64, seed=20) + "=="

SECRETS: list[Row] = [
    # --- what the review saw leak ---------------------------------------------------------------
    Row(
        "json-password",
        '{"user": "bob", "password": "Tr0ub4dor&3-x"}',
        ("Tr0ub4dor&3-x",),
        "assigned-secret",
        ('"password": "[REDACTED:assigned-secret]"',),
    ),
    Row("stripe-live-in-prose", f"charge it with {STRIPE} today", (STRIPE,), "stripe-key"),
    Row(
        "stripe-test",
        "key: " + "sk" + "_test_" + rnd(30, seed=21),
        ("sk_test_" + rnd(30, seed=21),),
        "stripe-key",
    ),
    Row(
        "postgres-url",
        "DATABASE_URL=postgres://app:" + "pw" + "9Xq@db.internal:5432/app",
        ("pw9Xq",),
        "url-password",
        ("postgres://app:[REDACTED:url-password]@db.internal:5432/app",),
    ),
    Row(
        "https-userinfo",
        "git clone https://bob:" + "hunter" + "2@git.example.com/org/repo.git",
        ("hunter2",),
        "url-password",
        ("https://bob:[REDACTED:url-password]@git.example.com",),
    ),
    Row(
        "pgp-private-block",
        pem("PGP PRIVATE KEY BLOCK", "Version: GnuPG v2\n\n" + PGP_BODY + "\n=a1B2"),
        (PGP_BODY.splitlines()[3], "=a1B2"),
        "private-key",
        ("BEGIN PGP PRIVATE KEY BLOCK",),
    ),
    Row(
        "pem-without-end",
        "key.pem:\n" + pem("RSA PRIVATE KEY", RSA_BODY, end=False),
        tuple(RSA_BODY.splitlines()),
        "private-key",
    ),
    Row(
        "pem-python-bytes-no-end",
        'KEY = (\n    b"'
        + BEGIN
        + 'RSA PRIVATE KEY-----\\n"\n'
        + "".join(f'    b"{ln}\\n"\n' for ln in RSA_BODY.splitlines())
        + ")\nload(KEY)\n",
        tuple(RSA_BODY.splitlines()),
        "private-key",
        ("load(KEY)",),
    ),
    Row(
        "pem-stray-line-inside",
        pem("RSA PRIVATE KEY", RSA_BODY.replace("\n", "\n# wrapped by hand\n", 1), end=False),
        tuple(RSA_BODY.splitlines()),
        "private-key",
    ),
    Row(
        "pem-truncated-mid-line",
        pem("PRIVATE KEY", PKCS8_BODY, end=False)[:-30],
        (PKCS8_BODY.splitlines()[2],),
        "private-key",
    ),
    Row("gitlab-pat", f"GITLAB_TOKEN {GLPAT}", (GLPAT,), "gitlab-token", ("GITLAB_TOKEN",)),
    Row("sendgrid", f"mail via {SENDGRID}", (SENDGRID,), "sendgrid-key"),
    Row(
        "passphrase-with-spaces",
        'PASSPHRASE="correct horse battery staple"',
        ("correct horse battery staple",),
        "assigned-secret",
        ('PASSPHRASE="',),
    ),
    Row(
        "kubeconfig-client-key-data",
        "users:\n- name: admin\n  user:\n    client-key-data: " + rnd(120, B64, 22),
        (rnd(120, B64, 22),),
        "kube-credential",
        ("client-key-data: [REDACTED:kube-credential]",),
    ),
    Row(
        "kubeconfig-client-certificate-data",
        "    client-certificate-data: " + rnd(90, B64, 23),
        (rnd(90, B64, 23),),
        "kube-credential",
    ),
    Row(
        "azure-account-key",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey="
        + AZURE_KEY[:60]
        + ";EndpointSuffix=core.windows.net",
        (AZURE_KEY[:60],),
        "azure-key",
        ("EndpointSuffix=",),
    ),
    Row(
        "azure-shared-access-signature",
        "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature="
        + "sv=2022-11-02&ss=b&sig="
        + rnd(20, seed=24),
        (rnd(20, seed=24),),
        "azure-key",
    ),
    Row(
        "azure-service-bus-key",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
        "SharedAccessKey=" + rnd(43, B64, 25) + "=",
        (rnd(43, B64, 25),),
        "azure-key",
    ),
    Row(
        "azure-sas-url",
        "https://a.blob.core.windows.net/c/f?sv=2022&sp=r&sig=" + rnd(30, B64, 26) + "%3D",
        (rnd(30, B64, 26),),
        "azure-key",
    ),
    # --- what today's module covered ------------------------------------------------------------
    Row("aws-access-key-id", f"aws_access_key_id = {AWS_ID}", (AWS_ID,), "aws-access-key"),
    Row(
        "aws-secret-key-env",
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
        (AWS_SECRET,),
        "assigned-secret",
        ("export AWS_SECRET_ACCESS_KEY=",),
    ),
    Row("aws-secret-key-code", f'aws_key = "{AWS_SECRET}"', (AWS_SECRET,), "aws-secret-key"),
    Row("github-ghp", f'API_TOKEN = "{GHP}"', (GHP,), "github-token", ('API_TOKEN = "',)),
    Row(
        "github-gho", "token " + "gh" + "o_" + rnd(36, seed=27), ("gho_" + rnd(36, seed=27),), "github-token"
    ),
    Row(
        "github-pat",
        "github" + "_pat_" + rnd(22, seed=28) + "_" + rnd(59, seed=29),
        (rnd(59, seed=29),),
        "github-token",
    ),
    Row(
        "slack-bot",
        "SLACK=" + "xo" + "xb-" + "1234567890-" + rnd(24, seed=30),
        (rnd(24, seed=30),),
        "slack-token",
    ),
    Row(
        "slack-webhook",
        "https://hooks.slack.com/services/T0"
        + rnd(8, seed=31)
        + "/B0"
        + rnd(8, seed=32)
        + "/"
        + rnd(24, seed=33),
        (rnd(24, seed=33),),
        "slack-webhook",
    ),
    Row(
        "google-api-key",
        "maps key " + "AI" + "za" + rnd(35, seed=34),
        ("AIza" + rnd(35, seed=34),),
        "google-api-key",
    ),
    Row("jwt", f"Cookie: session={JWT}", (JWT,), "jwt"),
    Row(
        "pem-rsa",
        "const key = `" + pem("RSA PRIVATE KEY", RSA_BODY) + "`",
        tuple(RSA_BODY.splitlines()),
        "private-key",
        ("BEGIN RSA PRIVATE KEY", "END RSA PRIVATE KEY"),
    ),
    Row("pem-ec", pem("EC PRIVATE KEY", EC_BODY), tuple(EC_BODY.splitlines()), "private-key"),
    Row(
        "pem-openssh",
        pem("OPENSSH PRIVATE KEY", OPENSSH_BODY),
        tuple(OPENSSH_BODY.splitlines()),
        "private-key",
    ),
    Row(
        "pem-encrypted-pkcs8",
        pem("ENCRYPTED PRIVATE KEY", PKCS8_BODY),
        (PKCS8_BODY.splitlines()[1],),
        "private-key",
    ),
    Row(
        "pem-in-json-one-line",
        '{"private_key": "' + pem("PRIVATE KEY", PKCS8_BODY).replace("\n", "\\n") + '"}',
        (PKCS8_BODY.splitlines()[4],),
        "private-key",
        ('"private_key": "',),
    ),
    Row("assigned-password", 'password = "hunter2!x"', ("hunter2!x",), "assigned-secret"),
    Row("assigned-secret", "secret=" + rnd(24, seed=35), (rnd(24, seed=35),), "assigned-secret"),
    Row("assigned-token", "token: " + rnd(32, seed=36), (rnd(32, seed=36),), "assigned-secret", ("token: ",)),
    Row("assigned-api-key", "api_key='" + rnd(32, seed=37) + "'", (rnd(32, seed=37),), "assigned-secret"),
    Row("api-key-sk-ant", "sk-" + "ant-api03-" + rnd(40, seed=38), (rnd(40, seed=38),), "api-key"),
    Row(
        "factorops-token",
        "use the token " + "fo" + "ps_" + rnd(43, seed=39) + " here",
        (rnd(43, seed=39),),
        "factorops-token",
    ),
    # --- assignment syntaxes --------------------------------------------------------------------
    Row(
        "yaml",
        "database:\n  password: " + "S3cure!" + "pass\n",
        ("S3cure!pass",),
        "assigned-secret",
        ("password: [REDACTED:assigned-secret]",),
    ),
    Row(  # blanks other than one space before the indicator (mutation #146)
        "yaml-block-scalar-spaced",
        "db:\n  password:\t |-\n    " + rnd(20, seed=82) + "\n  host: db\n",
        (rnd(20, seed=82),),
        "assigned-secret",
        ("  host: db",),
    ),
    Row(
        "yaml-block-scalar",
        "db:\n  password: |\n    " + rnd(20, seed=80) + "\n    " + rnd(20, seed=81) + "\n  host: db\n",
        (rnd(20, seed=80), rnd(20, seed=81)),
        "assigned-secret",
        ("  host: db",),
    ),
    Row(
        "yaml-passphrase-unquoted",
        "passphrase: correct horse battery staple",
        ("correct horse",),
        "assigned-secret",
    ),
    Row("toml", '[db]\npassword = "' + rnd(16, seed=40) + '"', (rnd(16, seed=40),), "assigned-secret"),
    Row("dotenv", "DB_PASSWORD=" + "pg" + "pass42\nDEBUG=1", ("pgpass42",), "assigned-secret", ("DEBUG=1",)),
    Row(
        "dotenv-comment",
        "DB_PASSWORD=" + "pg" + "pass42 # rotate monthly",
        ("pgpass42",),
        "assigned-secret",
        ("# rotate monthly",),
    ),
    Row(
        "shell-export-quoted",
        "export API_TOKEN='" + rnd(30, seed=41) + "'",
        (rnd(30, seed=41),),
        "assigned-secret",
    ),
    Row(
        "python-kwargs",
        'db.connect(host="h", password="' + "Sup3r" + 's3cret")',
        ("Sup3rs3cret",),
        "assigned-secret",
        ('host="h"',),
    ),
    Row(
        "python-annotated",
        'api_key: str = "' + rnd(24, seed=42) + '"',
        (rnd(24, seed=42),),
        "assigned-secret",
    ),
    Row(
        "python-pair",
        'os.environ.setdefault("OPENAI_API_KEY", "' + rnd(30, seed=43) + '")',
        (rnd(30, seed=43),),
        "assigned-secret",
    ),
    Row(
        "js-object",
        "const cfg = { clientSecret: '" + rnd(28, seed=44) + "', region: 'eu' }",
        (rnd(28, seed=44),),
        "assigned-secret",
        ("region: 'eu'",),
    ),
    Row("php-array", "'db_password' => '" + "Pa55" + "word!2'", ("Pa55word!2",), "assigned-secret"),
    Row("go-struct", 'cfg := Config{Password: "' + "g0" + 'pherPw!"}', ("g0pherPw!",), "assigned-secret"),
    Row(
        "header-subscript",
        'headers["X-Api-Key"] = "' + rnd(32, seed=45) + '"',
        (rnd(32, seed=45),),
        "assigned-secret",
    ),
    Row(
        "python-encoded-literal",
        'SECRET_KEY = "' + rnd(40, seed=82) + '".encode()',
        (rnd(40, seed=82),),
        "assigned-secret",
    ),
    Row("sql", "CREATE USER app WITH PASSWORD '" + "s3cr3t" + "Pw';", ("s3cr3tPw",), "assigned-secret"),
    Row(
        "cli-flag", "mysql --password " + rnd(14, seed=46) + " -h db", (rnd(14, seed=46),), "assigned-secret"
    ),
    Row("xml-element", "<password>" + "Xml" + "Passw0rd</password>", ("XmlPassw0rd",), "assigned-secret"),
    Row(
        "dotnet-appsettings",
        '<add key="DbPassword" value="' + "N3t" + 'Pass!" />',
        ("N3tPass!",),
        "assigned-secret",
    ),
    Row(
        "docker-auth",
        '{"auths": {"ghcr.io": {"auth": "' + b64("bob:" + rnd(20, seed=47)) + '"}}}',
        (b64("bob:" + rnd(20, seed=47)),),
        "assigned-secret",
    ),
    Row(
        "netrc",
        "machine api.example.com login bob password " + rnd(16, seed=48),
        (rnd(16, seed=48),),
        "assigned-secret",
    ),
    Row(
        "kube-user-token",
        "users:\n- name: ci\n  user:\n    token: " + rnd(40, seed=49),
        (rnd(40, seed=49),),
        "assigned-secret",
    ),
    Row(
        "k8s-secret-base64",
        "data:\n  db-password: " + b64("hunter2" + rnd(6, seed=50)),
        (b64("hunter2" + rnd(6, seed=50)),),
        "assigned-secret",
    ),
    Row(
        "requests-auth-tuple",
        'requests.get(url, auth=("bob", "' + "Hunt3r" + '-2024"))',
        ("Hunt3r-2024",),
        "assigned-secret",
        ('auth=("bob", "',),
    ),
    Row(
        "curl-user",
        "curl -u bob:" + "Hunt3r" + "2024 https://api.example.com",
        ("Hunt3r2024",),
        "assigned-secret",
    ),
    # The API key as curl's user name, no password: redacted as the key, and the marker is then not
    # mistaken for a user name (a second pass turned it into `[REDACTED:[REDACTED:assigned-secret]`).
    Row("curl-key-as-user", f"curl -u {STRIPE}: https://api.stripe.com/v1/charges", (STRIPE,), "stripe-key"),
    Row("passphrase-with-symbols", "PASSWORD='p@ss " + "w0rd!'", ("p@ss w0rd!",), "assigned-secret"),
    # --- headers --------------------------------------------------------------------------------
    Row(
        "authorization-bearer",
        "curl -H 'Authorization: Bearer abcdefghijklmnop1234' https://api",
        ("abcdefghijklmnop1234",),
        "bearer-token",
        ("Authorization: Bearer ",),
    ),
    Row(
        "authorization-basic",
        '"Authorization": "Basic ' + b64("bob:" + rnd(12, seed=51)) + '"',
        (b64("bob:" + rnd(12, seed=51)),),
        "bearer-token",
    ),
    Row(
        "bearer-in-log",
        "sent bearer " + rnd(40, B62 + "._-", 52) + " to upstream",
        (rnd(40, B62 + "._-", 52),),
        "bearer-token",
    ),
    # --- private key material outside PEM armour ------------------------------------------------
    Row(
        "der-blob-pkcs8",
        "KEY_DER = '" + PKCS8_BODY.replace("\n", "") + "'",
        (PKCS8_BODY.replace("\n", ""),),
        "private-key",
    ),
    Row(
        "der-blob-pkcs1-wrapped",
        "key = (\n    '" + RSA_BODY.replace("\n", "'\n    '") + "'\n)",
        tuple(RSA_BODY.splitlines()),
        "private-key",
    ),
    Row(
        "pem-base64-again",
        "  tls.key: " + b64(pem("RSA PRIVATE KEY", RSA_BODY)),
        (b64(pem("RSA PRIVATE KEY", RSA_BODY))[:40],),
        "private-key",
    ),
    Row(  # the private section pasted alone, without the file's header line (mutation #138)
        "putty-private-section-alone",
        "Private-Lines: 2\n" + rnd(64, B64, 57) + "\n" + rnd(40, B64, 58) + "\n",
        (rnd(64, B64, 57), rnd(40, B64, 58)),
        "private-key",
    ),
    Row(  # the file's last line pasted alone: its MAC, which the rule takes as key material (mutation #140)
        "putty-mac-alone",
        "Private-MAC: " + rnd(64, HEX, 59) + "\n",
        (rnd(64, HEX, 59),),
        "private-key",
    ),
    Row(
        "putty-ppk",
        "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPublic-Lines: 1\n"
        + rnd(60, B64, 53)
        + "\nPrivate-Lines: 2\n"
        + rnd(64, B64, 54)
        + "\n"
        + rnd(40, B64, 55)
        + "\nPrivate-MAC: "
        + rnd(40, HEX, 56),
        (rnd(64, B64, 54), rnd(40, B64, 55), rnd(40, HEX, 56)),
        "private-key",
    ),
    # --- more providers -------------------------------------------------------------------------
    Row("stripe-webhook", "whsec" + "_" + rnd(32, seed=57), (rnd(32, seed=57),), "stripe-key"),
    Row(
        "npm-token",
        "//registry.npmjs.org/:_authToken=" + "np" + "m_" + rnd(36, seed=58),
        (rnd(36, seed=58),),
        "npm-token",
    ),
    Row("huggingface", "HF " + "h" + "f_" + rnd(34, seed=59), (rnd(34, seed=59),), "huggingface-token"),
    Row("twilio", "twilio " + "S" + "K" + rnd(32, HEX, 60), (rnd(32, HEX, 60),), "twilio-key"),
    Row("google-oauth-secret", "GOC" + "SPX-" + rnd(28, seed=61), (rnd(28, seed=61),), "google-oauth-secret"),
    Row(
        "htpasswd-hash",
        "bob:" + "$apr1$" + rnd(8, seed=62) + "$" + rnd(22, seed=63),
        (rnd(22, seed=63),),
        "password-hash",
    ),
    Row("pypi-token", "password = pypi-" + "AgE" + rnd(70, seed=70), (rnd(70, seed=70),), "pypi-token"),
    Row("digitalocean", "do" + "p_v1_" + rnd(64, HEX, 71), (rnd(64, HEX, 71),), "digitalocean-token"),
    Row("shopify", "shp" + "at_" + rnd(32, HEX, 72), (rnd(32, HEX, 72),), "shopify-token"),
    Row(
        "age-secret-key",
        "AGE-SECRET" + "-KEY-1" + rnd(58, string.ascii_uppercase + string.digits, 73),
        (rnd(58, string.ascii_uppercase + string.digits, 73),),
        "age-secret-key",
    ),
    Row(
        "authorization-raw-value",
        'headers = {"Authorization": "' + rnd(32, seed=74) + '"}',
        (rnd(32, seed=74),),
        "bearer-token",
    ),
    # --- detect-secrets plugins (nothing of ours covers these) ----------------------------------
    Row(
        "ds-discord",
        "DISCORD=" + "M" + rnd(23, seed=75) + "." + rnd(6, seed=76) + "." + rnd(27, seed=77),
        (rnd(23, seed=75),),
        "discord-bot-token",
    ),
    Row(
        "ds-ibm-cloud-iam",
        'ibm_cloud_iam_key = "' + rnd(44, seed=78) + '"',
        (rnd(44, seed=78),),
        "ibm-cloud-iam-key",
    ),
    Row(
        "ds-artifactory",
        "artifactory AKC" + "p8" + rnd(69, seed=79) + " ok",
        (rnd(69, seed=79),),
        "artifactory-credentials",
    ),
    Row("ds-telegram", "bot " + "123456789:" + rnd(35, seed=64), (rnd(35, seed=64),), "telegram-bot-token"),
    Row(
        "ds-mailchimp",
        "mc " + rnd(32, LOWER_DIGITS, 65) + "-us12",
        (rnd(32, LOWER_DIGITS, 65),),
        "mailchimp-access-key",
    ),
    Row("ds-square", "sq0" + "csp-" + rnd(43, seed=66), (rnd(43, seed=66),), "square-oauth-secret"),
    Row(
        "ds-high-entropy-base64",
        'blob = "' + rnd(40, B64, 67) + '"',
        (rnd(40, B64, 67),),
        "high-entropy-string",
    ),
    Row(
        "ds-hex-with-key-context",
        'KEYS = ("' + rnd(48, HEX, 68) + '",)',
        (rnd(48, HEX, 68),),
        "high-entropy-string",
    ),
    Row(
        "ds-keyword-comparison",
        'if "' + rnd(14, seed=69) + '" == db_pass:',
        (rnd(14, seed=69),),
        "assigned-secret",
    ),
]


@pytest.mark.parametrize("row", SECRETS, ids=[r.id for r in SECRETS])
def test_secret_is_redacted(row: Row) -> None:
    out, counts = redact(row.text)
    for secret in row.secrets:
        assert secret not in out, (row.id, out)
    assert f"[REDACTED:{row.kind}]" in out, (row.id, out)
    assert counts.get(row.kind, 0) >= 1
    for kept in row.keep:
        assert kept in out, (row.id, out)
    assert redact(out) == (out, {}), (row.id, "a second pass changed the redacted text")


@dataclass(frozen=True)
class Harmless:
    id: str
    text: str
    guard: str  # what keeps it from being redacted


HARMLESS: list[Harmless] = [
    Harmless("getpass", "password = getpass()", "code-like value"),
    Harmless(
        "header-lookup", 'token = request.headers["X-Token"]', "code-like value / ds indirect reference"
    ),
    Harmless("field-name-constant", 'PASSWORD_FIELD = "password"', "key suffix + name-like value"),
    Harmless("name-like-value", 'auth_header_key = "x-api-key"', "name-like value"),
    Harmless("empty-and-prose", 'password = ""\n# the password field is optional\n', "empty value"),
    Harmless("annotation-no-default", "def login(user: str, password: str) -> None:", "type is not a value"),
    Harmless("kwarg-passthrough", "connect(host=host, password=password, token=self.token)", "identifiers"),
    Harmless("env-reference", 'api_key = os.environ["OPENAI_API_KEY"]', "code-like value"),
    Harmless("env-var-name", 'API_KEY_VAR = "OPENAI_API_KEY"', "env-var name value"),
    Harmless("env-var-name-json", '{"apiKey": "OPENAI_API_KEY"}', "env-var name value"),
    Harmless(
        "actions-template", "      token: ${{ secrets.GITHUB_TOKEN }}\n    secrets: inherit", "templated"
    ),
    Harmless("jinja-template", 'password: "{{ vault_db_password }}"', "templated"),
    Harmless(
        "format-string", 'auth = "Bearer {}".format(token)\ncredentials = "{0}:{1}".format(u, p)', "format"
    ),
    Harmless(
        "placeholder", "PASSWORD=changeme\napi_key: <your-api-key>\nsecret = '********'", "placeholders"
    ),
    Harmless(
        "token-type", 'token_type = "Bearer"\nmax_tokens = 4096\ntokenizer = "cl100k_base"', "key words"
    ),
    Harmless("docstring", "    password: The password used to log in.\n    token: str, optional", "prose"),
    Harmless(
        "prose", "Use a Bearer token in the Authorization header; the password must be 12 chars.", "prose"
    ),
    Harmless(
        "auth-header-lookup", 'authorization = self.headers.get("authorization")', "possessive header rx"
    ),
    Harmless(
        "bearer-placeholder", "Authorization: Bearer <token>\nAuthorization: Bearer $TOKEN", "templated"
    ),
    Harmless("lockfile-integrity", '"integrity": "sha512-' + rnd(86, B64, 90) + '=="', "hash context"),
    Harmless(
        "lockfile-sha256",
        'sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
        "hex needs a secret context",
    ),
    Harmless(
        "git-sha-prose", "Fixed in 3f786850e387550fdab836ed7e6dc881de23001b, see the changelog.", "unquoted"
    ),
    Harmless(
        "uuid",
        '{"id": "123e4567-e89b-12d3-a456-426614174000", "token_id": "9b2f7e1a-0c4d-4e8f-a1b2-c3d4e5f6a7b8"}',
        "uuid / key suffix",
    ),
    Harmless(
        "png-base64",
        '"icon": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E'
        'rkJggg=="',
        "file magic",
    ),
    Harmless(
        "data-uri",
        '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk">',
        "not one token",
    ),
    Harmless(
        "base64-of-text",
        'greeting = "' + b64("Hello world, from the factorops test-suite") + '"',
        "decodes to text",
    ),
    Harmless(
        "alphabet",
        'B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"\nDIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"',
        "alphabet-like",
    ),
    Harmless(
        "pem-header-in-code",
        'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    kind = "rsa"',
        "no key material",
    ),
    Harmless(
        "pem-markers-as-constants",
        'BEGIN = "-----BEGIN PRIVATE KEY-----"\nEND = "-----END PRIVATE KEY-----"',
        "no key material between",
    ),
    Harmless(
        "public-key-and-cert",
        pem("PUBLIC KEY", pem_body(91, first="MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKC"))
        + pem("CERTIFICATE", pem_body(92, first="MIIDXTCCAkWgAwIBAgIJAKZ")),
        "not a private key",
    ),
    Harmless(
        "ssh-public-key",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8xkYQ7V3n0mZt5yR2cW9pLsK4dJfH1bE6uT8aN3oP bob@laptop",
        "public key",
    ),
    Harmless(
        "urls-without-password",
        "https://bob@github.com/org/repo\npostgres://localhost:5432/db\nhttp://[::1]:8080/",
        "no password",
    ),
    Harmless("url-password-from-env", "postgres://app:${DB_PASSWORD}@db:5432/app", "templated"),
    Harmless("stripe-publishable", "pk_live_" + rnd(24, seed=93), "publishable key is public"),
    Harmless("cli-pass-in-list", "run(['python', '-c', 'pass', 'arg1', '-v'])", "pair needs a real key"),
    Harmless(
        "imap-capability", "capabilities = 'LOGINDISABLED AUTH=CRAM-MD5'", "auth needs 16+ random chars"
    ),
    Harmless("filename-value", 'private_key = "deploy_key.pem"\nkeyfile = "~/.ssh/id_ed25519"', "path value"),
    Harmless(
        "camel-identifier", "__all__ = ['HTTPPasswordMgr', 'HTTPPasswordMgrWithDefaultRealm']", "name-like"
    ),
    Harmless("snake-identifier", "PKCS8_PRIV_KEY_INFO = pkcs8_priv_key_info_st", "key suffix (info)"),
    Harmless("snake-identifier-value", "db_password = password_v2", "snake identifier"),
    Harmless("identifiers-with-digits", "client.login(token=tok_1, password=pw_2)", "not random-looking"),
    Harmless(
        "bearer-placeholder-word", "Authorization: Bearer ReplaceWithYourToken", "token-like header value"
    ),
    Harmless("placeholder-start", "GITHUB_TOKEN=yourToken123", "placeholder start"),
    Harmless("path-value", 'private_key = "./certs/server2.pem"', "path value"),
    Harmless(
        "public-api-key", 'public_api_key = "pk_' + rnd(24, seed=94) + '"', "public part vetoes the key"
    ),
    Harmless("png-base64-random", '"icon": "iVBORw0KGgo' + rnd(80, B64, 95) + '"', "file magic"),
    Harmless("id-string", '{"request_id": "' + rnd(40, B64, 96) + '"}', "detect-secrets is_likely_id_string"),
    # --- look-alikes found in site-packages (botocore, awscli examples, cfn-lint, pygments, numpy) ---
    Harmless(
        "pagination-token", '"input_token": "nextToken",\n"output_token": "NextMarker"', "token qualifiers"
    ),
    Harmless("namespaced-key", '"AWS::SecretsManager::Secret": "c85175a4ebcce361",', "`::` keys are types"),
    Harmless("pygments-colour", "    Token: '#dcdccc',", "colour value"),
    Harmless("arn-value", '"encryptionKey": "arn:aws:kms:us-west-2:123456789012:alias/aws/s3",', "ARN value"),
    Harmless("numpy-docstring", "    pass_zero : bool, optional", "short stems only as the last word"),
    Harmless("iterator-key", '"ShardIterator": "' + rnd(60, B64, 97) + '"', "key names a non-secret"),
    Harmless("id-key", '"ArchiveId": "' + rnd(60, B64, 98) + '"', "key names an id"),
    Harmless("composed-name", '"AWSQuickSetupManageJITNAResourcesExecutionPolicy": "x"', "words, not random"),
    Harmless("aws-docs-example", '"AccessKeyId": "AKIAIOSFODNN7EXAMPLE",', "EXAMPLE"),
    Harmless("dna", "seq = 'AAACCATCTCTACCGGTTCGCTTTCACTGGATATCGCGCTTGG'", "provider prefix mid-token"),
    Harmless("idempotency-token", "--client-token 550e8400-e29b-41d4-a716-446655440000", "UUID token"),
    Harmless(
        "aws-sigv4-header",
        "Authorization: AWS4-HMAC-SHA256 Credential=mock_access_key/20220524/us-east-1/s3/aws4_request",
        "the whole header value, not its first word",
    ),
    Harmless("host-port", "('http', 'user/name', 'password', 'localhost:22')", "host:port value"),
    Harmless("low-diversity", '"SecretToAuthenticateInitiator": "111111111111",', "one repeated digit"),
    Harmless("key-value-pair-string", '--endpoint "EndpointId=subnet-1234567890abcdef0"', "`=` inside"),
    Harmless("public-key-value", '"Value": "MIIBCgKCAQEA' + rnd(80, B64, 99) + '"', "public key prefix"),
    Harmless("method-on-literal", 'pw = " ...\\n".join(pairs) + ")"', "a literal used in an expression"),
    Harmless("f-string-field", "raise Exception(f\"Unexpected token '{op.string}'!\")", "templated"),
]


@pytest.mark.parametrize("case", HARMLESS, ids=[h.id for h in HARMLESS])
def test_harmless_look_alike_is_kept(case: Harmless) -> None:
    out, counts = redact(case.text)
    assert out == case.text, (case.id, case.guard, out)
    assert counts == {}


def test_counts_merge_overlapping_findings() -> None:
    """`API_TOKEN = "ghp_..."` is one github-token, not also an assigned secret (context_load counts it)."""
    out, counts = redact(f'API_TOKEN = "{GHP}"\npassword = ""\n# the password field is optional\n')
    assert counts == {"github-token": 1}
    assert 'password = ""' in out and "the password field is optional" in out


def test_compatible_with_the_repo_tests() -> None:
    """The fixtures of tests/test_context.py and tests/test_transcript_detectors.py, as they are today."""
    fixture = (
        'API_TOKEN = "gh'
        + 'p_abcdefghijklmnopqrstuvwxyz0123456789AB"\npassword = ""\n# the password field is optional\n'
    )
    out, counts = redact(fixture)
    assert counts == {"github-token": 1} and "[REDACTED:github-token]" in out and 'password = ""' in out
    secret = "sk-" + "ant-api03-" + "A1b2C3d4" * 6
    token = "gh" + "p_" + "x" * 36
    out, _ = redact(
        f"curl -H 'Authorization: Bearer abcdefghijklmnop1234' {secret} {token}\n" + "noise " * 200
    )
    assert secret not in out and token not in out and "abcdefghijklmnop1234" not in out
    fops = "fo" + "ps_" + "Zx9" * 14 + "q"
    assert redact(f"use the token {fops} here")[0] == "use the token [REDACTED:factorops-token] here"


def test_counts_per_kind() -> None:
    text = f"{GHP}\n{AWS_ID}\n{STRIPE}\nother {GHP}\n"
    assert redact(text)[1] == {"github-token": 2, "aws-access-key": 1, "stripe-key": 1}


def test_idempotent() -> None:
    text = "\n".join(r.text for r in SECRETS)
    once, _ = redact(text)
    twice, counts = redact(once)
    assert twice == once and counts == {}


def test_every_row_at_once() -> None:
    """Rows concatenated into one text (one file) are all redacted, none disturbing the others."""
    out, _ = redact("\n".join(r.text for r in SECRETS) + "\n" + "\n".join(h.text for h in HARMLESS))
    for row in SECRETS:
        for secret in row.secrets:
            assert secret not in out, row.id
    for case in HARMLESS:
        assert case.text in out, case.id


def test_positions_survive_lowercase_growth() -> None:
    """'İ'.lower() is two characters: spans found in the lowercased text must still land right."""
    out, _ = redact("İİİ Authorization: Bearer abcdefghijklmnop1234 İ\npassword = 'hunter2!x'")
    assert (
        out == "İİİ Authorization: Bearer [REDACTED:bearer-token] İ\npassword = '[REDACTED:assigned-secret]'"
    )


def test_empty_and_plain_text() -> None:
    assert redact("") == ("", {})
    assert redact("def f(x):\n    return x + 1\n") == ("def f(x):\n    return x + 1\n", {})


def test_detect_secrets_plugins_all_have_a_trigger() -> None:
    """A plugin without a trigger would silently never run; a new detect-secrets plugin gets a broad one."""
    plugins = R._ds_plugins()
    assert len(plugins) >= 20
    assert all(p.triggers for p in plugins)
    names = {p.name for p in plugins}
    assert {"KeywordDetector", "Base64HighEntropyString", "StripeDetector", "GitLabTokenDetector"} <= names
    assert "IPPublicDetector" not in names


def test_private_key_plugin_headers_are_all_handled() -> None:
    """We skip detect-secrets' PrivateKeyDetector (it reports only the header): our blocks cover its list."""
    from detect_secrets.plugins.private_key import PrivateKeyDetector

    for rx in PrivateKeyDetector.denylist:
        header = rx.pattern
        if header.startswith("BEGIN"):
            dashes = "----" if "SSH2" in header else "-----"
            sep = " " if "SSH2" in header else ""
            text = f"{dashes}{sep}{header}{sep}{dashes}\n{RSA_BODY}\n"
        else:
            text = f"{header}: ssh-rsa\nPrivate-Lines: 6\n{RSA_BODY}\n"
        out, _ = redact(text)
        assert RSA_BODY.splitlines()[2] not in out, header


# --------------------------------------------------------------------------------------------
# Secret files by name

SECRET_PATHS = [
    ".env",
    "app/.env",
    ".env.local",
    ".env.production",
    "config/.env.staging.local",
    ".envrc",
    "deploy/prod.env",
    "staging.env",
    "prod.env.local",
    "certs/server.pem",
    "tls/server.key",
    "a/b.p12",
    "win/cert.pfx",
    "AuthKey_ABC123.p8",
    "keys/deploy.ppk",
    "release.keystore",
    "android/upload.jks",
    "infra/terraform.tfstate",
    "infra/terraform.tfstate.backup",
    "terraform.tfstate.1700000000.backup",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".my.cnf",
    ".git-credentials",
    ".htpasswd",
    "htpasswd",
    "credentials",
    "credentials.json",
    "jenkins/credentials.xml",
    "home/.aws/credentials",
    "home/.aws/config",
    "home/.kube/config",
    "kubeconfig",
    "kubeconfig-prod.yaml",
    "clusters/dev.kubeconfig",
    "home/.ssh/id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "id_rsa_github",
    "home/.ssh/deploy_key",
    "home/.docker/config.json",
    "home/.gnupg/private-keys-v1.d/ABC.key",
    "secrets.yml",
    "secrets.yaml",
    "secrets.json",
    ".streamlit/secrets.toml",
    "k8s/secret.yaml",
    "service-account.json",
    "service-account-prod.json",
    "client_secret_1234.apps.googleusercontent.com.json",
    "application_default_credentials.json",
    ".vault_pass",
    "backup.kdbx",
    "key.asc",
    "secret.gpg",
    ".agentops/http_token",
    "C:\\Users\\bob\\.env",
]
NOT_SECRET_PATHS = [
    ".env.example",
    ".env.sample",
    ".env.template",
    "prod.env.example",
    "server.key.sample",
    "home/.ssh/id_rsa.pub",
    "id_ed25519.pub",
    "home/.ssh/known_hosts",
    "home/.ssh/config",
    "home/.ssh/authorized_keys",
    "kubeconfig.go",
    "pkg/kubeconfig_test.go",
    "src/config.env.ts",
    "vite.env.d.ts",
    "environment.ts",
    "src/keys.py",
    "docs/credentials.md",
    "src/secrets.py",
    "terraform/main.tf",
    "tfstate_reader.py",
    "README.md",
    "envs/prod/values.yaml",
    "id_rsa.py",
    "token.go",
    "password_reset.html",
]


@pytest.mark.parametrize("path", SECRET_PATHS)
def test_secret_path(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize("path", NOT_SECRET_PATHS)
def test_not_secret_path(path: str) -> None:
    assert not is_secret_path(path)


# --------------------------------------------------------------------------------------------
# Secret files by content

TFSTATE = """{
  "version": 4,
  "terraform_version": "1.6.2",
  "serial": 12,
  "lineage": "3f2b6c1e-0000-4000-8000-000000000000",
  "outputs": {},
  "resources": [{"type": "aws_db_instance", "instances": [{"attributes": {"password": "x"}}]}]
}"""
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- cluster: {{server: https://k8s.example.com}}
  name: prod
contexts:
- context: {{cluster: prod, user: admin}}
  name: prod
users:
- name: admin
  user:
    client-key-data: {b64(pem("RSA PRIVATE KEY", RSA_BODY))}
"""
SECRET_CONTENTS = {
    "pem-file": pem("RSA PRIVATE KEY", RSA_BODY),
    "pem-file-with-preamble": "# deploy key\nBag Attributes\n    localKeyID: 01 02\n"
    + pem("PRIVATE KEY", PKCS8_BODY),
    "pem-bundle-cert-then-key": pem("CERTIFICATE", pem_body(7)) + pem("EC PRIVATE KEY", EC_BODY),
    "openssh-file": pem("OPENSSH PRIVATE KEY", OPENSSH_BODY),
    "pgp-armored-key": pem("PGP PRIVATE KEY BLOCK", PGP_BODY),
    "putty-file": "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\n"
    + rnd(44, B64, 8),
    "kubeconfig-client-key": KUBECONFIG,
    "kubeconfig-token": KUBECONFIG.replace("client-key-data: ", "token: abc").split("abc")[0]
    + rnd(40, seed=9),
    "tfstate": TFSTATE,
    "gcp-service-account": '{"type": "service_account", "project_id": "p", "private_key_id": "1", '
    '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n"}',
    "aws-credentials": f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n",
    "docker-config": '{\n  "auths": {\n    "ghcr.io": {"auth": "' + b64("bob:" + rnd(20)) + '"}\n  }\n}',
    "netrc": "machine api.example.com\n  login bob\n  password " + rnd(16, seed=3) + "\n",
    "htpasswd": "bob:$apr1$" + rnd(8) + "$" + rnd(22) + "\nann:{SHA}" + rnd(27, B64) + "=\n",
}
NOT_SECRET_CONTENTS = {
    "code-with-test-key": "import ssl\n\nKEY = '''\n"
    + pem("RSA PRIVATE KEY", RSA_BODY)
    + "'''\n\ndef load(): ...\n",
    "kubeconfig-exec-plugin": KUBECONFIG.split("users:")[0] + "users:\n- name: admin\n  user:\n    exec:\n"
    "      command: aws\n",
    "terraform-docs": 'Run `terraform show -json` to see "terraform_version" and the "resources" list.',
    "package-json": '{"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "1.3.0"}}',
    "python": "def password_ok(pw: str) -> bool:\n    return len(pw) >= 12\n",
    "ini-without-aws": "[server]\nport = 8080\n",
    "public-cert": pem("CERTIFICATE", pem_body(7)),
    "empty": "",
}


@pytest.mark.parametrize("name", SECRET_CONTENTS)
def test_secret_content(name: str) -> None:
    assert is_secret_content(SECRET_CONTENTS[name])


@pytest.mark.parametrize("name", NOT_SECRET_CONTENTS)
def test_not_secret_content(name: str) -> None:
    assert not is_secret_content(NOT_SECRET_CONTENTS[name])
