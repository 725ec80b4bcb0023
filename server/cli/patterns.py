"""`factorops patterns …`, `factorops mine` and `factorops bundle …`: what people do with patterns."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from .base import CliError, command, open_store


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _patterns_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="what to do (each has its own --help)"
    )
    ls = sub.add_parser(
        "list",
        help="list patterns (newest first)",
        description="List patterns, anti-patterns and guardrails, newest first: id, status, kind, "
        "confidence and title.",
    )
    ls.add_argument("--status", choices=["candidate", "active", "retired"], help="only this status")
    ls.add_argument("--kind", choices=["pattern", "anti-pattern", "guardrail"], help="only this kind")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    show = sub.add_parser(
        "show",
        help="print one pattern as Markdown",
        description="Print one pattern as Markdown: its fields, evidence and history.",
    )
    show.add_argument("id", help="the pattern id (see `factorops patterns list`)")
    pro = sub.add_parser(
        "promote",
        help="make a candidate active (a person's decision)",
        description="Make a candidate pattern active, so assistants get it in searches, briefings and "
        "guardrail checks. Only a person does this; the change is a commit in the ledger.",
    )
    pro.add_argument("id", help="the candidate's id (see `factorops patterns list --status candidate`)")
    ret = sub.add_parser(
        "retire",
        help="retire a pattern so it is no longer used",
        description="Retire a pattern so it is no longer searched, injected or checked; it stays in the "
        "ledger's history. The change is a commit in the ledger.",
    )
    ret.add_argument("id", help="the pattern id (see `factorops patterns list` or `factorops decay`)")


@command(
    "patterns",
    "list, show, promote or retire patterns and guardrails",
    "Patterns are recorded by assistants as candidates; only a person makes them active (promote) "
    "or retires them. Each change is a commit in the ledger.",
)(_patterns_args)
def patterns_cmd(args: argparse.Namespace) -> int:
    from factorops.resources import patterns as views
    from factorops.tools.kernel.errors import DomainError
    from factorops.tools.patterns import records as patterns

    store = open_store(args)
    try:
        if args.action == "list":
            rows = patterns.list_patterns(store, status=args.status, kind=args.kind)
            if args.json:
                print(json.dumps(rows, indent=2))
            elif not rows:
                print("no patterns")
            for r in [] if args.json else rows:
                print(
                    f"{r['id']}  {r['status']:<9} {r['kind']:<12} {float(str(r['confidence'])):.2f}  {r['title']}"
                )
        elif args.action == "show":
            print(views.pattern_detail(store, args.id))
        else:
            status = "active" if args.action == "promote" else "retired"
            p = patterns.set_status(store, args.id, status, _now(), by=f"cli:{getpass.getuser()}")
            print(f"{p.id} is now {p.status}: {p.title}")
    except DomainError as exc:
        raise CliError(exc.message) from None
    finally:
        store.close()
    return 0


def _mine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        action="append",
        choices=["git", "sessions"],
        help="what to mine: the project's git history or ended sessions; repeatable; default both",
    )
    p.add_argument("--since", help="only git commits since this date (e.g. 2026-01-01, '3 months ago')")


@command(
    "mine",
    "mine git history and past sessions for candidate patterns",
    "Find reverts, fix-after-fix chains, hot spots, files that change together, the commit convention, "
    "and learnings from ended sessions. Incremental: a second run reads only what is new.",
)(_mine_args)
def mine_cmd(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from factorops.tools.kernel.errors import DomainError
    from factorops.tools.patterns import mining as pattern_mining

    store = open_store(args)

    def bar(done: float, total: float, message: str) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {message:<40}")
        sys.stderr.flush()

    try:
        try:
            inp = pattern_mining.PatternsMineInput(
                sources=args.source or ["git", "sessions"], since=args.since
            )
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            raise CliError(f"--{e['loc'][0]}: {e['msg']}") from None
        result = pattern_mining.mine(store, inp, _now(), bar)
    except DomainError as exc:
        raise CliError(f"{exc.field}: {exc.message}") from None
    finally:
        store.close()
    sys.stderr.write("\n")
    print(f"read {result.commits_read} commits and {result.sessions_read} sessions")
    for c in result.candidates:
        print(f"{'merged ' if c.merged else 'new    '} {c.id}  {c.kind:<12} {c.title}")
    if not result.candidates:
        print("no new candidates")
    return 0


def _bundle_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="what to do (each has its own --help)"
    )
    ex = sub.add_parser(
        "export",
        help="write active patterns and guardrails to a bundle file",
        description="Write this project's active patterns and guardrails (candidates too with "
        "--include-candidates) to a versioned bundle file with a SHA-256 hash for every pattern.",
    )
    ex.add_argument("path", type=Path, help="the bundle file to write")
    ex.add_argument(
        "--kind",
        action="append",
        choices=["pattern", "anti-pattern", "guardrail"],
        help="export only this kind; repeatable; default every kind",
    )
    ex.add_argument("--include-candidates", action="store_true", help="export candidates too")
    im = sub.add_parser(
        "import",
        help="verify a bundle and import its patterns (as candidates)",
        description="Verify a bundle (every hash and pattern; unsafe archives are refused before "
        "anything is written), then import its patterns as candidates a person may promote. "
        "Patterns already here are updated or skipped as duplicates.",
    )
    im.add_argument("path", type=Path, help="the bundle file to read")
    im.add_argument(
        "--keep-status", action="store_true", help="keep 'active' from the bundle instead of candidate"
    )
    ve = sub.add_parser(
        "verify",
        help="check a bundle without importing it",
        description="Check a bundle's format, hashes and patterns without importing anything; no "
        "project data is needed.",
    )
    ve.add_argument("path", type=Path, help="the bundle file to check")


@command(
    "bundle",
    "export or import a versioned, hash-checked bundle of patterns and guardrails",
    "Share proven patterns between projects (Factor XII). Import verifies every hash and pattern and "
    "refuses unsafe archives before writing anything.",
)(_bundle_args)
def bundle_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.kernel.errors import DomainError
    from factorops.tools.patterns import bundles

    try:
        if args.action == "verify":
            found = bundles.verify(args.path)
            print(f"{args.path}: ok, {len(found)} patterns")
            return 0
        store = open_store(args)
        try:
            if args.action == "export":
                statuses = ("active", "candidate") if args.include_candidates else ("active",)
                n = bundles.export(store, args.path, args.kind, statuses)
                print(f"wrote {n} patterns to {args.path}")
            else:
                report = bundles.import_bundle(store, args.path, _now(), keep_status=args.keep_status)
                print(
                    f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
                    f"duplicates skipped {len(report.duplicates)}"
                )
                for d in report.duplicates:
                    print(f"  duplicate: {d}")
        finally:
            store.close()
    except DomainError as exc:
        raise CliError(exc.message) from None
    return 0
