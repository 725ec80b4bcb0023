"""Adjustments after ranking: what a person would open first, and a map when nothing matches.

`rank` scores files by how well they match the task. Measured on real histories
(bench/eval_context), three things went wrong often enough to correct here:
- tests, config and docs that repeat the task's words ranked before the source they test or
  configure: they are demoted unless the task asks for them, and the source file a highly ranked
  test pairs with (`router.test.ts` -> `router.ts`, `tests/test_make.py` -> `_make.py`) is raised;
- a file named after a task word (`pathutil.rs` for "pathutil clean-up", `mmap.rs` for "memory
  map") was named too late to fit a small budget: it is raised next to the best match;
- a task whose words match nothing ("update to ts6") got an empty reply: the ranking is always
  followed by the repository's most central files (weighted in-degree of the reference graph: how
  many files use what a file defines), so the reply is at least the repo map a person would want
  to orient themselves.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING

from .rank import PathIndex, Ranked, _prior

if TYPE_CHECKING:
    from factorops.store.db import Database

CENTRAL = "central: "  # the reason prefix of files added only for being central
MAX_CENTRAL = 250
COMMON_DEF = 5  # a name defined in more files than this says little about which one is used
GENERIC_STEMS = frozenset(["index", "main", "mod", "lib", "init", "__init__", "setup", "conftest"])
NAMED_SHARE = 0.85  # a file named after a task word: raised to this share of the best score
PAIR_SHARE = 0.9  # the source a top test pairs with: raised to this share of the test's score

_TEST = re.compile(
    r"(^|/)(tests?|spec|specs|__tests__|testdata|testing)/|(^|/)test_[^/]*$|_test\.\w+$"
    r"|[._-](test|spec)\.\w+$|(^|/)conftest\.py$"
)
_DOCS = re.compile(
    r"(^|/)(docs?|site|website)/|\.(md|mdx|rst|txt|adoc)$|(^|/)(README|CHANGELOG|CHANGES)\b", re.I
)
_CONFIG = re.compile(
    r"\.(ya?ml|toml|ini|cfg|json|jsonc|lock|xml|conf|properties|editorconfig)$"
    r"|(^|/)\.[^/]+$|(^|/)(Makefile|Dockerfile|Justfile|Cargo\.lock|go\.sum|go\.mod)$|(^|/)\.github/"
)
_BENCH = re.compile(r"(^|/)(bench|benches|benchmarks?)/")
_EXAMPLE = re.compile(r"(^|/)(examples?|fixtures?|samples?)/")

KINDS: dict[str, tuple[re.Pattern[str], frozenset[str], float]] = {
    # kind: (pattern, task words that ask for it, factor when not asked for)
    "test": (_TEST, frozenset(["test", "tests", "testing", "spec", "specs", "coverage", "flaky"]), 0.35),
    "bench": (_BENCH, frozenset(["bench", "benchmark", "benchmarks", "performance", "perf"]), 0.4),
    "example": (_EXAMPLE, frozenset(["example", "examples", "fixture", "fixtures", "sample"]), 0.5),
    "docs": (
        _DOCS,
        frozenset(["doc", "docs", "documentation", "readme", "guide", "changelog", "typo", "docstring"]),
        0.4,
    ),
    "config": (
        _CONFIG,
        frozenset(
            [
                *("config", "configuration", "ci", "yaml", "yml", "toml", "ini", "json", "tox"),
                *("workflow", "workflows", "build", "deps", "dependency", "dependencies", "lint"),
                *("linter", "package", "packaging", "cargo", "makefile", "docker", "dockerfile", "release"),
            ]
        ),
        0.3,
    ),
}


@functools.lru_cache(maxsize=65536)
def kind_of(path: str) -> str | None:
    """test, bench, example, docs or config; None for source. Kept per path: every load asks it for
    each of hundreds of candidates, and a path's kind never changes."""
    for kind, (rx, _words, _f) in KINDS.items():
        if rx.search(path):
            return kind
    return None


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.split(".", 1)[0] if not name.startswith(".") else name[1:].split(".", 1)[0]


def is_central(r: Ranked) -> bool:
    return bool(r.reasons) and r.reasons[0].startswith(CENTRAL)


def adjust(
    db: Database,
    ranked: list[Ranked],
    terms: list[str],
    task: str,
    explicit: list[str],
    paths: PathIndex | None = None,
) -> list[Ranked]:
    """The ranking with secondary files demoted, paired sources and named files raised, and the
    central files appended (best first, each path once). `paths`: the index's paths, when the
    caller keeps them per index generation."""
    wants = set(terms)
    words = _task_words(task)
    if paths is None:
        paths = PathIndex(p for (p,) in db.execute("SELECT path FROM repo_files").fetchall())
    by_stem = paths.memo("prefer.by_stem", partial(_by_stem, paths.paths))
    original = {r.path: r.score for r in ranked}
    top5 = sorted(ranked, key=lambda r: -r.score)[:5]
    # 1. Secondary files below the code, unless asked for (by kind, or by the file's own name).
    unasked: set[str] = set()
    for r in ranked:
        kind = kind_of(r.path)
        if kind is None:
            continue
        _rx, asks, factor = KINDS[kind]
        # named: tox.ini for "tox"; not router.test.ts for "router", the source's own name
        if wants & asks or (kind != "test" and _stem(r.path).lower() in wants):
            continue
        unasked.add(r.path)
        already = _prior(r.path, wants)  # what `rank` applied already
        r.score *= min(1.0, factor / already)
    at = {r.path: r for r in ranked}

    def raise_to(path: str, score: float, why: str) -> None:
        if path in explicit:
            return
        r = at.get(path)
        if r is None:
            r = at[path] = Ranked(path)
            ranked.append(r)
        if r.score < score:
            r.score = score
            if why not in r.reasons:
                r.reasons.insert(0, why)

    # 2. The source a highly ranked test file pairs with.
    for t in top5:
        if kind_of(t.path) != "test":
            continue
        for src in _paired_sources(t.path, by_stem):
            raise_to(src, PAIR_SHARE * original[t.path], f"tested by {t.path.rsplit('/', 1)[-1]}")
    # 3. Files named after a task word (or two words run together, or their abbreviation).
    best = max((r.score for r in ranked), default=0.0) or 1.0
    for word in words:
        named = [p for p in by_stem.get(word, []) if kind_of(p) is None]
        if word in GENERIC_STEMS or len(word) < 4 or not named or len(named) > 3:
            continue
        for p in named:
            raise_to(p, NAMED_SHARE * best, f"named after '{word}'")
    out = sorted(ranked, key=lambda r: (-r.score, r.path))
    # 4. The central files after every match: a reply never comes back empty. When only tests,
    # config or docs nobody asked for matched (a version number in tox.ini), the central source
    # files come before them.
    matched = [r for r in out if r.path not in unasked]
    secondary = [r for r in out if r.path in unasked]
    have = {r.path for r in out} | set(explicit)
    floor = min((r.score for r in out), default=1.0)
    pool = (
        central_files(db, paths.known) if len(matched) < MAX_CENTRAL else []
    )  # else the map never gets there
    central = [
        Ranked(
            p,
            floor * 0.5 / (1 + i),
            [f"{CENTRAL}{n} uses of its definitions" if n else f"{CENTRAL}repository file"],
        )
        for i, (p, n) in enumerate([(p, n) for p, n in pool if p not in have][:MAX_CENTRAL])
    ]
    if matched:
        return out + central
    return central + secondary


def _by_stem(paths: list[str]) -> dict[str, list[str]]:
    by_stem: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        by_stem[_stem(p).lower()].append(p)
    return by_stem


def _task_words(task: str) -> list[str]:
    """Single words, adjacent pairs run together (`path util` -> pathutil) and abbreviated
    (`memory map` -> mmap)."""
    raw = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9_]*", task)]
    out = list(raw)
    for a, b in zip(raw, raw[1:], strict=False):
        out += [a + b, a + "_" + b, a[0] + b]
    return list(dict.fromkeys(out))


def _paired_sources(test: str, by_stem: dict[str, list[str]]) -> list[str]:
    stem = _stem(test).lower()
    for pre in ("test_", "tests_"):
        if stem.startswith(pre):
            stem = stem[len(pre) :]
    for suf in ("_test", "_tests", "_spec"):
        if stem.endswith(suf):
            stem = stem[: -len(suf)]
    if not stem or stem in GENERIC_STEMS:
        return []
    ext = test.rsplit(".", 1)[-1]
    folder = test.rsplit("/", 1)[0] if "/" in test else ""
    cands = [
        p
        for s in (stem, "_" + stem)
        for p in by_stem.get(s, [])
        if kind_of(p) is None and p.rsplit(".", 1)[-1] in _FAMILY.get(ext, {ext})
    ]
    same_dir = [p for p in cands if p.rsplit("/", 1)[0] == folder]
    return same_dir or (cands if len(cands) <= 2 else [])


_FAMILY = {
    "ts": {"ts", "tsx"},
    "tsx": {"ts", "tsx"},
    "js": {"js", "jsx", "mjs", "ts"},
    "py": {"py", "pyi"},
}

_CENTRAL_CACHE: dict[int, tuple[int, list[tuple[str, int]]]] = {}
RECOMPUTE_CHANGE = 0.05  # recompute the central files when the file count moved this much


def central_files(db: Database, known: set[str] | None = None) -> list[tuple[str, int]]:
    """(path, uses) of the source files whose definitions the most other files use (a name defined
    in many files counts for little), most used first: the repository's skeleton, with no task.

    Centrality hardly moves between two commits, and computing it reads every reference (seconds on
    a large repository): it is kept per index until the number of files changes by 5%, and paths
    gone since are dropped."""
    if known is None:
        known = {p for (p,) in db.execute("SELECT path FROM repo_files").fetchall()}
    hit = _CENTRAL_CACHE.get(id(db))
    if hit is not None and abs(hit[0] - len(known)) <= RECOMPUTE_CHANGE * max(1, len(known)):
        return [(p, n) for p, n in hit[1] if p in known]
    defs: dict[str, list[str]] = defaultdict(list)
    for name, path in db.execute(
        "SELECT DISTINCT name, path FROM repo_symbols WHERE kind != 'heading'"
    ).fetchall():
        defs[name].append(path)
    weight: dict[str, float] = defaultdict(float)
    uses: dict[str, int] = defaultdict(int)
    for name, n in db.execute("SELECT name, COUNT(DISTINCT path) FROM repo_refs GROUP BY name").fetchall():
        where = defs.get(name)
        if not where or len(where) > COMMON_DEF:
            continue
        for p in where:
            weight[p] += n / len(where)
            uses[p] += n
    ranked = sorted((p for p in weight if kind_of(p) is None), key=lambda p: (-weight[p], p))[:MAX_CENTRAL]
    if len(ranked) < MAX_CENTRAL:  # files nothing uses still belong on the map: source first
        rest = db.execute(
            "SELECT path FROM repo_files ORDER BY tokens, path LIMIT ?", [MAX_CENTRAL * 2]
        ).fetchall()
        seen = set(ranked)
        extra = [p for (p,) in rest if p not in seen]
        extra.sort(key=lambda p: kind_of(p) is not None)  # stable: source first, smallest first
        ranked += extra[: MAX_CENTRAL - len(ranked)]
    out = [(p, uses.get(p, 0)) for p in ranked]
    _CENTRAL_CACHE[id(db)] = (len(known), out)
    return out
