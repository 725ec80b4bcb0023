"""Two people deciding the same approval at once (CLI and dashboard, separate processes): exactly one
decision is recorded, the other gets a clear error, and the ledger holds one decision file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from factorops.store.store import Store
from factorops.tools.oversight import approvals

from .conftest import Clock, git

DECIDER = """
import sys, time
from pathlib import Path
from datetime import datetime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.oversight import approvals
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.actor import Actor
from factorops.tools.registry import components

project, aid, who, start_at, now = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
store = Store.open(DataDir.for_project(Path(project)), components())
time.sleep(max(0.0, start_at - time.time()))
try:
    # The test's clock, handed over explicitly: the child never reads the wall clock.
    a = approvals.decide(store, aid, who == "alice", Actor.cli(who), "", datetime.fromisoformat(now))
    print("OK", a.status)
except DomainError as exc:
    print("ERR", exc.field, exc.message)
"""


def test_simultaneous_decisions_record_exactly_one(project: Path, store: Store, clock: Clock) -> None:
    import time

    for round_ in range(3):
        a = approvals.create(
            store,
            approvals.ApprovalRequestInput(action=f"deploy {round_}", rationale="release", risk="high"),
            clock(),
        )
        start_at = time.time() + 2.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", DECIDER, str(project), a.id, who, str(start_at), clock().isoformat()],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for who in ("alice", "bob", "carol")
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        lines = [o.strip() for o, _ in outs]
        assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
        ok = [x for x in lines if x.startswith("OK")]
        refused = [x for x in lines if x.startswith("ERR")]
        assert len(ok) == 1 and len(refused) == 2, lines
        assert all("ERR id " in x and "already" in x for x in refused), refused
        final = approvals.status(store, a.id, clock())
        assert final.status == ok[0].split()[1]
        ledger = store.datadir.ledger_path
        history = git(ledger, "log", "--format=%H", "--", f"approvals/{clock():%Y-%m}/{a.id}/decision.json")
        assert len(history.split()) == 1, "a second decision overwrote the first in the ledger"
