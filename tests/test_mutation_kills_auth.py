"""Tests that kill the HTTP credential check's mutants (`make mutation`, target `auth_token`).

Fast enough to run once per mutant: they call what every HTTP face calls (`Credentials`,
`StaticCredentials`, the SDK-facing `FileTokenVerifier`, `matches`) on real token files in a temp
data dir, written by the module's own `ensure_token` / `rotate_token` / `add_person` /
`revoke_person` (what the `factorops token` commands run). Whether a file is read at all is seen
with a Python audit hook on `open` (real opens of the real file, counted, nothing replaced); the
same hook removes the file at the moment it is opened to recreate `token rotate`/`rm` racing a
request. The end-to-end guards (real servers, real sockets) are tests/test_tokens.py and
tests/test_security.py.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factorops.server.auth_token import (
    CLIENT_ID,
    Caller,
    Credentials,
    FileTokenVerifier,
    StaticCredentials,
    add_person,
    ensure_token,
    matches,
    new_token,
    people_path,
    revoke_person,
    rotate_token,
    token_path,
)
from factorops.store.datadir import DataDir

LOGGER = "factorops.server.http"


class _Opens:
    """Counts real opens of chosen files (a `sys.addaudithook` hook; hooks cannot be removed, so one
    is installed for the process and armed per test). `vanish` unlinks a file as it is opened."""

    def __init__(self) -> None:
        self.watched: dict[str, int] = {}
        self.vanish: set[str] = set()

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not args or not isinstance(args[0], str | bytes | os.PathLike):
            return
        path = os.fsdecode(args[0])
        if path in self.watched:
            self.watched[path] += 1
        if path in self.vanish:
            self.vanish.discard(path)
            os.unlink(path)


_OPENS = _Opens()
sys.addaudithook(_OPENS)


@pytest.fixture
def opens() -> Iterator[_Opens]:
    yield _OPENS
    _OPENS.watched.clear()
    _OPENS.vanish.clear()


@pytest.fixture
def dd(tmp_path: Path) -> DataDir:
    return DataDir.for_project(tmp_path / "proj", tmp_path / "data")


# ---- matches ------------------------------------------------------------------------------------


def test_matches_only_the_same_token() -> None:
    token = new_token()
    assert matches(token, token) is True
    assert matches(token, str(token)) is True  # equal text, another object
    assert matches(token, None) is False  # no Authorization header at all
    assert matches(token, "") is False
    assert matches(token, token[:-1]) is False
    assert matches(token, token + "x") is False


# ---- the install token, as the files are now ----------------------------------------------------


def test_the_install_token_follows_its_file(dd: DataDir) -> None:
    creds = Credentials(dd)
    assert creds.install_token() is None and creds.identify(new_token()) is None  # no file yet
    assert not creds.has_people()  # no people file: a single user
    first, created = ensure_token(dd)
    assert created
    assert creds.install_token() == first
    assert creds.install_token() == first  # the cached answer, file unchanged
    assert creds.identify(first) == Caller("install", person=False)
    assert creds.identity_for(first) == "install" and creds.valid(first) is True
    for wrong in (None, "", first + "x", new_token()):
        assert creds.identify(wrong) is None and creds.identity_for(wrong) is None
        assert creds.valid(wrong) is False

    second = rotate_token(dd)
    assert creds.install_token() == second
    assert creds.identify(first) is None and creds.valid(first) is False  # ended at once
    assert creds.identify(second) == Caller("install", person=False)

    token_path(dd).unlink()  # deleted: refused, not fallen open
    assert creds.install_token() is None and creds.identify(second) is None
    assert not creds.has_people()


def test_person_tokens_name_the_person_until_revoked(dd: DataDir) -> None:
    install, _ = ensure_token(dd)
    creds = Credentials(dd)
    assert not creds.has_people()
    alice = add_person(dd, "alice")
    bob = add_person(dd, "bob")
    assert creds.has_people()
    assert creds.identify(alice) == Caller("alice", person=True)
    assert creds.identity_for(alice) == "person:alice" and creds.valid(alice)
    assert creds.identity_for(bob) == "person:bob"
    assert creds.identify(install) == Caller("install", person=False)  # still the install token
    assert creds.identify(new_token()) is None

    revoke_person(dd, "alice")
    assert creds.identify(alice) is None and creds.valid(alice) is False
    assert creds.identity_for(bob) == "person:bob" and creds.has_people()
    revoke_person(dd, "bob")
    assert creds.identify(bob) is None
    assert not creds.has_people()  # the people file exists and lists nobody: single user again


def test_person_tokens_work_without_an_install_token(dd: DataDir) -> None:
    """A missing install token refuses the install token only, not the people's."""
    alice = add_person(dd, "alice")
    creds = Credentials(dd)
    assert creds.install_token() is None
    assert creds.identity_for(alice) == "person:alice"
    assert creds.identify("fops_" + "x" * 43) is None


# ---- broken files fail closed, and say why ------------------------------------------------------


def test_a_garbled_token_file_refuses_every_token_and_is_logged(
    dd: DataDir, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = ensure_token(dd)
    creds = Credentials(dd)
    assert creds.identify(token) is not None
    token_path(dd).write_text("garbled\n")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert creds.install_token() is None
        assert creds.identify(token) is None and creds.identify("garbled") is None
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert said and str(token_path(dd)) in said[0] and "token rotate" in said[0]
    fresh = rotate_token(dd)
    assert creds.identify(fresh) == Caller("install", person=False)  # repaired by rotating


def test_an_unreadable_people_file_refuses_people_and_keeps_deciding_from_the_install_token(
    dd: DataDir, caplog: pytest.LogCaptureFixture
) -> None:
    install, _ = ensure_token(dd)
    alice = add_person(dd, "alice")
    creds = Credentials(dd)
    assert creds.identity_for(alice) == "person:alice"
    people_path(dd).write_text("{not json")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert creds.identify(alice) is None
        assert creds.has_people()  # counts as "people exist": the install token may not decide
    assert any(str(people_path(dd)) in r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert creds.identity_for(install) == "install"


def test_a_data_dir_that_cannot_be_looked_into_refuses_everything(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be\n")
    creds = Credentials(DataDir.for_project(tmp_path / "proj", blocker))
    assert creds.install_token() is None
    assert creds.identify(new_token()) is None
    assert creds.has_people()


# ---- the per-request cost is a stat; a changed file is re-read ----------------------------------


def test_an_unchanged_file_is_not_re_read_and_a_changed_one_is(dd: DataDir, opens: _Opens) -> None:
    token, _ = ensure_token(dd)
    path = str(token_path(dd))
    creds = Credentials(dd)
    opens.watched[path] = 0
    assert creds.install_token() == token
    assert opens.watched[path] == 1
    for _ in range(3):
        assert creds.identify(token) is not None
    assert opens.watched[path] == 1  # three requests, no read

    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched: same content
    assert creds.install_token() == token
    assert opens.watched[path] == 2
    assert creds.install_token() == token
    assert opens.watched[path] == 2


def test_a_loosened_file_is_tightened_once_and_not_re_read_after(
    dd: DataDir, opens: _Opens, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = ensure_token(dd)
    path = token_path(dd)
    creds = Credentials(dd)
    assert creds.install_token() == token
    path.chmod(0o644)
    opens.watched[str(path)] = 0
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert creds.identify(token) == Caller("install", person=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("readable by others" in r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert opens.watched[str(path)] == 1
    for _ in range(2):  # the repair itself is not a change to re-read
        assert creds.identify(token) is not None
    assert opens.watched[str(path)] == 1

    people = add_person(dd, "alice")
    people_path(dd).chmod(0o604)
    assert creds.identity_for(people) == "person:alice"
    assert stat.S_IMODE(people_path(dd).stat().st_mode) == 0o600


def test_a_token_file_removed_between_the_stat_and_the_read_is_no_token(dd: DataDir, opens: _Opens) -> None:
    """`token rotate`, or a person's `rm`, racing a request: the stat saw the file, the open does
    not find it. The request is refused (no token), never answered with a crash."""
    token, _ = ensure_token(dd)
    creds = Credentials(dd)
    opens.vanish.add(str(token_path(dd)))
    assert creds.install_token() is None
    assert not token_path(dd).exists() and not opens.vanish
    again, created = ensure_token(dd)
    assert created and creds.identify(again) is not None and creds.identify(token) is None


# ---- a fixed token (a face that does not read the data dir) -------------------------------------


def test_static_credentials_accept_their_one_token_as_the_install_token() -> None:
    token = new_token()
    creds = StaticCredentials(token)
    assert creds.install_token() == token
    assert not creds.has_people()  # so the install token may decide on the dashboard
    assert creds.identify(token) == Caller("install", person=False)
    assert creds.identity_for(token) == "install" and creds.valid(token)
    for wrong in (None, "", token + "x", new_token()):
        assert creds.identify(wrong) is None and not creds.valid(wrong)


# ---- the SDK's token verifier -------------------------------------------------------------------


async def test_the_verifier_names_the_caller_in_the_client_id(dd: DataDir) -> None:
    install, _ = ensure_token(dd)
    alice = add_person(dd, "alice")
    verifier = FileTokenVerifier(dd)
    got = await verifier.verify_token(install)
    assert got is not None and got.client_id == CLIENT_ID and got.token == install and got.scopes == []
    got = await verifier.verify_token(alice)
    assert got is not None and got.client_id == "person:alice" and got.token == alice
    assert await verifier.verify_token(new_token()) is None
    assert await verifier.verify_token("") is None
    assert verifier.current() == install

    rotated = rotate_token(dd)
    assert await verifier.verify_token(install) is None
    assert verifier.current() == rotated
    got = await verifier.verify_token(rotated)
    assert got is not None and got.client_id == CLIENT_ID
    revoke_person(dd, "alice")
    assert await verifier.verify_token(alice) is None


async def test_the_verifier_uses_the_credentials_it_is_given(dd: DataDir) -> None:
    creds = Credentials(dd)
    assert FileTokenVerifier(creds).credentials is creds  # one reader shared with the stream guard
    token = new_token()
    fixed = FileTokenVerifier(StaticCredentials(token))
    assert fixed.current() == token
    got = await fixed.verify_token(token)
    assert got is not None and got.client_id == CLIENT_ID
    assert await fixed.verify_token(new_token()) is None
