"""`factorops hook CLIENT`: one process per client hook event, so start-up is the cost.

Reads the event JSON from stdin, finds the project (the event's working directory, walking up to the
nearest factorops data dir, or `--project`), opens the store only when the event needs it, hands the
event to the client's translator and prints its answer. It never fails the person's work: any
problem (empty or malformed input, a broken data dir, a bug) is one line on stderr and exit 0, so
the client goes on as if no hook had run.

Cost: a hook runs before and after every tool call. Nothing here imports the MCP SDK, and the store
is opened light for the hot path (PreToolUse): the SQLite index without the ledger's repair and
catch-up and without importing every capability's component. A ledger write (a spiral called, a
checkpoint before compaction) opens the store fully, as every writer must.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from factorops.store.datadir import DataDir
    from factorops.store.db import Index
    from factorops.store.store import Store
    from factorops.tools.watch.settings import WatchSettings

MAX_EVENT_BYTES = 8 * 1024 * 1024
CLIENTS = ("claude-code", "cursor")


class BadEvent(ValueError):
    """The event cannot be used; the message says what is wrong with it."""


@dataclass
class Context:
    """What a translator gets: the event, the project (if it has factorops data) and stores."""

    event: dict[str, Any]
    now: datetime
    datadir: DataDir | None
    _light: Store | None = None
    _full: Store | None = None
    _settings: WatchSettings | None = None
    notes: list[str] = field(default_factory=list)  # problems to print on stderr

    @property
    def root(self) -> Path | None:
        return None if self.datadir is None else self.datadir.root

    def store(self) -> Store | None:
        """The index for reading and SQLite-only writes (None: no factorops data here)."""
        if self.datadir is None:
            return None
        if self._full is not None:
            return self._full
        if self._light is None:
            from factorops.store.store import Store
            from factorops.tools.watch.records import MIGRATION_ID

            light = Store(self.datadir, [])
            light.index = cast("Index", _PlainIndex(self.datadir.db_path))
            try:
                migrated = light.db.execute(
                    "SELECT 1 FROM schema_migrations WHERE id = ?", [MIGRATION_ID]
                ).fetchone()
            except Exception:  # no schema yet: the full open creates it
                migrated = None
            if migrated is None:
                light.close()
                return self.full_store()
            self._light = light
        return self._light

    def full_store(self) -> Store | None:
        """The store opened as every ledger writer opens it (repaired, caught up)."""
        if self.datadir is None:
            return None
        if self._full is None:
            from factorops.store.store import Store
            from factorops.tools.registry import components

            if self._light is not None:
                self._light.close()
                self._light = None
            self._full = Store.open(self.datadir, components(), create=False)
        return self._full

    def settings(self) -> WatchSettings:
        if self._settings is None:
            from factorops.tools.watch import settings

            self._settings = (
                settings.load(self.datadir.config_path) if self.datadir is not None else settings.DEFAULTS
            )
        return self._settings

    def close(self) -> None:
        for s in (self._light, self._full):
            if s is not None:
                s.close()


class _PlainIndex:
    """The index over plain `sqlite3`, for the hook's hot path.

    `Index` wraps each connection in sqlite-utils, whose import (with numpy when present, and its
    plugin entry points) costs more than everything else a PreToolUse hook does. The hot path only
    runs SQL (`execute`, `get_meta`, `transaction`), which a `sqlite3.Connection` does the same
    way, with the same pragmas (`store.db.connect`'s WAL, busy timeout, foreign keys).
    """

    def __init__(self, path: Path) -> None:
        import sqlite3

        from factorops.store.db import BUSY_TIMEOUT_MS

        self.path = path
        self.conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA foreign_keys=ON")

    @property
    def db(self) -> Any:
        return self.conn

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.conn.close()


def find_datadir(start: Path, project: Path | None, data_dir: Path | None) -> DataDir | None:
    """The data dir of `project`, else of the nearest directory at or above `start` that has one."""
    from factorops.store.datadir import DataDir

    if project is not None:
        dd = DataDir.for_project(project, data_dir)
        return dd if dd.exists() else None
    if data_dir is not None:
        dd = DataDir.for_project(start, data_dir)
        return dd if dd.exists() else None
    here = start.expanduser().resolve()
    for d in (here, *here.parents):
        dd = DataDir.for_project(d)
        if dd.exists():
            return dd
    return None


def read_event(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise BadEvent("no event on stdin (expected the client's hook event as one JSON object)")
    if len(raw) > MAX_EVENT_BYTES:
        raise BadEvent(f"event larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent(f"the event on stdin is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise BadEvent(f"the event on stdin must be a JSON object, got {type(event).__name__}")
    return event


Translator = Callable[[Context], dict[str, Any] | None]


def _translator(client: str) -> Translator:
    if client == "claude-code":
        from . import claude_code

        return claude_code.handle
    from . import cursor

    return cursor.handle


def main(client: str, project: Path | None = None, data_dir: Path | None = None) -> int:
    """Run one hook event; always exit 0 (a broken hook must never block the person's work)."""
    if client not in CLIENTS:
        print(f"factorops hook: unknown client {client!r}; one of {', '.join(CLIENTS)}", file=sys.stderr)
        return 0
    ctx: Context | None = None
    try:
        event = read_event(sys.stdin.buffer.read(MAX_EVENT_BYTES + 1))
        cwd = event.get("cwd")
        roots = event.get("workspace_roots")
        if not isinstance(cwd, str) or not cwd:
            cwd = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else os.getcwd()
        env_project = os.environ.get("FACTOROPS_PROJECT")
        env_data = os.environ.get("FACTOROPS_DATA_DIR")
        project = project or (Path(env_project) if env_project else None)
        data_dir = data_dir or (Path(env_data) if env_data else None)
        ctx = Context(event=event, now=datetime.now(UTC), datadir=find_datadir(Path(cwd), project, data_dir))
        answer = _translator(client)(ctx)
        for note in ctx.notes:
            print(f"factorops hook: {note}", file=sys.stderr)
        if answer is not None:
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    except BadEvent as exc:
        print(f"factorops hook {client}: {exc}; nothing checked", file=sys.stderr)
    except Exception as exc:  # never block the person's work on our bug
        print(
            f"factorops hook {client}: failed ({type(exc).__name__}: {exc}); nothing checked. "
            "Run `factorops hooks status` or `factorops doctor`.",
            file=sys.stderr,
        )
    finally:
        if ctx is not None:
            with suppress(Exception):
                ctx.close()
    return 0


def cli(argv: list[str]) -> int:
    """`factorops hook CLIENT [--project P] [--data-dir D]` as `cli/main.py` routes it: the same
    arguments as the registered `hook` command, parsed without importing any command module."""
    import argparse

    p = argparse.ArgumentParser(
        prog="factorops hook",
        # The same words as the registered command's (`cli/hooks.py`; test_cli_help compares them).
        description="Read one hook event as JSON on stdin (Claude Code or Cursor format), answer in "
        "that client's format on stdout. Always exits 0: problems go to stderr. Installed by "
        "`factorops hooks install`.",
    )
    # `cli.base.add_common`'s options (the faces do not import each other)
    p.add_argument("--project", type=Path, default=None, help="the project; default: the event's cwd")
    p.add_argument("--data-dir", type=Path, default=None, help="where the index and ledger live")
    p.add_argument("-v", "--verbose", action="store_true", help="accepted for symmetry; unused")
    p.add_argument("client", choices=CLIENTS, help="the client whose event JSON arrives on stdin")
    args = p.parse_args(argv)
    rc = main(args.client, args.project, args.data_dir)
    if os.environ.get("FACTOROPS_DEBUG_MODULES"):  # tests: which modules the hook path imported
        print("factorops hook modules: " + " ".join(sorted(sys.modules)), file=sys.stderr)
    return rc
