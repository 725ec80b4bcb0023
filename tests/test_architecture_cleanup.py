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
