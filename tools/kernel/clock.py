"""The wall clock, in one place.

Domain functions never read the time themselves: they take `now` from their caller, and the faces
get it from a `Clock` (the MCP runtime holds one a test can set; the CLI and the hooks use
`utc_now`). So every age, expiry and decay is computed against one injected time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, timezone-aware (UTC): the default clock."""
    return datetime.now(UTC)
