"""The shape of a pattern record, shared by recording, mining, searching, guarding and bundles.

One model describes a pattern wherever it travels: the ledger's Markdown front matter, the SQLite
index, tool inputs/outputs and bundle members. Keep it the single source of truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from factorops.tools.kernel.actor import Actor

PatternKind = Literal["pattern", "anti-pattern", "guardrail"]
PatternStatus = Literal["candidate", "active", "retired"]
GuardrailEffect = Literal["warn", "block"]
# How a pattern has been used and cited in this project, in the order the front matter writes them.
USAGE_FIELDS = ("times_used", "times_helped", "times_hurt", "helped_in", "hurt_in", "last_cited")


class Evidence(BaseModel):
    """Where a pattern came from, so a person can check it."""

    sessions: list[str] = Field(default_factory=list, max_length=50)
    checkpoints: list[str] = Field(default_factory=list, max_length=50)
    commits: list[str] = Field(default_factory=list, max_length=50)
    transcripts: list[str] = Field(
        default_factory=list, max_length=50, description="transcript file:line references"
    )
    excerpt: str | None = Field(default=None, max_length=500, description="short, redacted")


class GuardrailRule(BaseModel):
    """How a guardrail recognises the action it guards against (all given parts must match)."""

    effect: GuardrailEffect = "warn"
    command_regex: str | None = Field(default=None, max_length=500)
    action_regex: str | None = Field(default=None, max_length=500)
    path_globs: list[str] = Field(default_factory=list, max_length=50)
    # A built-in command check (tools/guardrails/checks.py, e.g. "force_push") that replaces the
    # command regex for failure patterns a regex cannot state; the regex stays for older readers.
    check: str | None = Field(default=None, max_length=40, pattern=r"^[a-z_]+$")


class PatternCandidate(BaseModel):
    """What a miner proposes before it becomes (or merges into) a stored pattern."""

    title: str = Field(min_length=1, max_length=200)
    kind: PatternKind = "pattern"
    problem: str = Field(default="", max_length=4000)
    solution: str = Field(default="", max_length=4000, description="the solution, or the rule")
    evidence: Evidence = Field(default_factory=Evidence)
    tags: list[str] = Field(default_factory=list, max_length=20)
    scope: list[str] = Field(default_factory=list, max_length=50, description="path globs")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    rule: GuardrailRule | None = None
    source: str = Field(default="manual", max_length=40, description="which miner proposed it")


class Pattern(PatternCandidate):
    """A stored pattern: a candidate plus identity, lifecycle and usage counters."""

    id: str
    status: PatternStatus = "candidate"
    # A candidate that proposes a change to another (active or retired) pattern: promoting it puts
    # its content into that pattern, which keeps its id and becomes active; the revision is retired.
    revises: str | None = Field(default=None, max_length=64)
    # Who last changed the content (not the status): a person's change to a starter guardrail is
    # kept by `starter install`, anything else is restored to the shipped rule.
    changed_by: Actor | None = None
    # Usage is what sessions *cite* at `session_end` (helped / hurt), never what was merely shown:
    # the session ids are kept (distinct, oldest first) so maturity rests on distinct sessions.
    times_used: int = 0
    times_helped: int = 0
    times_hurt: int = 0
    helped_in: list[str] = Field(default_factory=list)
    hurt_in: list[str] = Field(default_factory=list)
    last_cited: datetime | None = None
    created: datetime
    updated: datetime
