"""What every `factorops` sub-command shares: the command registry, common options, logging, the store.

Over stdio, stdout belongs to the protocol, so everything we log goes to stderr and to a log file
in the data dir. Each sub-command lives in a small function; heavy imports happen inside them so
`factorops --help` and `serve` start fast.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factorops.store.datadir import DataDir
    from factorops.store.store import Store

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(
    name: str, help_text: str, description: str = ""
) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[[Handler], Handler]]:
    """Register a sub-command: `@command(...)` on a function adding its arguments, then on the handler.

    Other capability modules (approvals, patterns, dashboard, sync…) add their commands through this
    from `factorops.server.cli.base.project`, so this file stays small.
    """

    def add_args(args_fn: Callable[[argparse.ArgumentParser], None]) -> Callable[[Handler], Handler]:
        def set_handler(handler: Handler) -> Handler:
            COMMANDS[name] = (help_text, description or help_text, args_fn, handler)
            return handler

        return set_handler

    return add_args


def no_args(_: argparse.ArgumentParser) -> None:
    return None


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


class RedactFilter(logging.Filter):
    """Replaces secret values in each log message before any handler writes it (a tool error may
    quote the input that carried one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from factorops.tools.kernel.redact import redact

        message = record.getMessage()
        clean, counts = redact(message)
        if counts:
            record.msg, record.args = clean, None
        return True


def setup_logging(verbose: bool, log_dir: Path | None = None) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    redact_filter = RedactFilter()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.DEBUG if verbose else logging.WARNING)
    err.setFormatter(logging.Formatter("factorops %(levelname)s %(name)s: %(message)s"))
    err.addFilter(redact_filter)  # on the handlers: a logger's filter misses its children's records
    root.addHandler(err)
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            fh = logging.handlers.RotatingFileHandler(
                log_dir / "factorops.log", maxBytes=2_000_000, backupCount=2
            )
            fh.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
            fh.addFilter(redact_filter)
            root.addHandler(fh)
        except OSError as exc:
            logging.getLogger("factorops").warning("cannot write the log file in %s: %s", log_dir, exc)


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _project(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    env_project = os.environ.get("FACTOROPS_PROJECT")
    env_data = os.environ.get("FACTOROPS_DATA_DIR")
    project = args.project or (Path(env_project) if env_project else None)
    data_dir = args.data_dir or (Path(env_data) if env_data else None)
    if project is not None and not project.expanduser().is_dir():
        raise CliError(f"--project {project} is not a directory")
    return project, data_dir


def open_datadir(args: argparse.Namespace) -> DataDir:
    from factorops.store.datadir import DataDir

    project, data_dir = _project(args)
    return DataDir.for_project(project or Path.cwd(), data_dir)


def advice(dd: DataDir, *words: str, program: str = "factorops") -> str:
    """A `factorops ...` command to print as advice, with the project and (when it is not the
    default) the data dir this run used, quoted: pasted as printed, from any directory, it acts on
    the same data."""
    argv = [program, *words, "--project", str(dd.root)]
    if dd.path != dd.root / ".agentops":
        argv += ["--data-dir", str(dd.path)]
    return shlex.join(argv)


def executable() -> str:
    """The absolute path of the `factorops` script of this installation (e.g. `<repo>/.venv/bin/
    factorops`), for client configs: an MCP client starts servers without the user's shell PATH.
    Falls back to the bare name when this Python has no such script next to it."""
    script = Path(sys.executable).parent / "factorops"
    return str(script.absolute()) if script.is_file() else "factorops"


def tell_a_person_serve_waits(project: Path | None) -> None:
    """`serve` run by hand in a terminal looks hung: it waits for JSON-RPC on stdin. Say so on
    stderr (stdout belongs to the protocol), and how a client is connected. Only when stdin is a
    terminal: a client's pipe never sees this."""
    if not sys.stdin.isatty():
        return
    argv = [executable(), "serve"] + (["--project", str(project)] if project is not None else [])
    print(
        "factorops serve: waiting for an MCP client on stdin (this is the stdio server an MCP client "
        "starts itself; typing here does nothing useful).\n"
        f"  To connect a client, give it this command: {shlex.join(argv)}\n"
        "  Ready client configs: examples/ in the factorops repository (README: Connect a client).\n"
        "  Press Ctrl-C to stop.",
        file=sys.stderr,
        flush=True,
    )


def open_store(args: argparse.Namespace, create: bool = False) -> Store:
    """Open the project's store for a CLI command; refuse to create one unless asked."""
    from factorops.store.store import Store
    from factorops.tools.registry import components

    dd = open_datadir(args)
    if not create and not dd.exists():
        raise CliError(f"no factorops data in {dd.path}; run `{advice(dd, 'init')}` first")
    setup_logging(args.verbose, dd.log_dir if dd.path.exists() else None)
    return Store.open(dd, components())


@contextmanager
def opened_store(args: argparse.Namespace, *, with_field: bool = False) -> Iterator[Store]:
    """`with opened_store(args) as store:` the project's store for one command, closed after it.

    A `DomainError` raised inside becomes a `CliError` (one line, no traceback): its message, or
    `field: message` with `with_field` (where the field names the option that was wrong)."""
    from factorops.tools.kernel.errors import DomainError

    store = open_store(args)
    try:
        yield store
    except DomainError as exc:
        raise CliError(str(exc) if with_field else exc.message) from None
    finally:
        store.close()
