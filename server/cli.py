"""The `factorops` command line: serve the MCP server, and the chores people do by hand.

Over stdio, stdout belongs to the protocol, so everything we log goes to stderr and to a log file
in the data dir. Each sub-command lives in a small function; heavy imports happen inside them so
`factorops --help` and `serve` start fast.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from factorops import __version__

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(
    name: str, help_text: str, description: str = ""
) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[[Handler], Handler]]:
    """Register a sub-command: `@command(...)` on a function adding its arguments, then on the handler.

    Other capability modules (approvals, patterns, dashboard, sync…) add their commands through this
    from `factorops.server.cli_commands`, so this file stays small.
    """

    def add_args(args_fn: Callable[[argparse.ArgumentParser], None]) -> Callable[[Handler], Handler]:
        def set_handler(handler: Handler) -> Handler:
            _COMMANDS[name] = (help_text, description or help_text, args_fn, handler)
            return handler

        return set_handler

    return add_args


def no_args(_: argparse.ArgumentParser) -> None:
    return None


def build_parser() -> argparse.ArgumentParser:
    from . import cli_commands  # noqa: F401  (registers the sub-commands)

    parser = argparse.ArgumentParser(
        prog="factorops",
        description="12-Factor AgentOps for AI coding assistants: an MCP server plus the commands "
        "people use beside it. Data lives in <project>/.agentops/ (SQLite index + git ledger).",
    )
    parser.add_argument("--version", action="version", version=f"factorops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, description, args_fn, _) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=description)
        add_common(p)
        args_fn(p)
        # Nested actions (`patterns promote ID --project X`) accept the common options too.
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for nested in action.choices.values():
                    add_common(nested)
    return parser


def add_common(p: argparse.ArgumentParser) -> None:
    """--project, --data-dir, -v. Defaults are SUPPRESS so a nested parser never resets a value
    given before it; `main` fills in the real defaults."""
    p.add_argument(
        "--project",
        type=Path,
        default=argparse.SUPPRESS,
        help="the project (repository) to work on; default: $FACTOROPS_PROJECT, then the "
        "client's first MCP root (serve only), then the current directory",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="where the index and ledger live; default: $FACTOROPS_DATA_DIR or <project>/.agentops",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug detail to stderr"
    )


def setup_logging(verbose: bool, log_dir: Path | None = None) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.DEBUG if verbose else logging.WARNING)
    err.setFormatter(logging.Formatter("factorops %(levelname)s %(name)s: %(message)s"))
    root.addHandler(err)
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            fh = logging.handlers.RotatingFileHandler(
                log_dir / "factorops.log", maxBytes=2_000_000, backupCount=2
            )
            fh.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
            root.addHandler(fh)
        except OSError as exc:
            logging.getLogger("factorops").warning("cannot write the log file in %s: %s", log_dir, exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, value in (("project", None), ("data_dir", None), ("verbose", False)):
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.command is None:
        parser.print_help()
        return 0
    handler = _COMMANDS[args.command][3]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"factorops {args.command}: {exc}", file=sys.stderr)
        return 2


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


if __name__ == "__main__":
    raise SystemExit(main())
