"""The `factorops` command line: serve the MCP server, and the chores people do by hand.

Over stdio, stdout belongs to the protocol, so everything we log goes to stderr and to a log file
in the data dir. Each sub-command module registers its commands through `base.command`; this module
imports them all once, so no command module imports another (but `project` uses `remote`'s HTTP
options for `serve`). Heavy imports happen inside the handlers so `factorops --help` and `serve`
start fast.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import types
from collections.abc import Sequence

from factorops import __version__

from .base import COMMANDS, CliError, add_common


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only` ("serve"), that command's alone: a client starts
    `serve` for every session, and importing and building every other command is start-up it pays
    for nothing. The parse of a serve command line is the same (its usage, errors and defaults)."""
    from . import project, remote

    if only is None:
        from . import approvals, dashboard, flywheel, hooks, patterns

        # the order `--help` lists them in
        MODULES: tuple[types.ModuleType, ...] = (
            project,
            approvals,
            patterns,
            flywheel,
            dashboard,
            remote,
            hooks,
        )
    else:
        MODULES = (project, remote)
    parser = argparse.ArgumentParser(
        prog="factorops",
        description="12-Factor AgentOps for AI coding assistants: an MCP server plus the commands "
        "people use beside it. Data lives in <project>/.agentops/ (SQLite index + git ledger).",
    )
    parser.add_argument("--version", action="version", version=f"factorops {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", help="run `factorops COMMAND --help` for its options"
    )
    order = [m.__name__ for m in MODULES]
    chosen = [kv for kv in COMMANDS.items() if only is None or kv[0] == only]
    by_module = sorted(chosen, key=lambda kv: order.index(kv[1][3].__module__))
    for name, (help_text, description, args_fn, _) in by_module:
        p = sub.add_parser(name, help=help_text, description=description)
        add_common(p)
        args_fn(p)
        # Nested actions (`patterns promote ID --project X`) accept the common options too.
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for nested in action.choices.values():
                    add_common(nested)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # A hook runs on every tool call: no command module, no parser of theirs. Its --help is the
    # registered command's, so it reads like every other command's.
    if words[:1] == ["hook"] and not {"-h", "--help"} & set(words):
        from factorops.server.hooks import run

        return run.cli(words[1:])
    # `serve` (what a client starts, once per session) builds its own parser only; its --help too,
    # which reads the same.
    parser = build_parser("serve" if words[:1] == ["serve"] else None)
    args = parser.parse_args(words)
    for name, value in (("project", None), ("data_dir", None), ("verbose", False)):
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.command is None:
        parser.print_help()
        return 0
    handler = COMMANDS[args.command][3]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"factorops {args.command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.DatabaseError) as exc:  # the data dir: one line that says what to do
        from factorops.store.errors import describe

        print(f"factorops {args.command}: {describe(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
