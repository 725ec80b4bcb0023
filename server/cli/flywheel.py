"""`factorops starter …`, `factorops decay`, `factorops agents …`: the knowledge flywheel by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from factorops.tools.kernel.clock import utc_now

from .base import CliError, advice, command, opened_store


def _starter_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="what to do (each has its own --help)"
    )
    sub.add_parser(
        "install",
        help="install, re-activate or restore the starter guardrails",
        description="Install the starter guardrails as active patterns tagged 'starter', "
        "re-activate the ones retired earlier, and restore any whose content differs from the "
        "shipped rule unless a person changed it (those are kept and listed). Safe to run again.",
    )
    sub.add_parser(
        "remove",
        help="retire every starter guardrail",
        description="Retire every guardrail tagged 'starter'; they stay in the ledger's history and "
        "`factorops starter install` brings them back.",
    )


@command(
    "starter",
    "install or remove the starter guardrails",
    "Starter guardrails block or warn on the common destructive mistakes (force-push to the default "
    "branch, recursive deletes of /, ~ or .., DROP DATABASE, piping downloads to a shell, ...) and "
    "check session state (context over 40%, repeated failing validations, success without validation, "
    "two open sessions on the same files). init installs them; they are tagged 'starter'.",
)(_starter_args)
def starter_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.flywheel import inject as flywheel
    from factorops.tools.kernel.actor import Actor

    with opened_store(args) as store:
        if args.action == "remove":
            ids = flywheel.remove_starter(store, utc_now())
            print(f"{len(ids)} starter guardrails retired" + ("" if ids else " (nothing to do)"))
            return 0
        report = flywheel.install_starters(store, utc_now(), Actor.cli())
    print(
        f"{len(report.installed)} starter guardrails installed, {len(report.reactivated)} re-activated, "
        f"{len(report.restored)} restored to the shipped rule"
        + ("" if report.changed else " (nothing to do)")
    )
    for pid in report.restored:
        print(f"  restored {pid}: its content differed from the shipped rule and no person changed it")
    for kept in report.kept:
        print(f"  kept {kept}: a person's change stays; retire it or promote a revision to change it")
    return 0


def _decay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--half-life-days", type=float, default=30.0, help="confidence halves after this many unused days"
    )
    p.add_argument(
        "--threshold", type=float, default=0.2, help="propose retiring below this faded confidence"
    )


@command(
    "decay",
    "list active patterns unused for so long they should be retired",
    "Confidence fades with time since a pattern last helped. Patterns below the threshold are proposed "
    "for retirement; retire them with `factorops patterns retire ID`.",
)(_decay_args)
def decay_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.flywheel import inject as flywheel

    if args.half_life_days <= 0 or not 0 < args.threshold < 1:
        raise CliError("--half-life-days must be > 0 and --threshold between 0 and 1")
    with opened_store(args) as store:
        props = flywheel.retirement_proposals(store, utc_now(), args.threshold, args.half_life_days)
    if not props:
        print("no pattern is below the threshold")
    for d in props:
        print(f"{d.id}  faded {d.faded:.2f} (was {d.confidence:.2f}, unused {d.days_unused} days)  {d.title}")
        print(f"    retire with: {advice(store.datadir, 'patterns', 'retire', d.id)}")
    return 0


def _agents_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="what to do (each has its own --help)"
    )
    im = sub.add_parser(
        "import",
        help="import learnings from a .agents/ folder as candidate patterns",
        description="Read the Markdown learnings (front matter type: learning) under a .agents/ "
        "folder inside the project and store them as candidate patterns; other files are counted "
        "and skipped, unsafe or malformed ones are listed with the reason.",
    )
    im.add_argument(
        "--dir",
        type=Path,
        help="the folder to read: relative to the project, or absolute inside it (default: .agents)",
    )
    ex = sub.add_parser(
        "export",
        help="write active patterns as .agents/ learnings",
        description="Write every active pattern as a Markdown learning with front matter, one file "
        "each, in the shape `agents import` reads.",
    )
    ex.add_argument("--dir", type=Path, help="the folder to write (default: <project>/.agents/learnings)")


@command(
    "agents",
    "import or export learnings kept as Markdown in a project's .agents/ folder",
    "Interop with the methodology's own tooling: learnings with front matter (type: learning, "
    "maturity, confidence, date) become candidate patterns; active patterns export in the same shape.",
)(_agents_args)
def agents_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.kernel.actor import Actor
    from factorops.tools.patterns import interop as agents_interop
    from factorops.tools.patterns import mining as pattern_mining
    from factorops.tools.patterns import records as patterns

    with opened_store(args) as store:
        root = store.datadir.root
        if args.action == "import":
            folder = str(args.dir) if args.dir else ".agents"
            report = agents_interop.import_learnings(root, folder)
            _, items = pattern_mining.merge_and_write(
                store, list(report.candidates), utc_now(), f"patterns: from {folder}/ learnings", Actor.cli()
            )
            print(
                f"{report.files_seen} files: {len(items)} candidates stored, {report.not_learnings} not learnings"
            )
            for s in report.refused + report.malformed:
                print(f"  not imported {s.path}: {s.reason}")
        else:
            dest = args.dir or root / ".agents" / "learnings"
            active = [
                patterns.get(store, str(r["id"]))
                for r in patterns.list_patterns(store, status="active", limit=100_000)
            ]
            written = agents_interop.export_learnings(active, dest, utc_now())
            print(f"wrote {len(written)} learnings to {dest}")
    return 0


def _transcripts_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base-dir", type=Path, help="where Claude Code keeps transcripts (default ~/.claude/projects)"
    )


@command(
    "mine-transcripts",
    "mine this project's assistant transcripts for candidate patterns (opt-in)",
    "Reads Claude Code's session transcripts for this project (~/.claude/projects/<project>/*.jsonl), "
    "streaming and incrementally, and proposes candidates: debug spirals, fixes that worked, the person "
    "correcting the assistant, context past 40%, success claimed without validation. Evidence keeps only "
    "short redacted excerpts.",
)(_transcripts_args)
def mine_transcripts_cmd(args: argparse.Namespace) -> int:
    import sys

    from factorops.tools.flywheel import mining as transcript_mining

    def bar(done: int, total: int, message: str) -> None:
        sys.stderr.write(f"\r{message:<50}")
        sys.stderr.flush()

    with opened_store(args) as store:
        r = transcript_mining.mine(store, utc_now(), args.base_dir, bar)
    sys.stderr.write("\n")
    print(
        f"{r.files} transcripts ({r.files_changed} with new lines), {r.lines} lines read, {r.bad_lines} bad lines skipped"
    )
    for p in r.problems:
        print(f"  problem: {p}")
    for c in r.candidates:
        print(f"{'merged ' if c.merged else 'new    '} {c.id}  {c.kind:<12} {c.title}")
    return 0
