"""Tests that kill mutants `make mutation` (bench/mutation.py) found surviving; see docs/testing.md.

They call the promise-carrying functions directly on real files (fast enough to run once per
mutant); the end-to-end guards stay in test_containment.py, test_authority_*.py, test_e2e_stdio.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factorops.tools.kernel.actor import Actor, AuthorityError, require_person
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.paths import MAX_PATH_CHARS, PathRefused, project_file, resolve_inside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "proj"
    (r / "docs").mkdir(parents=True)
    (r / "docs" / "a.md").write_text("a\n")
    (r / ".env").write_text("SECRET=1\n")
    (tmp_path / "outside.txt").write_text("out\n")
    os.symlink(tmp_path / "outside.txt", r / "escape.txt")
    os.symlink(r / ".env", r / "notes_link.txt")
    return r


# ---- path containment: resolve_inside -------------------------------------------------------


def test_resolve_inside_accepts_the_root_and_files_under_it(root: Path) -> None:
    assert resolve_inside(root, ".") == root.resolve()
    assert resolve_inside(root, "docs/a.md") == (root / "docs" / "a.md").resolve()
    assert resolve_inside(root, str(root / "docs")) == (root / "docs").resolve()
    assert resolve_inside(root, "x" * MAX_PATH_CHARS) == (root / ("x" * MAX_PATH_CHARS)).resolve()


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("../outside.txt", "outside the project root"),
        ("docs/../../outside.txt", "outside the project root"),
        ("escape.txt", "outside the project root"),
        ("/etc/passwd", "outside the project root"),
        ("a\0b", "NUL byte"),
        ("x" * (MAX_PATH_CHARS + 1), "too long"),
    ],
)
def test_resolve_inside_refuses_with_the_field_named(root: Path, given: str, says: str) -> None:
    with pytest.raises(DomainError, match=says) as info:
        resolve_inside(root, given, field="target")
    assert info.value.field == "target"


def test_resolve_inside_refuses_a_sibling_with_the_root_as_prefix(root: Path) -> None:
    sibling = root.parent / (root.name + "-other")
    sibling.mkdir()
    with pytest.raises(DomainError, match="outside the project root"):
        resolve_inside(root, str(sibling))


def test_resolve_inside_names_a_symlink_loop(root: Path) -> None:
    os.symlink(root / "loop", root / "loop")
    with pytest.raises(DomainError, match="cannot be resolved") as info:
        resolve_inside(root, "loop/x")
    assert "loop" in str(info.value).lower() and "(None)" not in str(info.value)


# ---- path containment: project_file ---------------------------------------------------------


def test_project_file_returns_the_real_path_inside(root: Path) -> None:
    assert project_file(root, "docs/a.md") == (root / "docs" / "a.md").resolve()


@pytest.mark.parametrize(
    ("rel", "reason", "secret"),
    [
        (".env", "secret file", True),
        ("notes_link.txt", "secret file (a link to one)", True),
        ("escape.txt", "leads outside the project", False),
        ("missing.md", "cannot be resolved", False),
        ("../outside.txt", "leads outside the project", False),
    ],
)
def test_project_file_refuses_with_reason(root: Path, rel: str, reason: str, secret: bool) -> None:
    with pytest.raises(PathRefused) as info:
        project_file(root, rel)
    assert info.value.reason.startswith(reason)
    assert str(info.value) == info.value.reason
    assert info.value.secret is secret


def test_project_file_names_the_os_reason_alone(root: Path) -> None:
    with pytest.raises(PathRefused) as info:
        project_file(root, "missing.md")
    assert info.value.reason == "cannot be resolved (No such file or directory)"


def test_project_file_refuses_the_root_itself(root: Path) -> None:
    with pytest.raises(PathRefused, match="outside"):
        project_file(root, ".")


# ---- authority: require_person ----------------------------------------------------------------


@pytest.mark.parametrize("transport", ["stdio", "http", "in-process", ""])
def test_an_assistant_is_refused_whatever_its_transport(transport: str) -> None:
    actor = Actor.assistant("claude", transport)  # type: ignore[arg-type]
    assert not actor.is_person
    with pytest.raises(
        AuthorityError, match=r"only a person may approve this; the assistant \(claude\)"
    ) as info:
        require_person(actor, "approve this", field="decision")
    assert info.value.field == "decision"


@pytest.mark.parametrize(
    "actor",
    [Actor.cli("alice"), Actor.dashboard("bob"), Actor.elicitation("client", "stdio")],
)
def test_a_person_passes(actor: Actor) -> None:
    assert actor.is_person
    require_person(actor, "approve this")  # no exception
