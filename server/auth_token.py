"""The bearer token that guards `factorops serve --http`: created once, kept 0600 in the data dir.

One shared secret per project is the right size for this server: the people who may call it are the
people who can read the project's data dir (or were handed the token by one of them). A static token
is what a local tool needs; the SDK's OAuth flow would need an authorization server nobody runs for
a single project. It lives in `<data dir>/http_token`, which the data dir's .gitignore keeps out of
the user's repository and which is never part of the ledger, so `factorops sync` cannot leak it.

The verifier re-reads the file when it changes, so `factorops token rotate` takes effect on a running
server at once: the old token stops working on the next request.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
import threading
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from factorops.store.datadir import DataDir

log = logging.getLogger("factorops.server.http")

TOKEN_FILE = "http_token"
# A recognisable prefix lets secret scanners (and people reading logs) spot a leaked token.
PREFIX = "fops_"
CLIENT_ID = "factorops-token"


class TokenError(RuntimeError):
    """The token file cannot be read or written; the message says where and why."""


def token_path(datadir: DataDir) -> Path:
    return datadir.path / TOKEN_FILE


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def read_token(datadir: DataDir) -> str | None:
    """The configured token, or None when there is none yet. Tightens loose permissions."""
    path = token_path(datadir)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read the HTTP token {path}: {exc}") from exc
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); setting it to 0600", path, mode)
        try:
            path.chmod(0o600)
        except OSError as exc:
            raise TokenError(f"{path} is readable by others and cannot be set to 0600: {exc}") from exc
    if not text.startswith(PREFIX) or len(text) < len(PREFIX) + 32:
        raise TokenError(f"{path} does not hold a factorops token; run `factorops token rotate`")
    return text


def _write(path: Path, token: str) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (token + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TokenError(f"cannot write the HTTP token {path}: {exc}") from exc


def ensure_token(datadir: DataDir) -> tuple[str, bool]:
    """The token, creating one if missing; returns (token, created)."""
    existing = read_token(datadir)
    if existing is not None:
        return existing, False
    token = new_token()
    _write(token_path(datadir), token)
    return token, True


def rotate_token(datadir: DataDir) -> str:
    """Replace the token; clients holding the old one are refused from their next request on."""
    token = new_token()
    _write(token_path(datadir), token)
    return token


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison (for other HTTP surfaces that check the same token)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class FileTokenVerifier:
    """The SDK's `TokenVerifier` for our one token, re-read whenever the file changes.

    A missing or unreadable file refuses everyone rather than falling open.
    """

    def __init__(self, datadir: DataDir) -> None:
        self.datadir = datadir
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token: str | None = None

    def current(self) -> str | None:
        path = token_path(self.datadir)
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._token = read_token(self.datadir)
                except TokenError as exc:
                    log.error("%s", exc)
                    self._token = None
                self._stamp = stamp
            return self._token

    async def verify_token(self, token: str) -> AccessToken | None:
        expected = self.current()
        if expected is None or not matches(expected, token):
            return None
        return AccessToken(token=token, client_id=CLIENT_ID, scopes=[])
