"""Who may call the HTTP faces: the install token, and one token per person. Both kept 0600 in the
data dir, never in the ledger.

The install token (`<data dir>/http_token`) is the one secret a single user needs: `serve --http`
clients (assistants) send it, and the dashboard accepts it while nobody has a person token. A team
adds a token per person (`factorops token add NAME`, stored as SHA-256 hashes in
`<data dir>/people_tokens.json`), so a request names who made it and the audit trail names who
decided; once any person token exists, the dashboard's decide and promote actions need one, so an
assistant holding the install token cannot decide through the dashboard. A static token is what a
local tool needs; the SDK's OAuth flow would need an authorization server nobody runs.

Every check reads credentials through `Credentials`, which stats both files on each call and
re-reads a file whose inode, size, mtime, ctime or mode changed. So `token rotate` or `token revoke`
ends every old credential at once (bearer requests, dashboard cookies, open event streams), and a
token file whose permissions were loosened (chmod 644) on a running server is set back to 0600 on
the next request, with a warning in the log.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from mcp.server.auth.provider import AccessToken

from factorops.store.datadir import DataDir

log = logging.getLogger("factorops.server.http")

TOKEN_FILE = "http_token"
PEOPLE_FILE = "people_tokens.json"
# A recognisable prefix lets secret scanners (and people reading logs) spot a leaked token.
PREFIX = "fops_"
CLIENT_ID = "factorops-token"  # the install token's client id (stable across rotations)
INSTALL = "install"  # the install token's identity
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")


class TokenError(RuntimeError):
    """The token file cannot be read or written; the message says where and why."""


def token_path(datadir: DataDir) -> Path:
    return datadir.path / TOKEN_FILE


def people_path(datadir: DataDir) -> Path:
    return datadir.path / PEOPLE_FILE


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tighten(path: Path, mode: int) -> None:
    """A credential file readable by others is set back to 0600 (and the person is told)."""
    if mode & 0o077:
        log.warning(
            "%s was readable by others (mode %o); set it back to 0600. If others may have read it, "
            "replace it (`factorops token rotate`, or revoke and re-add a person's token)",
            path,
            mode,
        )
        try:
            path.chmod(0o600)
        except OSError as exc:
            raise TokenError(f"{path} is readable by others and cannot be set to 0600: {exc}") from exc


def _read(path: Path) -> tuple[str, os.stat_result] | None:
    """The file's text and the stat of exactly the file read; None when it does not exist."""
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
        return data.decode("utf-8"), st
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read {path}: {exc}") from exc


def _parse_install(path: Path, text: str) -> str:
    token = text.strip()
    if not token.startswith(PREFIX) or len(token) < len(PREFIX) + 32:
        raise TokenError(f"{path} does not hold a factorops token; run `factorops token rotate`")
    return token


def read_token(datadir: DataDir) -> str | None:
    """The install token, or None when there is none yet. Tightens loose permissions."""
    path = token_path(datadir)
    got = _read(path)
    if got is None:
        return None
    text, st = got
    _tighten(path, stat.S_IMODE(st.st_mode))
    return _parse_install(path, text)


def _write(path: Path, text: str) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TokenError(f"cannot write {path}: {exc}") from exc


def ensure_token(datadir: DataDir) -> tuple[str, bool]:
    """The install token, creating one if missing; returns (token, created)."""
    existing = read_token(datadir)
    if existing is not None:
        return existing, False
    token = new_token()
    _write(token_path(datadir), token + "\n")
    return token, True


def rotate_token(datadir: DataDir) -> str:
    """Replace the install token; everything holding the old one is refused from its next request
    (or, for an open event stream, within a second)."""
    token = new_token()
    _write(token_path(datadir), token + "\n")
    return token


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


# -- person tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    sha256: str
    added: str


def _parse_people(path: Path, text: str) -> dict[str, Person]:
    try:
        data = json.loads(text)
        people = {
            name: Person(name, str(rec["sha256"]), str(rec.get("added", "")))
            for name, rec in data["people"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TokenError(f"{path} is not a factorops person-token file ({exc}); fix or delete it") from exc
    return people


def read_people(datadir: DataDir) -> dict[str, Person]:
    path = people_path(datadir)
    got = _read(path)
    if got is None:
        return {}
    text, st = got
    _tighten(path, stat.S_IMODE(st.st_mode))
    return _parse_people(path, text)


@contextlib.contextmanager
def _people_lock(datadir: DataDir) -> Iterator[None]:
    """Two `token add` at once must not lose one of them."""
    datadir.path.mkdir(parents=True, exist_ok=True)
    fd = os.open(datadir.path / ".people_tokens.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _save_people(datadir: DataDir, people: dict[str, Person]) -> None:
    data = {"people": {p.name: {"sha256": p.sha256, "added": p.added} for p in people.values()}}
    _write(people_path(datadir), json.dumps(data, indent=2, sort_keys=True) + "\n")


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise TokenError(
            f"NAME {name!r}: use 1-40 lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (e.g. alice or bob.smith)"
        )
    if name == INSTALL:
        raise TokenError(f"NAME {name!r} is reserved for the install token; pick another")
    return name


def add_person(datadir: DataDir, name: str) -> str:
    """A new token for `name`; only its hash is kept, so the token is shown once."""
    check_name(name)
    with _people_lock(datadir):
        people = read_people(datadir)
        if name in people:
            raise TokenError(f"{name} already has a token; revoke it first")
        token = new_token()
        added = datetime.now(UTC).isoformat(timespec="seconds")
        people[name] = Person(name, _digest(token), added)
        _save_people(datadir, people)
    return token


def revoke_person(datadir: DataDir, name: str) -> None:
    """Remove a person's token; every request, cookie and stream using it ends at once."""
    with _people_lock(datadir):
        people = read_people(datadir)
        if name not in people:
            known = ", ".join(sorted(people)) or "nobody has one"
            raise TokenError(f"NAME {name!r} has no token (tokens: {known})")
        del people[name]
        _save_people(datadir, people)


# -- one reader for every check -----------------------------------------------------------------------

T = TypeVar("T")


class _Watched(Generic[T]):
    """A file's parsed content, re-read when its stat changes. Unreadable means `broken`."""

    def __init__(self, path: Path, parse: Callable[[Path, str], T], missing: T, broken: T) -> None:
        self.path = path
        self.parse = parse
        self.missing = missing
        self.broken = broken
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._value: T = missing

    @staticmethod
    def _stamp_of(st: os.stat_result) -> tuple[int, ...]:
        # The mode and ctime are part of it: a chmod alone must be noticed (and repaired).
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)

    def get(self) -> T:
        try:
            stamp: tuple[int, ...] = self._stamp_of(self.path.stat())
        except FileNotFoundError:
            stamp = ()
        except OSError:
            return self.broken
        with self._lock:
            if stamp == self._stamp:
                return self._value
            if not stamp:
                value = self.missing
            else:
                try:
                    got = _read(self.path)
                    if got is None:
                        value = self.missing
                    else:
                        text, st = got
                        _tighten(self.path, stat.S_IMODE(st.st_mode))
                        value = self.parse(self.path, text)
                        with contextlib.suppress(OSError):
                            stamp = self._stamp_of(self.path.stat())  # after the chmod, if any
                except TokenError as exc:
                    log.error("%s", exc)
                    value = self.broken
            self._stamp, self._value = stamp, value
            return value


@dataclass(frozen=True)
class Caller:
    """Who a request's token belongs to: a person, or whoever holds the install token."""

    name: str  # the person's name, or "install"
    person: bool

    @property
    def identity(self) -> str:
        return f"person:{self.name}" if self.person else INSTALL


class Credentials:
    """The data dir's credentials as they are now: the one function every HTTP check goes through.

    Each call costs a stat per file; a changed file is re-read. A missing or unreadable install
    token refuses the install token rather than falling open; an unreadable person-token file
    refuses every person token and counts as "people exist" (so the install token does not regain
    the right to decide).
    """

    def __init__(self, datadir: DataDir) -> None:
        self.datadir = datadir
        self._install: _Watched[str | None] = _Watched(token_path(datadir), _parse_install, None, None)
        self._people: _Watched[dict[str, Person] | None] = _Watched(
            people_path(datadir), _parse_people, {}, None
        )

    def install_token(self) -> str | None:
        return self._install.get()

    def has_people(self) -> bool:
        people = self._people.get()
        return people is None or bool(people)

    def identify(self, token: str | None) -> Caller | None:
        if not token:
            return None
        install = self.install_token()
        if install is not None and matches(install, token):
            return Caller(INSTALL, person=False)
        digest = _digest(token)
        for p in (self._people.get() or {}).values():
            if hmac.compare_digest(p.sha256.encode(), digest.encode()):
                return Caller(p.name, person=True)
        return None

    def identity_for(self, token: str | None) -> str | None:
        """`person:NAME`, `install`, or None for a token that is not (or no longer) valid."""
        caller = self.identify(token)
        return caller.identity if caller else None

    def valid(self, token: str | None) -> bool:
        return self.identify(token) is not None


class StaticCredentials(Credentials):
    """One fixed install token and no people (tests of a face that does not read the data dir)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def install_token(self) -> str | None:
        return self._token

    def has_people(self) -> bool:
        return False

    def identify(self, token: str | None) -> Caller | None:
        return Caller(INSTALL, person=False) if matches(self._token, token) else None


class FileTokenVerifier:
    """The SDK's `TokenVerifier`: install or person token, checked against the files as they are
    now. The access token's client id says who: `factorops-token` for the install token,
    `person:NAME` for a person."""

    def __init__(self, datadir: DataDir | Credentials) -> None:
        self.credentials = datadir if isinstance(datadir, Credentials) else Credentials(datadir)

    def current(self) -> str | None:
        return self.credentials.install_token()

    async def verify_token(self, token: str) -> AccessToken | None:
        caller = self.credentials.identify(token)
        if caller is None:
            return None
        client_id = caller.identity if caller.person else CLIENT_ID
        return AccessToken(token=token, client_id=client_id, scopes=[])
