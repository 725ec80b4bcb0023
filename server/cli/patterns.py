"""`factorops patterns …`, `factorops mine` and `factorops bundle …`: what people do with patterns."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from factorops.tools.kernel.clock import utc_now

from .base import CliError, command, opened_store

if TYPE_CHECKING:
    from factorops.tools.patterns.bundles import ImportReport


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
        "guardrail checks. A candidate that revises an active pattern (an assistant's or a bundle's "
        "proposed change) replaces that pattern's content instead; the pattern keeps its id. Only a "
        "person does this; the change is a commit in the ledger.",
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
    from factorops.tools.patterns import records as patterns

    with opened_store(args) as store:
        if args.action == "list":
            from factorops.tools.flywheel import maturity

            rows = patterns.list_patterns(store, status=args.status, kind=args.kind)
            now = utc_now()
            stages = {a.id: a for a in maturity.assess_all(store, now)}
            for r in rows:  # maturity from citations (docs/patterns.md, Maturity)
                if (a := stages.get(str(r["id"]))) is not None:
                    r.update(stage=a.stage, why=a.why)
            if args.json:
                print(json.dumps(rows, indent=2))
            elif not rows:
                print("no patterns")
            for r in [] if args.json else rows:
                print(
                    f"{r['id']}  {r['status']:<9} {r['kind']:<12} {float(str(r['confidence'])):.2f}  "
                    f"{str(r.get('stage', '-')):<10} {r['title']}"
                )
            if not args.json:
                from factorops.tools.flywheel import contradictions

                review = maturity.review_lines(maturity.review(store, now))
                for line in review + contradictions.lines(contradictions.find(store)):
                    print(line)
        elif args.action == "show":
            print(views.pattern_detail(store, args.id))
        else:
            from factorops.tools.kernel.actor import Actor

            status = "active" if args.action == "promote" else "retired"
            p = patterns.set_status(store, args.id, status, utc_now(), Actor.cli())
            title = patterns.one_line(p.title)
            if p.id != args.id:  # a revision: its content now is the pattern it revised
                print(f"{args.id} applied: {p.id} is now {p.status} with the revised content: {title}")
                print(f"  (the revision {args.id} is retired; the ledger keeps both)")
            else:
                print(f"{p.id} is now {p.status}: {title}")
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

    from factorops.tools.patterns import mining as pattern_mining

    def bar(done: float, total: float, message: str) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {message:<40}")
        sys.stderr.flush()

    with opened_store(args, with_field=True) as store:
        try:
            inp = pattern_mining.PatternsMineInput(
                sources=args.source or ["git", "sessions"], since=args.since
            )
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            raise CliError(f"--{e['loc'][0]}: {e['msg']}") from None
        result = pattern_mining.mine(store, inp, utc_now(), bar)
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
        "anything is written), print the plan (what it adds, updates or proposes, and what each "
        "change is), then import its patterns as candidates a person may promote. A change to an "
        "active pattern arrives as a candidate revision of it unless --replace-active is given; "
        "candidates here are updated, near-duplicates skipped.",
    )
    im.add_argument("path", type=Path, help="the bundle file to read")
    im.add_argument(
        "--keep-status", action="store_true", help="keep 'active' from the bundle instead of candidate"
    )
    im.add_argument(
        "--replace-active",
        action="store_true",
        help="let the bundle replace active patterns here (they stay active); by default a change to "
        "an active pattern arrives as a candidate revision you promote",
    )
    im.add_argument("--dry-run", action="store_true", help="print the plan and write nothing")
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
        with opened_store(args) as store:
            if args.action == "export":
                statuses = ("active", "candidate") if args.include_candidates else ("active",)
                n = bundles.export(store, args.path, args.kind, statuses)
                print(f"wrote {n} patterns to {args.path}")
            else:
                from factorops.tools.kernel.actor import Actor

                report = bundles.import_bundle(
                    store,
                    args.path,
                    utc_now(),
                    Actor.cli(),
                    keep_status=args.keep_status,
                    replace_active=args.replace_active,
                    dry_run=args.dry_run,
                )
                _print_import(args.path, report)
    except DomainError as exc:
        raise CliError(exc.message) from None
    return 0


_VERBS = {
    "add": "add",
    "update": "update",
    "revise": "revision",
    "replace": "replace",
    "proposed": "already proposed",
    "duplicate": "duplicate",
}


def _print_import(path: Path, report: ImportReport) -> None:
    """The plan first (every change, what it changes), then what was done."""
    from factorops.tools.patterns.records import one_line

    changing = [i for i in report.plan if i.action != "unchanged"]
    print(f"plan for {path.name}: {len(changing)} to look at, {len(report.plan) - len(changing)} unchanged")
    for i in changing:
        what = "; ".join(i.changes)
        title = one_line(i.title, 80)
        if i.action == "revise":
            line = f"candidate {i.id} proposes a change to active {i.target}: {what}"
        elif i.action == "replace":
            line = f"active {i.id} replaced, stays active: {what}"
        elif i.action == "proposed":
            line = f"{i.id} already proposes this change to {i.target}, waiting for a person"
        elif i.action == "duplicate":
            line = f"{i.id} skipped: same as {i.target} ({title})"
        elif i.action == "update":
            line = f"{i.id} ({i.status}) updated: {what}"
        else:
            line = f"{i.id} as {i.status}: {title}"
        print(f"  {_VERBS[i.action]:<16} {line}")
    if report.dry_run:
        print("dry run: nothing written")
        return
    print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"duplicates skipped {len(report.duplicates)}, candidate revisions {len(report.revisions)}, "
        f"replaced {len(report.replaced)}" + (f" (commit {report.commit[:12]})" if report.commit else "")
    )
    if report.revisions:
        print("  a person reviews each revision (`factorops patterns show ID`) and promotes it to apply it")
