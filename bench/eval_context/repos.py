"""The repositories of the context-loading evaluation (issue #17), pinned to exact commits.

Each repository is read from a local bare copy under the cache (see docs/context-eval.md): the
harness clones `url` there on first use, or copies a local mirror given with `--mirror-root`.
pallets/click, pallets/flask and scrapy/scrapy are deliberately absent: they are kept for an
independent check.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Repo:
    name: str  # owner/name
    commit: str  # the newest commit tasks are mined from (tasks are its ancestors)
    language: str
    source_ext: tuple[str, ...]  # files of these suffixes are "source" (gold candidates)

    @property
    def url(self) -> str:
        return f"https://github.com/{self.name}.git"

    @property
    def slug(self) -> str:
        return self.name.replace("/", "+")


REPOS: tuple[Repo, ...] = (
    Repo("python-attrs/attrs", "c1dc5dcba16ed827aa6dcad896b41a3afedb4e32", "Python (small)", (".py", ".pyi")),
    Repo("spf13/cobra", "adbc8813901bba65827259daa8e22ff94ec1f30e", "Go (small/medium)", (".go",)),
    Repo(
        "honojs/hono",
        "28a9c128912de19f3fb28b00ae289c9b93f6f392",
        "TypeScript (medium)",
        (".ts", ".tsx", ".js", ".mjs"),
    ),
    Repo("BurntSushi/ripgrep", "3fce3b5bb0236da2df6d99672afb8a719642eca7", "Rust (medium)", (".rs",)),
    Repo(
        "sphinx-doc/sphinx",
        "e44a40eb2f810558ccd9da1425421270ccb81351",
        "Python (large)",
        (".py", ".pyi", ".js"),
    ),
)
