"""`factorops dashboard`: serve the local web page for people."""

from __future__ import annotations

import argparse
import sys

from .base import CliError, command, open_store

# tools.oversight.approvals.DASHBOARD_PORT (the approval links point there), written out so that
# building the parser imports no domain module; tests/test_cli_help.py checks the two agree.
DASHBOARD_PORT = 8766


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--port", type=int, default=DASHBOARD_PORT, help=f"port on 127.0.0.1 (default {DASHBOARD_PORT})"
    )
    p.add_argument("--open", action="store_true", help="open the page in the default browser")


@command(
    "dashboard",
    "serve the approvals, patterns, sessions and metrics pages on 127.0.0.1",
    "A local web page for people: decide pending approvals, search and promote patterns, read session "
    "timelines and metrics charts. Binds 127.0.0.1 only; the printed link carries this install's token.",
)(_args)
def dashboard_cmd(args: argparse.Namespace) -> int:
    import uvicorn

    from factorops.server.auth_token import Credentials, ensure_token
    from factorops.server.web.app import build

    if not 1 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a TCP port")
    store = open_store(args)
    token, _ = ensure_token(store.datadir)
    url = f"http://127.0.0.1:{args.port}/?token={token}"
    print(f"factorops dashboard: {url}", file=sys.stderr)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    try:
        # Live credentials: a rotated or revoked token is refused on its next request.
        uvicorn.run(
            build(store, Credentials(store.datadir)), host="127.0.0.1", port=args.port, log_level="warning"
        )
    finally:
        store.close()
    return 0
