"""`factorops serve --http`, `factorops token show|rotate`, `factorops sync`: serving and sharing
beyond one machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from factorops.store.datadir import DataDir

from .base import CliError, _project, advice, command, open_datadir, opened_store


def add_http_args(p: argparse.ArgumentParser) -> None:
    """The `serve` options for HTTP; `project._serve_args` calls this."""
    p.add_argument(
        "--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address (default 127.0.0.1); any other address needs a token made beforehand "
        "with `factorops init` or `factorops token rotate`",
    )
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="accept this Host header too (a DNS name or proxy clients use); repeatable",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="accept browser requests from this Origin (scheme://host[:port]); repeatable",
    )


def serve_http_cmd(args: argparse.Namespace) -> int:
    """`factorops serve --http`: a fixed project (no MCP roots), the store opened before listening so
    a broken data dir fails here with a message rather than on the first call."""
    from factorops.server.http import HttpConfigError, HttpOptions, serve_http
    from factorops.server.mcp.app import build_app
    from factorops.server.mcp.runtime import Runtime

    from .base import setup_logging

    project, data_dir = _project(args)
    runtime = Runtime(project=project or Path.cwd(), data_dir=data_dir, use_roots=False, settle_heap=True)
    datadir = DataDir.for_project(runtime.project or Path.cwd(), data_dir)
    setup_logging(args.verbose, datadir.log_dir if datadir.path.exists() else None)
    try:
        runtime.store_sync()
    except Exception as exc:
        raise CliError(f"cannot open the factorops data in {datadir.path}: {exc}") from exc
    opts = HttpOptions(
        host=args.host, port=args.port, allow_hosts=args.allow_host, allow_origins=args.allow_origin
    )
    try:
        return serve_http(build_app(runtime), datadir, opts)
    except HttpConfigError as exc:
        raise CliError(str(exc)) from None
    finally:
        runtime.close()


# -- token -------------------------------------------------------------------------------------------


def _token_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="what to do (each has its own --help)"
    )
    sub.add_parser(
        "show",
        help="print the token (created if there is none)",
        description="Print the bearer token remote clients send to `serve --http` (on stdout, alone, "
        "so `$(factorops token show)` works); creates one if there is none.",
    )
    sub.add_parser(
        "rotate",
        help="replace the token; running servers refuse the old one at once",
        description="Replace the bearer token with a new random one and print it; running servers "
        "refuse the old one at once, so give the new one to your clients.",
    )
    add = sub.add_parser(
        "add",
        help="make a token for one person (printed once); the dashboard then needs person tokens to decide",
        description="Make a token for one person and print it (only its hash is kept, so save it now). "
        "The person signs in to the dashboard with it and their decisions are recorded under their "
        "name; it also works as a bearer token for `serve --http`. Once anyone has a person token, "
        "the install token can no longer decide or promote in the dashboard.",
    )
    add.add_argument("name", metavar="NAME", help="who the token is for: 1-40 of a-z 0-9 . _ - (e.g. alice)")
    revoke = sub.add_parser(
        "revoke",
        help="delete a person's token; their requests, cookies and open streams end at once",
        description="Delete a person's token. Running servers and dashboards refuse it from the next "
        "request on, and event streams opened with it end within a second.",
    )
    revoke.add_argument("name", metavar="NAME", help="the person whose token to delete (see `token list`)")
    sub.add_parser(
        "list",
        help="list the people who have a token (names and dates, never the tokens)",
        description="List the people who have a token, one per line with the date it was added. Tokens "
        "themselves are not stored, only their hashes.",
    )


@command(
    "token",
    "show or rotate the install token; add, revoke or list person tokens",
    "The install token lives in <data dir>/http_token (mode 0600, never in the ledger). Remote "
    "clients send it as the header 'Authorization: Bearer <token>'. Person tokens (`token add NAME`) "
    "name who made a request and who decided; their hashes live in <data dir>/people_tokens.json "
    "(0600). Rotating or revoking takes effect on running servers and dashboards immediately.",
)(_token_args)
def token_cmd(args: argparse.Namespace) -> int:
    from factorops.server.auth_token import (
        TokenError,
        add_person,
        ensure_token,
        read_people,
        revoke_person,
        rotate_token,
        token_path,
    )

    dd = open_datadir(args)
    if not dd.exists():
        raise CliError(f"no factorops data in {dd.path}; run `{advice(dd, 'init')}` first")
    try:
        if args.action == "add":
            token = add_person(dd, args.name)
            print(f"token for {args.name} (shown once; only its hash is kept):", file=sys.stderr)
        elif args.action == "revoke":
            revoke_person(dd, args.name)
            print(f"revoked {args.name}'s token; it is refused from now on", file=sys.stderr)
            return 0
        elif args.action == "list":
            people = read_people(dd)
            if not people:
                print("no person tokens (the install token is the only credential)", file=sys.stderr)
            for p in sorted(people.values(), key=lambda p: p.name):
                print(f"{p.name}\tadded {p.added or '?'}")
            return 0
        elif args.action == "rotate":
            token = rotate_token(dd)
            print(
                f"token rotated in {token_path(dd)}; clients using the old one are refused", file=sys.stderr
            )
        else:
            token, created = ensure_token(dd)
            if created:
                print(f"created a token in {token_path(dd)}", file=sys.stderr)
    except TokenError as exc:
        msg = str(exc)
        if msg.endswith("revoke it first"):
            msg += f": `{advice(dd, 'token', 'revoke', args.name)}`"
        raise CliError(msg) from None
    print(token)
    return 0


# -- sync --------------------------------------------------------------------------------------------


def _sync_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--remote",
        metavar="URL",
        help="git URL or path of the shared ledger repository (a bare repo); remembered for next time",
    )


@command(
    "sync",
    "pull and push the ledger to a git remote the team shares",
    "Fetch the shared ledger, merge it into this one (records are files with unique ids, so "
    "teammates never conflict; an in-place file both sides changed keeps the newest version), bring "
    "the SQLite index up to date with what arrived, and push. The remote is remembered in the "
    "ledger's git config: pass --remote once. See docs/sync.md.",
)(_sync_args)
def sync_cmd(args: argparse.Namespace) -> int:
    from factorops.tools.sharing.sync import SyncInput, sync

    with opened_store(args) as store:
        result = sync(store, SyncInput(remote=args.remote))
    print(
        f"synced with {result.remote}: {result.fetched_commits} commit(s) in ({result.merge}), "
        f"{result.indexed} record(s) indexed, pushed"
    )
    for path in result.resolved:
        print(f"  both sides changed {path}: kept the newest (the other is in git history)")
    for err in result.index_errors:
        print(
            f"not indexed (fix the file by hand, then `{advice(store.datadir, 'rebuild')}`): {err}",
            file=sys.stderr,
        )
    return 1 if result.index_errors else 0


def ensure_token_quietly(datadir: DataDir) -> None:
    """`factorops init` makes the token so a later `serve --http --host 0.0.0.0` has one; a data dir
    we cannot write the token into is reported, not fatal (stdio serving does not need it)."""
    from factorops.server.auth_token import TokenError, ensure_token

    try:
        ensure_token(datadir)
    except TokenError as exc:
        print(f"factorops init: no HTTP token made: {exc}", file=sys.stderr)
