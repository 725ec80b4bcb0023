"""`validation_run` (Factor IV): the project's own checks decide whether work is done.

Gates come only from config.toml (tools/kernel/config.py): an assistant names a gate, never a
command. A broken `gates` section is an error here (and only here); a gate whose time limit is
invalid runs under the default one, with a warning in the result.
Each run's result is recorded against the session, in SQLite and as a compact ledger record, so
"tests pass" is a fact with a commit behind it. Output is trimmed to a token budget keeping the
lines that explain a failure (tracebacks, FAILED, error:, assertions) plus the end of the output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import Field

from factorops.store.components import Component, Migration, RecordKind
from factorops.store.store import Store
from factorops.tools.kernel import config
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.ids import new_id
from factorops.tools.kernel.paths import resolve_inside
from factorops.tools.kernel.tokens import count_tokens

from . import gates as gate_runner
from .models import ValidationRunInput

if TYPE_CHECKING:
    from factorops.store.db import Database

OUTPUT_BUDGET = 1200  # tokens of output per gate in the result
MAX_LINE = 400  # characters of one output line kept when trimming
_FAILURE = re.compile(
    r"(FAILED|FAIL\b|ERROR|Error:|error:|error\[|Traceback|AssertionError|assert |Exception|panic:|✗|✖|\bE\s{2,})"
)


class GateResult(CompactModel):
    gate: str
    passed: bool
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float
    output: str = ""


class ValidationRunResult(CompactModel):
    passed: bool
    results: list[GateResult]
    commit: str | None = None
    warnings: list[str] = Field(default_factory=list)  # settings that fell back to a safe default


def trim_output(text: str, budget: int = OUTPUT_BUDGET) -> str:
    """Failure lines (with a line of context) first, then the tail, within `budget` tokens."""
    if count_tokens(text) <= budget:
        return text
    # A minified bundle or a progress bar can be one enormous line: cut long lines in the middle so
    # one of them cannot use up the whole budget and push every failure out.
    lines = [ln if len(ln) <= MAX_LINE else f"{ln[:200]} … {ln[-150:]}" for ln in text.splitlines()]
    keep: set[int] = set()
    for i, line in enumerate(lines):
        if _FAILURE.search(line):
            keep.update(range(max(0, i - 1), min(len(lines), i + 2)))
    picked: list[str] = []
    used = 0
    for i in sorted(keep):
        cost = count_tokens(lines[i]) + 1
        if used + cost > budget * 0.7:
            break
        picked.append(lines[i])
        used += cost
    tail: list[str] = []
    for line in reversed(lines):
        cost = count_tokens(line) + 1
        if used + cost > budget:
            break
        tail.append(line)
        used += cost
    tail.reverse()
    return "\n".join(
        [*picked, f"… ({len(lines)} lines in all; failure lines above, last lines below) …", *tail]
    )


def _index(db: Database, path: str, data: bytes, sha: str) -> None:
    r = json.loads(data)
    for g in r["gates"]:
        db.execute(
            """INSERT OR IGNORE INTO validations (run_id, gate, session_id, passed, exit_code, timed_out, seconds,
                                                  started_at, commit_sha) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                r["id"],
                g["gate"],
                r.get("session_id"),
                int(g["passed"]),
                g.get("exit_code"),
                int(g.get("timed_out", False)),
                g["seconds"],
                r["started_at"],
                sha,
            ],
        )


COMPONENT = Component(
    name="validation",
    migrations=(
        Migration(
            "validation-001",
            """
            CREATE TABLE validations (
                run_id TEXT NOT NULL,
                gate TEXT NOT NULL,
                session_id TEXT,
                passed INTEGER NOT NULL,
                exit_code INTEGER,
                timed_out INTEGER NOT NULL,
                seconds REAL NOT NULL,
                started_at TEXT NOT NULL,
                commit_sha TEXT NOT NULL,
                PRIMARY KEY (run_id, gate)
            );
            CREATE INDEX validations_session ON validations (session_id, started_at);
            """,
        ),
    ),
    kinds=(RecordKind("validation", r"validations/\d{4}-\d{2}/[^/]+\.json", _index),),
    ledger_tables=("validations",),
)


Progress = Callable[[float, float, str], None]


def run(
    store: Store, inp: ValidationRunInput, now: datetime, progress: Progress | None = None
) -> ValidationRunResult:
    cfg = config.load_for(store.datadir)
    if not cfg.gates:
        raise DomainError("gate", f"no validation gates configured; {config.how_to_configure(store.datadir)}")
    gates = [cfg.gate(inp.gate)] if inp.gate else cfg.gates
    root = store.datadir.root
    results: list[GateResult] = []
    for i, g in enumerate(gates):
        cwd = resolve_inside(root, g.cwd, field="gate")
        if progress:
            progress(i, len(gates), f"running gate {g.name}")

        def beat(elapsed: float, i: int = i, name: str = g.name, limit: float = g.timeout_s) -> None:
            if progress:
                progress(i + min(0.99, elapsed / limit), len(gates), f"{name}: {elapsed:.0f}s")

        r = gate_runner.run(g.command, cwd, g.timeout_s, beat)
        text = r.head + ("\n… output cut …\n" if r.dropped_bytes else "") + r.tail
        if r.error:
            text = r.error
        elif r.timed_out:
            text += f"\n[gate {g.name} timed out after {g.timeout_s:.0f}s; its process group was killed]"
        results.append(
            GateResult(
                gate=g.name,
                passed=(r.exit_code == 0 and not r.timed_out and r.error is None),
                exit_code=r.exit_code,
                timed_out=r.timed_out,
                seconds=round(r.duration_s, 2),
                output=trim_output(text),
            )
        )
    run_id = new_id("val", now)
    rec = {
        "id": run_id,
        "session_id": inp.session_id,
        "started_at": now.astimezone(UTC).isoformat(timespec="microseconds"),
        "gates": [
            {
                "gate": x.gate,
                "passed": x.passed,
                "exit_code": x.exit_code,
                "timed_out": x.timed_out,
                "seconds": x.seconds,
                "last_lines": x.output.splitlines()[-15:],
            }
            for x in results
        ],
    }
    path = f"validations/{now.astimezone(UTC):%Y-%m}/{run_id}.json"
    data = (json.dumps(rec, indent=2, sort_keys=True) + "\n").encode()
    passed = all(x.passed for x in results)
    trailers = {"Validation": run_id, "Factor": "IV"}
    if inp.session_id:
        trailers["Session"] = inp.session_id
    sha, _ = store.write(
        {path: data},
        f"validation: {'pass' if passed else 'FAIL'} {', '.join(x.gate for x in results)}",
        trailers,
        lambda db, sha: _index(db, path, data, sha),
    )
    if progress:
        progress(len(gates), len(gates), "done")
    return ValidationRunResult(passed=passed, results=results, commit=sha, warnings=cfg.warnings("gates"))
