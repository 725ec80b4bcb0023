"""Context loading vs aider's repo map on real repository histories (issue #17).

For every task (a real commit: its subject is the task, the source files it changed are the gold)
the repository is checked out at the commit's parent in a worktree under the cache, and:

- factorops: `context_load` through the library function the MCP tool calls
  (factorops.tools.context.load.load) on a store opened as the tests open one (data dir in the
  cache, outside the tree), at each budget. The reply is what the client receives: the result's
  JSON text as the MCP SDK renders it (pydantic_core.to_json(result, indent=2)); its tokens are
  counted with o200k_base. Latency is warm: the index is caught up first (timed apart).
- aider: `aider.repomap.RepoMap` in aider's own virtual environment (aider_map.py), same budgets
  as map_tokens, same token counter, the task's mentioned file names and identifiers as aider
  derives them, no chat files.

Recall = the share of gold paths that appear in the reply (a path counts when it stands alone, not
as part of a longer path). Usage: see docs/context-eval.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic_core

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.context import load as context
from factorops.tools.kernel.tokens import cache_dir, count_tokens, get_encoding
from factorops.tools.registry import components

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repos import REPOS, Repo  # noqa: E402
from tasks import Task, mine  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(os.environ.get("FACTOROPS_EVAL_CACHE", "~/.cache/factorops-eval")).expanduser()
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the loader's clock; nothing in a fresh store depends on it


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def mentions(text: str, path: str) -> bool:
    """`path` appears in `text` as a whole path (not inside a longer one like tests/<path>)."""
    return re.search(r"(?<![\w./-])" + re.escape(path) + r"(?![\w/-]|\.\w)", text) is not None


# -- repositories and worktrees ------------------------------------------------------------------


def bare_repo(repo: Repo, cache: Path, mirror_root: Path | None) -> Path:
    gitdir = cache / "repos" / f"{repo.slug}.git"
    if not gitdir.exists():
        gitdir.parent.mkdir(parents=True, exist_ok=True)
        mirror = mirror_root / repo.slug / "repo" if mirror_root else None
        source = str(mirror) if mirror and mirror.exists() else repo.url
        print(f"cloning {repo.name} from {source}", flush=True)
        git("clone", "--quiet", "--bare", source, str(gitdir))
    git(f"--git-dir={gitdir}", "cat-file", "-e", f"{repo.commit}^{{commit}}")
    return gitdir


def move_tree(gitdir: Path, tree: Path, commit: str) -> None:
    if not (tree / ".git").exists():
        shutil.rmtree(tree, ignore_errors=True)
        git(f"--git-dir={gitdir}", "worktree", "prune")
        git(f"--git-dir={gitdir}", "worktree", "add", "--quiet", "--detach", "--force", str(tree), commit)
    else:
        git("checkout", "--quiet", "--detach", "--force", commit, cwd=tree)
        git("clean", "-qfdx", cwd=tree)  # nothing from an earlier task stays behind


# -- aider, in its own interpreter -----------------------------------------------------------------


class Aider:
    def __init__(self, python: str) -> None:
        env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache_dir())}
        self.proc = subprocess.Popen(
            [python, str(HERE / "aider_map.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def maps(
        self, root: Path, files: list[str], task: str, budgets: list[int], cache: Path
    ) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        req = {"root": str(root), "files": files, "task": task, "budgets": budgets, "cache": str(cache)}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the aider worker exited (is aider-chat installed in --aider-python?)")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"aider: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


# -- one repository --------------------------------------------------------------------------------


@dataclass
class Row:
    task: Task
    fo_recall: dict[int, float] = field(default_factory=dict)
    fo_tokens: dict[int, int] = field(default_factory=dict)
    fo_seconds: dict[int, float] = field(default_factory=dict)
    fo_first: dict[int, list[str]] = field(default_factory=dict)
    fo_items_recall: dict[int, float] = field(default_factory=dict)  # given as content or outline
    ai_recall: dict[int, float] = field(default_factory=dict)
    ai_tokens: dict[int, int] = field(default_factory=dict)
    ai_seconds: dict[int, float] = field(default_factory=dict)
    ai_first: dict[int, list[str]] = field(default_factory=dict)
    catch_up: float = 0.0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "task"}
        return {**self.task.to_json(), **d}


def recall(text: str, gold: tuple[str, ...]) -> float:
    return sum(mentions(text, g) for g in gold) / len(gold)


def map_paths(text: str) -> list[str]:
    """The files an aider map names, in order (a path alone on a line, ending with ':')."""
    return [
        ln[:-1] for ln in text.splitlines() if ln.endswith(":") and not ln.startswith((" ", "\t", "⋮", "│"))
    ]


def run_repo(repo: Repo, args: argparse.Namespace, aider: Aider | None, log: Any) -> list[Row]:
    cache: Path = args.cache
    gitdir = bare_repo(repo, cache, args.mirror_root)
    tasks = mine(repo, gitdir, args.tasks)
    work = cache / "work" / repo.slug
    tree = work / "tree"
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    store: Store | None = None
    aider_cache_path = work / "aider-results.jsonl"
    aider_cache: dict[str, dict[str, Any]] = {}
    if aider_cache_path.exists():
        for line in aider_cache_path.read_text().splitlines():
            rec = json.loads(line)
            aider_cache[rec.pop("key")] = rec
    print(f"== {repo.name} @ {repo.commit[:10]}: {len(tasks)} tasks", flush=True)
    try:
        for n, task in enumerate(tasks, 1):
            move_tree(gitdir, tree, task.parent)
            if store is None:
                datadir = DataDir.for_project(tree, data_dir=work / "agentops")
                store = Store.open(datadir, components())
            row = Row(task)
            t = time.perf_counter()
            context.ensure_index(store)
            row.catch_up = time.perf_counter() - t
            for budget in args.budgets:
                inp = context.ContextLoadInput(task=task.text, budget_tokens=budget)
                t = time.perf_counter()
                try:
                    result = context.load(store, inp, NOW)
                except Exception as exc:  # the loader may be mid-change: count it, go on
                    row.fo_seconds[budget] = time.perf_counter() - t
                    row.errors.append(f"{budget}: {type(exc).__name__}: {exc}")
                    row.fo_tokens[budget], row.fo_recall[budget], row.fo_first[budget] = 0, 0.0, []
                    row.fo_items_recall[budget] = 0.0
                    continue
                row.fo_seconds[budget] = time.perf_counter() - t
                reply = pydantic_core.to_json(result, indent=2).decode()
                row.fo_tokens[budget] = count_tokens(reply)
                row.fo_recall[budget] = recall(reply, task.gold)
                row.fo_first[budget] = [i.path for i in result.items][:5]
                given = {i.path for i in result.items}
                row.fo_items_recall[budget] = sum(g in given for g in task.gold) / len(task.gold)
            if aider is not None:
                key = f"{args.aider_version} {task.sha} {task.text} {args.budgets}"
                got = aider_cache.get(key)
                if got is None:  # the baseline does not change between runs: computed once
                    files = [f for f in git("ls-files", "-z", cwd=tree).split("\0") if f]
                    got = aider.maps(tree, files, task.text, args.budgets, work / "aider-tags")
                    aider_cache[key] = got
                    with aider_cache_path.open("a") as fh:
                        fh.write(json.dumps({"key": key, **got}) + "\n")
                for budget in args.budgets:
                    text = got["maps"][str(budget)]
                    row.ai_seconds[budget] = got["seconds"][str(budget)]
                    row.ai_tokens[budget] = count_tokens(text)
                    row.ai_recall[budget] = recall(text, task.gold)
                    row.ai_first[budget] = map_paths(text)[:5]
            rows.append(row)
            log.write(json.dumps(row.to_json()) + "\n")
            log.flush()
            fo = "/".join(f"{row.fo_recall[b]:.2g}" for b in args.budgets)
            ai = "/".join(f"{row.ai_recall[b]:.2g}" for b in args.budgets) if aider else "-"
            print(
                f"[{repo.name} {n}/{len(tasks)}] recall factorops {fo}  aider {ai}  "
                f"(catch-up {row.catch_up * 1000:.0f} ms) {task.text[:60]}"
                + (f"  ERROR {row.errors[0][:120]}" if row.errors else ""),
                flush=True,
            )
    finally:
        if store is not None:
            store.close()
    return rows


# -- the report ------------------------------------------------------------------------------------


def p50(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def table(rows: list[Row], budgets: list[int], with_aider: bool) -> list[str]:
    out = [
        "| budget | recall factorops | recall aider | factorops: gold in items | mean reply tokens factorops "
        "| mean reply tokens aider | replies > budget+5% factorops / aider | warm p50 factorops | p50 aider "
        "| factorops errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in budgets:
        fo_r = statistics.mean(r.fo_recall[b] for r in rows)
        fo_t = statistics.mean(r.fo_tokens[b] for r in rows)
        fo_over = sum(r.fo_tokens[b] > 1.05 * b for r in rows)
        fo_ms = p50([r.fo_seconds[b] for r in rows]) * 1000
        if with_aider:
            ai_r = f"{statistics.mean(r.ai_recall[b] for r in rows):.3f}"
            ai_t = f"{statistics.mean(r.ai_tokens[b] for r in rows):.0f}"
            ai_over = str(sum(r.ai_tokens[b] > 1.05 * b for r in rows))
            ai_ms = f"{p50([r.ai_seconds[b] for r in rows]) * 1000:.0f} ms"
        else:
            ai_r = ai_t = ai_over = ai_ms = "-"
        mark = "" if not with_aider or fo_r >= float(ai_r) else " ✗"
        out.append(
            f"| {b:,} | {fo_r:.3f}{mark} | {ai_r} | {statistics.mean(r.fo_items_recall[b] for r in rows):.3f} "
            f"| {fo_t:.0f} | {ai_t} | {fo_over} / {ai_over} "
            f"| {fo_ms:.0f} ms | {ai_ms} | {sum(any(e.startswith(f'{b}:') for e in r.errors) for r in rows)} |"
        )
    return out


def report(results: dict[Repo, list[Row]], args: argparse.Namespace, command: str, started: datetime) -> str:
    with_aider = args.aider_python is not None
    head = git("rev-parse", "--short", "HEAD", cwd=HERE).strip()
    dirty = git("status", "--porcelain", "--", "tools/context", cwd=HERE.parent.parent).strip()
    lines = [
        "# Context loading vs aider's repo map (issue #17)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on factorops {head}"
        + (" (tools/context/ had uncommitted changes)" if dirty else "")
        + f"; aider-chat {args.aider_version or '-'}; budgets {', '.join(f'{b:,}' for b in args.budgets)}"
        " tokens (o200k_base). ✗ marks a budget where factorops recalls less than aider.",
        "",
        f"Command: `{command}`",
        "",
        "How it is measured: docs/context-eval.md. Recall = share of the gold files (source files the "
        "commit changed) whose path appears in the reply; reply tokens = the whole JSON text the client "
        "receives for factorops, the map text for aider; warm p50 = median time of one load with the "
        'index already caught up with the checkout. "gold in items": share of gold files factorops '
        "gives as content or outline (not only named in `left_out`).",
        "",
        "| repository | commit | language | tasks |",
        "|---|---|---|---:|",
    ]
    for repo, rows in results.items():
        lines.append(f"| {repo.name} | `{repo.commit}` | {repo.language} | {len(rows)} |")
    for repo, rows in results.items():
        if rows:
            lines += ["", f"## {repo.name}", "", *table(rows, args.budgets, with_aider)]
    every = [r for rows in results.values() for r in rows]
    if every:
        lines += [
            "",
            "## All repositories (every task weighs the same)",
            "",
            *table(every, args.budgets, with_aider),
        ]
    return "\n".join(lines) + "\n"


def failures(results: dict[Repo, list[Row]], budgets: list[int]) -> str:
    out = ["# Tasks where factorops misses gold files that aider finds (or both miss)", ""]
    for repo, rows in results.items():
        out += [f"## {repo.name}", ""]
        for r in rows:
            lost = [b for b in budgets if r.fo_recall[b] < r.ai_recall.get(b, 0.0)]
            missed = [b for b in budgets if r.fo_recall[b] < 1.0]
            if not missed:
                continue
            tag = "LOSES to aider at " + ", ".join(map(str, lost)) if lost else "misses"
            out.append(f"- **{r.task.text}** ({r.task.sha[:10]}) — {tag}")
            out.append(f"  - gold: {', '.join(r.task.gold)}")
            for b in budgets:
                out.append(
                    f"  - {b}: factorops {r.fo_recall[b]:.2g} {r.fo_tokens[b]} tok first {r.fo_first[b][:3]}"
                    + (
                        f"; aider {r.ai_recall[b]:.2g} {r.ai_tokens[b]} tok first {r.ai_first[b][:3]}"
                        if b in r.ai_recall
                        else ""
                    )
                )
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="clones, worktrees, indexes, logs")
    ap.add_argument(
        "--mirror-root", type=Path, default=None, help="local bare mirrors: <root>/<owner+name>/repo"
    )
    ap.add_argument("--repos", default="", help="comma-separated owner/name subset")
    ap.add_argument("--tasks", type=int, default=45, help="tasks per repository")
    ap.add_argument("--budgets", default="1000,2000,8000")
    ap.add_argument(
        "--aider-python", default=None, help="python of a venv with aider-chat (omit: no baseline)"
    )
    ap.add_argument("--out", type=Path, default=HERE / "results.md")
    ap.add_argument("--failures", type=Path, default=None, help="also write the per-task misses here")
    args = ap.parse_args(argv)
    args.cache = args.cache.expanduser().resolve()
    args.budgets = [int(b) for b in args.budgets.split(",")]
    if args.cache.is_relative_to(HERE.parent.parent):
        ap.error("--cache must be outside the repository")
    wanted = {s.strip() for s in args.repos.split(",") if s.strip()}
    repos = [r for r in REPOS if not wanted or r.name in wanted]
    command = "python3 bench/eval_context/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = datetime.now(UTC)
    get_encoding()  # seeds the offline vocabulary that the aider worker reads too
    args.aider_version = None
    aider = None
    if args.aider_python:
        args.aider_version = subprocess.run(
            [args.aider_python, "-c", "import aider; print(aider.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        aider = Aider(args.aider_python)
    (args.cache / "logs").mkdir(parents=True, exist_ok=True)
    log_path = args.cache / "logs" / f"run-{started:%Y%m%d-%H%M%S}.jsonl"
    results: dict[Repo, list[Row]] = {}
    t0 = time.perf_counter()
    try:
        with log_path.open("w") as log:
            for repo in repos:
                results[repo] = run_repo(repo, args, aider, log)
    finally:
        if aider is not None:
            aider.close()
    text = report(results, args, command, started)
    text += f"\nWall time {time.perf_counter() - t0:.0f} s. Per-task records: {log_path} (not committed).\n"
    args.out.write_text(text)
    print(text)
    if args.failures:
        args.failures.write_text(failures(results, args.budgets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
