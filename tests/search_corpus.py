"""Generated patterns for the search tests: filler words, mid-frequency words each in a set share of
the rows (the dear pairs and triples of a large store) and a word in most rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from factorops.store.store import Store
from factorops.tools.patterns import records
from factorops.tools.patterns.model import Pattern

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def put(store: Store, rows: list[Pattern]) -> None:
    """Write `rows` through the pattern writer (FTS5 row, postings, version) in one transaction."""
    with store.index.transaction() as db:
        for p in rows:
            records.upsert(db, p, "0" * 40)


def mid_corpus(
    n: int, seed: int, mid: dict[str, float], *, filler: int, common: float, zebra_every: int = 0
) -> list[Pattern]:
    """Rows of one length give or take (confidence decides among equal sums of weights): each `mid`
    word in its share of the rows, in the title now and then (a higher tf); `common` in that share;
    `zebra` in the title of every `zebra_every`-th row (0: none); confidence spread over [0, 1]."""
    rng = random.Random(seed)
    words = [f"filler{i}" for i in range(filler)]
    rows = []
    for i in range(n):
        title = rng.choices(words, k=3)
        body = rng.choices(words, k=14)
        for w, p in mid.items():
            if rng.random() < p:
                (title if rng.random() < 0.2 else body).append(w)
        if rng.random() < common:
            body.append("common")
        if zebra_every and i % zebra_every == 3:
            title.append("zebra")
        rng.shuffle(body)
        rows.append(
            pattern(
                rng,
                i,
                " ".join(title),
                " ".join(body[: len(body) // 2]),
                " ".join(body[len(body) // 2 :]),
                rng.sample(["t0", "t1", "t2", "t3"], 2),
            )
        )
    return rows


def pattern(rng: random.Random, i: int, title: str, problem: str, solution: str, tags: list[str]) -> Pattern:
    """Generated pattern `pat-<i>` with these texts and tags; its kind (pattern or anti-pattern),
    status (any of three) and confidence drawn from `rng`, in that order."""
    return Pattern(
        id=f"pat-{i:05d}",
        title=title,
        problem=problem,
        solution=solution,
        tags=tags,
        kind=rng.choice(["pattern", "anti-pattern"]),
        status=rng.choice(["candidate", "active", "retired"]),
        confidence=rng.random(),
        created=NOW,
        updated=NOW,
    )
