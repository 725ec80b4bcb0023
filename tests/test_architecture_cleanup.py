"""Issue #15: one definition of each thing the domain shares (no duplicates to drift apart), the
injected clock everywhere, no dead code. Structural checks of the source: behaviour is covered by
the interface tests of each capability."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_guardrail_check_reports_the_matchers_hits_with_one_decision_literal() -> None:
    from factorops.tools.guardrails import check, match

    assert check.Decision is match.Decision
    assert check.GuardrailCheckResult.model_fields["matches"].annotation == list[match.GuardrailHit]
    assert not hasattr(check, "GuardrailMatch")
    sources = [(ROOT / "tools/guardrails" / f).read_text() for f in ("check.py", "match.py")]
    assert sum(len(re.findall(r"^Decision = ", s, re.M)) for s in sources) == 1


def test_the_domain_reads_the_time_only_through_the_kernel_clock() -> None:
    """Every age, expiry and decay uses the injected clock (a test's settable Clock): below the faces
    only tools/kernel/clock.py may read the wall clock, and the CLI has no clock of its own."""
    readers = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(")
    found = [
        str(p.relative_to(ROOT))
        for folder in ("tools", "resources", "store")
        for p in (ROOT / folder).rglob("*.py")
        if p != ROOT / "tools/kernel/clock.py" and readers.search(p.read_text())
    ]
    assert found == []
    own_clocks = [
        p.name
        for p in (ROOT / "server/cli").glob("*.py")
        if p.name != "approvals.py"  # its owner moves it to the kernel clock with their change
        and (re.search(r"^def _now\(", p.read_text(), re.M) or readers.search(p.read_text()))
    ]
    assert own_clocks == []


def test_patterns_shown_at_session_start_are_chosen_on_the_injected_clock() -> None:
    import inspect

    from factorops.tools.flywheel import inject

    assert "now" in inspect.signature(inject.relevant).parameters


def test_dead_code_is_gone() -> None:
    """Names nothing used (found with vulture and a reference count over the tree and the tests)."""
    from factorops.server import http
    from factorops.server.mcp import registration
    from factorops.store.ledger import Ledger
    from factorops.tools.watch import activity

    gone = [
        (http, "LOOPBACK_NAMES"),
        (registration, "In"),
        (registration, "Out"),
        (Ledger, "loose_objects"),
        (activity, "latest_context"),
    ]
    assert [name for owner, name in gone if hasattr(owner, name)] == []


def test_resources_are_read_through_one_helper() -> None:
    """Opening the store, rendering in a worker thread and turning NotFound / DomainError into the
    SDK's resource errors is written once (registration.read_view), not in every resource."""
    for name in ("pattern_tools.py", "session_tools.py"):
        text = (ROOT / "server/mcp" / name).read_text()
        assert "read_view(" in text
        assert "except NotFound" not in text and "except DomainError" not in text, name
