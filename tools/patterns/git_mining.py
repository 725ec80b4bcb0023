"""What a repository's git history teaches: reverts, fix-after-fix chains, hot spots, co-change
and the commit-message convention, as candidate patterns with the commits as evidence.

The user's repository is only read (`git log`, `git rev-list`). History is streamed oldest first
so a 10,000-commit log reports progress as it goes. Detectors that need the whole history (hot
spots, co-change, convention, fix chains spanning two runs) work on running totals kept in a
`GitStats` that the caller persists, so an incremental run reads only new commits yet judges
them against everything mined before.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from factorops.store import git as gitrun
from factorops.tools.kernel.errors import DomainError
from factorops.tools.kernel.redact import redact

from .model import Evidence, PatternCandidate

Progress = Callable[[int, int], None]  # (commits read, commits to read)

CONVENTIONAL = re.compile(r"^(feat|fix|chore|docs|refactor|test|perf|ci|build|style|revert)(\([^)]*\))?!?: ")
FIX = re.compile(r"\b(fix|fixes|fixed|fixup|hotfix|bugfix|repair|correct)\b", re.IGNORECASE)
REVERT_BODY = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
FIX_WINDOW = 10  # fixes to one file within this many commits form a chain
FIX_CHAIN_MIN = 3
HOTSPOT_MIN_SHARE = 0.1
HOTSPOT_MIN_CHANGES = 10
COCHANGE_MIN = 5
COCHANGE_SHARE = 0.6
MAX_FILES_FOR_PAIRS = 12  # a commit touching more files says little about which belong together
PAIRS_KEPT = 20_000
_SEP_COMMIT, _SEP_FIELD, _SEP_BODY = "\x1e", "\x1f", "\x1d"


@dataclass
class Commit:
    sha: str
    subject: str
    when: int
    body: str
    files: list[str] = field(default_factory=list)


@dataclass
class GitStats:
    """Running totals over every commit mined so far (persisted between runs by the caller)."""

    commits: int = 0
    conventional: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    recent_fixes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # file -> (ordinal, sha)
    touched: set[str] = field(default_factory=set)  # files changed in this run
    last_shas: dict[str, list[str]] = field(default_factory=dict)  # file -> newest shas (evidence)

    def prune_pairs(self) -> None:
        if len(self.pairs) > PAIRS_KEPT:
            self.pairs = Counter(dict(self.pairs.most_common(PAIRS_KEPT)))


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return gitrun.run_text(root, *args)


def head(root: Path) -> str | None:
    proc = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def is_ancestor(root: Path, sha: str) -> bool:
    """False when history was rewritten under the cursor (then mining starts over)."""
    return _git(root, "merge-base", "--is-ancestor", sha, "HEAD").returncode == 0


def _range(since_sha: str | None, since_date: str | None) -> list[str]:
    args = ["--no-merges"]
    if since_date:
        args.append(f"--since={since_date}")
    args.append(f"{since_sha}..HEAD" if since_sha else "HEAD")
    return args


def count(root: Path, since_sha: str | None, since_date: str | None) -> int:
    if head(root) is None:
        return 0
    proc = _git(root, "rev-list", "--count", *_range(since_sha, since_date))
    if proc.returncode != 0:
        raise DomainError("since", f"git could not list the history: {proc.stderr.strip()[:200]}")
    return int(proc.stdout.strip() or 0)


def read_commits(
    root: Path,
    since_sha: str | None,
    since_date: str | None,
    progress: Progress | None = None,
    total: int | None = None,
) -> Iterator[Commit]:
    """Commits after `since_sha` (all when None), oldest first, streamed from one `git log`."""
    if head(root) is None:
        return
    if total is None:
        total = count(root, since_sha, since_date)
    fmt = f"--format={_SEP_COMMIT}%H{_SEP_FIELD}%s{_SEP_FIELD}%at{_SEP_FIELD}%b{_SEP_BODY}"
    with gitrun.popen(root, "log", "--reverse", "--name-only", fmt, *_range(since_sha, since_date)) as proc:
        assert proc.stdout is not None
        done = 0
        buf = ""
        for chunk in iter(lambda: proc.stdout.read(1 << 16), ""):
            buf += chunk
            *complete, buf = buf.split(_SEP_COMMIT)
            for block in complete:
                if block:
                    yield _parse(block)
                    done += 1
                    if progress and done % 250 == 0:
                        progress(done, total)
        if buf:
            yield _parse(buf)
            done += 1
    if progress:
        progress(done, max(total, done))


def _parse(block: str) -> Commit:
    head_part, _, names = block.partition(_SEP_BODY)
    sha, subject, when, body = (head_part.split(_SEP_FIELD) + ["", "", "0", ""])[:4]
    files = [n for n in names.strip().splitlines() if n]
    return Commit(sha, subject, int(when or 0), body, files)


# -- evidence text ---------------------------------------------------------------------------------

EXCERPT_MAX = 500  # Evidence.excerpt's bound


def subjects(root: Path, shas: list[str]) -> dict[str, str]:
    """Subjects of the given commits, read with one `git log`; shas git does not know are left out."""
    wanted = list(dict.fromkeys(s for s in shas if re.fullmatch(r"[0-9a-f]{7,40}", s)))
    if not wanted:
        return {}
    proc = gitrun.run_text(
        root,
        "log",
        "--no-walk=unsorted",
        "--ignore-missing",
        "--stdin",
        f"--format=%H{_SEP_FIELD}%s",
        input="\n".join(wanted) + "\n",
    )
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        sha, sep, subject = line.partition(_SEP_FIELD)
        if sep:
            found[sha] = subject.strip()
    out = {s: found[s] for s in wanted if s in found}
    for short in (s for s in wanted if s not in found):  # abbreviated, e.g. from "This reverts commit"
        match = next((subj for full, subj in found.items() if full.startswith(short)), None)
        if match is not None:
            out[short] = match
    return out


def quote_subjects(root: Path, found: list[PatternCandidate]) -> None:
    """Quote the subjects of each candidate's evidence commits, newest first, in its excerpt: what
    the commits say ("windows drive letters") is what a later search for the topic must find."""
    todo = [c for c in found if c.evidence.commits and not c.evidence.excerpt]
    known = subjects(root, [s for c in todo for s in c.evidence.commits])
    for c in todo:
        quoted = list(dict.fromkeys(known[s] for s in reversed(c.evidence.commits) if known.get(s)))
        if quoted:
            text = redact("; ".join(quoted))[0]
            c.evidence.excerpt = text if len(text) <= EXCERPT_MAX else text[: EXCERPT_MAX - 1] + "…"


# -- detectors -------------------------------------------------------------------------------------


def observe(stats: GitStats, c: Commit) -> list[PatternCandidate]:
    """Add one commit to the running totals; returns what this commit alone reveals."""
    out: list[PatternCandidate] = []
    stats.commits += 1
    if CONVENTIONAL.match(c.subject):
        stats.conventional += 1
    files = sorted(set(c.files))
    for f in files:
        stats.changes[f] += 1
        stats.touched.add(f)
        shas = stats.last_shas.setdefault(f, [])
        shas.append(c.sha)
        del shas[:-10]
    if 2 <= len(files) <= MAX_FILES_FOR_PAIRS:
        for i, a in enumerate(files):
            for b in files[i + 1 :]:
                stats.pairs[(a, b)] += 1
    revert = _revert(c)
    if revert is not None:
        out.append(revert)
    if FIX.search(c.subject):
        for f in files:
            chain = [x for x in stats.recent_fixes.get(f, []) if x[0] > stats.commits - FIX_WINDOW]
            chain.append((stats.commits, c.sha))
            stats.recent_fixes[f] = chain
            if len(chain) >= FIX_CHAIN_MIN:
                out.append(_fix_chain(f, [sha for _, sha in chain]))
    return out


def _revert(c: Commit) -> PatternCandidate | None:
    m = REVERT_BODY.search(c.body)
    if not (c.subject.startswith('Revert "') or m):
        return None
    what = (
        c.subject.removeprefix('Revert "').removesuffix('"') if c.subject.startswith("Revert") else c.subject
    )
    evidence = [c.sha] + ([m.group(1)] if m else [])
    return PatternCandidate(
        title=f"Reverted change: {what[:150]}",
        kind="anti-pattern",
        problem=f"The change '{what}' was reverted in {c.sha[:10]}.",
        solution="Read why it was reverted before trying this change again, and validate it first.",
        evidence=Evidence(commits=evidence),
        scope=c.files[:20],
        tags=["revert", "git"],
        confidence=0.6,
        source="git:revert",
    )


def _fix_chain(path: str, shas: list[str]) -> PatternCandidate:
    return PatternCandidate(
        title=f"Fix after fix in {path}",
        kind="anti-pattern",
        problem=f"{len(shas)} fixes to {path} within {FIX_WINDOW} commits: the trace of a debug spiral.",
        solution=f"Before changing {path} again, load its context and tests, and validate after each "
        "step instead of stacking fixes.",
        evidence=Evidence(commits=shas[-50:]),
        scope=[path],
        tags=["fix-chain", "git"],
        confidence=min(0.9, 0.4 + 0.1 * len(shas)),
        source="git:fix-chain",
    )


def summarise(stats: GitStats) -> list[PatternCandidate]:
    """Findings over the whole mined history, reported for files this run touched."""
    out: list[PatternCandidate] = []
    n = stats.commits
    if n < 20:
        return out
    threshold = max(HOTSPOT_MIN_CHANGES, int(n * HOTSPOT_MIN_SHARE))
    for f, changes in stats.changes.most_common(5):
        if changes >= threshold and f in stats.touched:
            out.append(
                PatternCandidate(
                    title=f"Hot spot: {f}",
                    kind="pattern",
                    problem=f"{f} changed in {changes} of {n} commits.",
                    solution=f"Changes to {f} are frequent: keep them small and validated; consider "
                    "splitting the file.",
                    evidence=Evidence(commits=stats.last_shas.get(f, [])[-10:]),
                    scope=[f],
                    tags=["hotspot", "git"],
                    confidence=0.5,
                    source="git:hotspot",
                )
            )
    for (a, b), together in stats.pairs.most_common(5):
        smaller = min(stats.changes[a], stats.changes[b])
        if together >= COCHANGE_MIN and together >= COCHANGE_SHARE * smaller and (stats.touched & {a, b}):
            out.append(
                PatternCandidate(
                    title=f"Change {a} together with {b}",
                    kind="pattern",
                    problem=f"{a} and {b} changed together in {together} commits.",
                    solution="When editing one of them, load and check the other.",
                    scope=[a, b],
                    tags=["co-change", "git"],
                    confidence=round(min(0.9, 0.4 + together / 20), 2),
                    source="git:co-change",
                )
            )
    if stats.conventional >= 0.7 * n:
        out.append(
            PatternCandidate(
                title="Commit messages follow Conventional Commits",
                kind="pattern",
                problem="Commit subjects in this repository use `type(scope): summary`.",
                solution="Write commit subjects as feat|fix|docs|refactor|test|chore(scope): summary.",
                tags=["convention", "git"],
                confidence=round(stats.conventional / n, 2),
                source="git:convention",
            )
        )
    return out
