"""`factorops hook CLIENT` (what a client runs on each event) and `factorops hooks install|uninstall|
status`: opt-in client hooks that enforce guardrails and report context, spirals and briefings."""

from __future__ import annotations

import argparse
from pathlib import Path

from .base import CliError, command, executable

CLIENT_CHOICES = ("claude-code", "cursor")


def _hook_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("client", choices=CLIENT_CHOICES, help="the client whose event JSON arrives on stdin")


COMMANDS_HOOK_DESCRIPTION = (
    "Read one hook event as JSON on stdin (Claude Code or Cursor format), answer in that client's "
    "format on stdout. Always exits 0: problems go to stderr. Installed by `factorops hooks install`."
)


@command("hook", "run one client hook event (what installed hooks call)", COMMANDS_HOOK_DESCRIPTION)(
    _hook_args
)
def hook_cmd(args: argparse.Namespace) -> int:
    from factorops.server.hooks import run

    return run.main(args.client, args.project, args.data_dir)


def _hooks_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("install", "uninstall", "status"), help="what to do")
    p.add_argument("--client", choices=CLIENT_CHOICES, required=True, help="which client's settings")
    p.add_argument(
        "--scope",
        choices=("project", "local", "user"),
        default="project",
        help="project: .claude/settings.json or .cursor/hooks.json in the project; local: "
        ".claude/settings.local.json (not committed); user: ~/.claude/settings.json or "
        "~/.cursor/hooks.json (every project)",
    )


@command(
    "hooks",
    "install, remove or check the client hooks (opt-in)",
    "Merge factorops's hook entries into a client's settings (backup first, others' entries kept, "
    "idempotent), remove only them, or show what is installed and whether it runs.",
)(_hooks_args)
def hooks_cmd(args: argparse.Namespace) -> int:
    from factorops.server.hooks import install

    project = (args.project or Path.cwd()).expanduser().resolve()
    try:
        path = install.settings_path(args.client, args.scope, project)
        if args.action == "install":
            ch = install.install(args.client, path, install.hook_command(executable(), args.client))
            if not ch.changed:
                print(f"{path}: factorops hooks already installed; nothing changed")
            else:
                print(f"{path}: factorops hooks installed for {', '.join(ch.events)}")
                if ch.backup:
                    print(f"  previous file kept as {ch.backup}")
            if not (project / ".agentops").exists() and args.scope != "user":
                print(f"  note: {project} has no factorops data yet; run `factorops init` there")
        elif args.action == "uninstall":
            ch = install.uninstall(args.client, path)
            if not ch.changed:
                print(f"{path}: no factorops hooks there; nothing changed")
            else:
                print(f"{path}: factorops hooks removed from {', '.join(ch.events)}")
                if ch.backup:
                    print(f"  previous file kept as {ch.backup}")
        else:
            st = install.status(args.client, path)
            if not st.events:
                print(
                    f"{path}: no factorops hooks installed (`factorops hooks install --client {args.client}`)"
                )
                return 1
            print(f"{path}: factorops hooks on {', '.join(st.events)}")
            if st.missing:
                print(f"  missing: {', '.join(st.missing)} (install again to add them)")
            for c in st.commands:
                print(f"  command: {c}")
            print(f"  runs: {st.runs}")
            return 0 if st.runs == "ok" and not st.missing else 1
    except install.InstallError as exc:
        raise CliError(str(exc)) from None
    return 0
