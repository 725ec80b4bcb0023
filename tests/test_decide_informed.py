"""Issue #12 hole 9: a person decides on everything the assistant wrote, with invisible characters
made visible, in every place a decision is made."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from factorops.server.web.app import build
from factorops.store.store import Store
from factorops.tools.kernel.display import one_line, visible
from factorops.tools.oversight import approvals

from .conftest import Clock

TOKEN = "dashboard-test-token-0123456789"
HIDDEN = "rm -rf ~/work\x1b[2K\x1b[Gread the README"  # erases itself in a terminal
TITLE = "\x1b]0;innocent\x07set the title"  # an OSC title change


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2K", "\\x1b[2K"),
        ("a\rb", "a\\x0db"),
        ("x\u202ey", "x\\u202ey"),  # right-to-left override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("tab\tand\nline", "tab\tand\nline"),
        ("plain text, ünïcode", "plain text, ünïcode"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),
    ],
)
def test_visible_shows_every_invisible_character(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_one_line_shows_newlines_and_cuts() -> None:
    assert one_line("a\nb") == "a\\nb"
    assert one_line("x" * 300, limit=10) == "x" * 9 + "…"


def test_dashboard_shows_details_and_escapes(store: Store, clock: Clock) -> None:
    approvals.create(
        store,
        approvals.ApprovalRequestInput(
            action=HIDDEN,
            rationale=TITLE,
            risk="high",
            details="will delete 14 directories under ~/work; backups: none",
            session_id="ses-20261125-120000-abcdef01",
        ),
        clock(),
    )
    web = TestClient(build(store, TOKEN, now=clock, by="dashboard:tester"), base_url="http://127.0.0.1:8766")
    web.get(f"/?token={TOKEN}")
    page = web.get("/approvals").text
    assert "\x1b" not in page and "\x07" not in page
    assert "rm -rf ~/work\\x1b[2K\\x1b[Gread the README" in page
    assert "\\x1b]0;innocent\\x07set the title" in page
    assert "will delete 14 directories under ~/work; backups: none" in page
    assert "ses-20261125-120000-abcdef01" in page
