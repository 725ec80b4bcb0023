"""Record ids: unique across processes and machines, sortable by time, readable in git paths.

Records are append-only files named by id, so two teammates (or two server processes) creating
records at the same moment never collide and their ledgers merge without conflicts.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(4)}"
