"""What a repository's git history teaches: reverts, fix-after-fix chains, hot spots, co-change
and the commit-message convention, as candidate patterns with the commits as evidence.

Quality rules (issue #18), applied by `refine` to what a run finds: no advice about files deleted at
HEAD (file-based findings are dropped, a revert of deleted files is kept but marked historical); a
revert that was itself reverted cancels (neither is an anti-pattern); a recurring claim (fix after
fix, hot spot, co-change) needs >= 3 independent occurrences, i.e. commits with distinct patch-ids
(`git patch-id --stable`), so cherry-picks and duplicates of one patch count once; and every
finding quotes its evidence (short hashes, dates, subjects, files) in its problem and advice.

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
    reverts: dict[str, str] = field(default_factory=dict)  # revert sha -> the sha it reverts (this run)

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
    m = REVERT_BODY.search(c.body)
    if m:
        stats.reverts[c.sha] = m.group(1)
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
    if c.subject.startswith('Revert "Revert ') or c.subject.startswith("Reapply "):
        return None  # a revert of a revert puts the change back: nothing to avoid
    what = (
        c.subject.removeprefix('Revert "').removesuffix('"') if c.subject.startswith("Revert") else c.subject
    )
    evidence = [c.sha] + ([m.group(1)] if m else [])
    return PatternCandidate(
        title=f"Reverted change: {what[:150]}",
        kind="anti-pattern",
        problem=f"The change '{what}' was reverted in {c.sha[:10]}.",
        solution=f"Before trying '{what[:100]}' again, read why {c.sha[:7]} reverted it, and validate "
        "the change first.",
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
        solution=f"Before changing {path} again, read what its last fixes changed (the commits below), "
        "load its tests, and validate after each step instead of stacking fixes.",
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
                    solution=f"Changes to {f} are frequent ({changes} of {n} commits): keep them small "
                    "and validated; consider splitting the file.",
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
            both = [x for x in stats.last_shas.get(a, []) if x in set(stats.last_shas.get(b, []))]
            out.append(
                PatternCandidate(
                    title=f"Change {a} together with {b}",
                    kind="pattern",
                    problem=f"{a} and {b} changed together in {together} commits.",
                    solution=f"When editing {a} or {b}, load and check the other.",
                    evidence=Evidence(commits=both),
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


# -- quality: what a run may claim -------------------------------------------------------------------

RECURRING = {"git:fix-chain", "git:hotspot", "git:co-change"}  # findings that claim repetition
FILE_BASED = RECURRING  # advice about files: none for a file deleted at HEAD
INDEPENDENT_MIN = 3
QUOTED_COMMITS = 8


def files_at_head(root: Path) -> set[str]:
    """Every tracked path at HEAD (empty for an empty repository)."""
    proc = _git(root, "ls-tree", "-r", "-z", "--name-only", "HEAD")
    return {p for p in proc.stdout.split("\0") if p} if proc.returncode == 0 else set()


def patch_ids(root: Path, shas: list[str]) -> dict[str, str]:
    """sha -> its stable patch-id (`git patch-id --stable`): the same change cherry-picked or
    committed twice has the same one. A commit without a diff is keyed by its subject instead."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    log = gitrun.run_text(
        root,
        "log",
        "--no-walk=unsorted",
        "--ignore-missing",
        "--stdin",
        "-p",
        "--no-color",
        "--no-ext-diff",
        "--format=commit %H",
        input="\n".join(wanted) + "\n",
    )
    ids = gitrun.run_text(root, "patch-id", "--stable", input=log.stdout)
    out: dict[str, str] = {}
    for line in ids.stdout.splitlines():
        pid, _, sha = line.partition(" ")
        if sha:
            out[sha.strip()] = pid
    missing = [s for s in wanted if s not in out]
    for sha, subject in subjects(root, missing).items():
        out[sha] = "subject:" + subject
    return out


def independent(shas: list[str], ids: dict[str, str]) -> list[str]:
    """`shas` with every repeat of an earlier patch left out (a cherry-pick, a duplicate commit)."""
    seen: set[str] = set()
    out = []
    for sha in shas:
        key = ids.get(sha, sha)
        if key not in seen:
            seen.add(key)
            out.append(sha)
    return out


def _reverted_reverts(stats: GitStats) -> set[str]:
    """Reverts (this run) that cancel out: one a later revert undid (the change it removed is back),
    and the revert that undid it (it restores a change; there is nothing to avoid)."""

    def same(a: str, b: str) -> bool:
        return a.startswith(b) or b.startswith(a)

    cancelled: set[str] = set()
    for sha, target in stats.reverts.items():
        undone = next((r for r in stats.reverts if same(r, target)), None)
        if undone is not None:
            cancelled |= {sha, undone}
    return cancelled


def refine(root: Path, found: list[PatternCandidate], stats: GitStats) -> list[PatternCandidate]:
    """What of `found` (this run's git findings) may be proposed, each quoting its evidence."""
    undone = _reverted_reverts(stats)
    head_files = files_at_head(root)
    recurring = [c for c in found if c.source in RECURRING]
    ids = patch_ids(root, [s for c in recurring for s in c.evidence.commits])
    out: list[PatternCandidate] = []
    for c in found:
        if c.source == "git:revert" and c.evidence.commits and c.evidence.commits[0] in undone:
            continue  # reverted in turn: the revert-of-revert cancels it
        gone = [f for f in c.scope if f not in head_files]
        if c.source in FILE_BASED and gone:
            continue  # advice about a file that no longer exists
        if c.source == "git:revert" and c.scope and len(gone) == len(c.scope):
            c.tags = [*c.tags, "historical"]
            c.problem += " The files it touched no longer exist at HEAD: historical."
        elif gone:
            c.scope = [f for f in c.scope if f in head_files]
        if c.source in RECURRING:
            kept = independent(c.evidence.commits, ids)
            if len(kept) < INDEPENDENT_MIN:
                continue  # "recurring" resting on one change repeated
            c.evidence.commits = kept
        out.append(c)
    quote_evidence(root, out)
    return out


def quote_evidence(root: Path, found: list[PatternCandidate]) -> None:
    """Append the evidence to each finding's problem: short hash, date, subject and files of its
    commits, newest first, so the advice can be checked without opening git."""
    todo = [c for c in found if c.evidence.commits]
    wanted = list(dict.fromkeys(s for c in todo for s in c.evidence.commits))
    if not wanted:
        return
    proc = gitrun.run_text(
        root,
        "log",
        "--no-walk=unsorted",
        "--ignore-missing",
        "--stdin",
        "--name-only",
        f"--format={_SEP_COMMIT}%H{_SEP_FIELD}%h{_SEP_FIELD}%as{_SEP_FIELD}%s",
        input="\n".join(wanted) + "\n",
    )
    info: dict[str, tuple[str, str, str, list[str]]] = {}
    for block in proc.stdout.split(_SEP_COMMIT):
        head_line, _, names = block.partition("\n")
        parts = head_line.split(_SEP_FIELD)
        if len(parts) == 4:
            files = [n for n in names.splitlines() if n]
            info[parts[0]] = (parts[1], parts[2], parts[3].strip(), files)
    for c in todo:
        rows = []
        for sha in reversed(c.evidence.commits):
            full = sha if sha in info else next((k for k in info if k.startswith(sha)), None)
            if full is None:
                continue
            short, day, subject, files = info[full]
            where = ", ".join(files[:3]) + (" …" if len(files) > 3 else "")
            rows.append(f"- {short} {day} {redact(subject)[0][:120]}" + (f" ({where})" if where else ""))
        if rows:
            more = len(rows) - QUOTED_COMMITS
            body = "\n".join(rows[:QUOTED_COMMITS]) + (f"\n- … and {more} more" if more > 0 else "")
            c.problem = f"{c.problem}\n\nEvidence (newest first):\n{body}"[:4000]
