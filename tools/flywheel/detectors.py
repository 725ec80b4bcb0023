"""Find failure patterns in transcript events and propose them as candidates with evidence.

Five detectors share one streaming pass over a session's events (memory stays bounded: a few
counters per distinct command, never the event list):

- debug loop spiral: the same command (normalised) fails again and again;
- fix that worked: a command that failed later succeeds; what changed in between is the lesson;
- correction: the person tells the assistant it went wrong ("no, ...", "that's wrong", "I said");
- context past the limit: the window held more than 40% (configurable) of its size;
- success claimed without evidence: "all tests pass" / "fixed" after an edit, with no passing
  validation command since that edit.

Every candidate carries the session id, `file:line` references and an excerpt of at most 300
characters with secrets redacted; never the transcript itself. Titles are deterministic for the
same finding (the context and claim detectors always use one title), so `merge_candidates` (and
later the pattern store) joins repeats across sessions instead of listing them again.

Confidence, and why (each candidate's `problem` ends with its own reason):
- spiral: 0.5 at the threshold, +0.1 per further failure, at most 0.9: repetition is the evidence.
- fix: 0.6 when files were edited between the last failure and the success (a concrete change tied
  to the outcome), 0.4 when only other commands ran (an environment fix, less specific).
- correction: 0.6 for explicit phrases ("that's wrong", "not what I asked", "I said"), 0.45 for
  "no, ...", "don't ...", "stop" (often ordinary steering rather than a mistake).
- context: 0.9 — measured from the transcript's own usage counts; only the window size is assumed.
- claim: 0.7 when a validation ran after the last edit and failed; 0.55 when none ran (the person
  may have checked outside the transcript).

Incremental mining feeds a detector only the events appended since the last run, so a spiral split
across two runs is seen as two shorter runs; mining a session after it ended (the usual case) sees
it whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from factorops.tools.kernel.redact import redact
from factorops.tools.patterns.model import Evidence, PatternCandidate

from .transcripts import (
    Event,
    ScanStats,
    Text,
    ToolResult,
    ToolUse,
    TranscriptState,
    Usage,
    scan,
)

SOURCE = "transcripts"
EXCERPT_CHARS = 300
_MAX_REFS = 50
_MAX_TRACKED_COMMANDS = 2000
_MAX_PENDING_USES = 500


class DetectorConfig(BaseModel):
    """Thresholds of the detectors; the defaults follow FACTORS.md."""

    window: int = Field(default=200_000, gt=0, description="context window size in tokens")
    context_limit: float = Field(default=0.4, gt=0.0, le=1.0, description="share of the window")
    spiral_failures: int = Field(default=3, ge=2, description="failures of one command that make a spiral")
    max_corrections: int = Field(default=5, ge=0, description="correction candidates kept per session")


# ---------------------------------------------------------------------------------------------
# Text helpers

_BEARER = re.compile(r"(?i)\b(bearer|token)(\s+|=|:\s*)[A-Za-z0-9._~+/\-]{16,}=*")
_WS = re.compile(r"\s+")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, redacted excerpt: what evidence may show of a transcript."""
    clean, _ = redact(text[: limit * 4])
    clean = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:token]", clean)
    clean = _WS.sub(" ", clean).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


_CD_PREFIX = re.compile(r"^cd\s+(?:\"[^\"]*\"|'[^']*'|\S+)\s*&&\s*")
_ENV_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=(?:\"[^\"]*\"|'[^']*'|\S*)\s+)+")
_TIMEOUT_PREFIX = re.compile(r"^timeout\s+(?:-\S+\s+)*\d+[smh]?\s+")
_TRAILING = re.compile(r"(?:\s*\|\s*(?:tail|head|less|more|cat)\b[^|;&]*|\s*2>&1)+\s*$")


def normalise_command(command: str) -> str:
    """One key for "the same command": drop `cd … &&`, env and timeout prefixes, output tails."""
    cmd = _WS.sub(" ", command).strip()
    for _ in range(5):
        before = cmd
        cmd = _CD_PREFIX.sub("", cmd)
        cmd = _ENV_PREFIX.sub("", cmd)
        cmd = _TIMEOUT_PREFIX.sub("", cmd)
        cmd = _TRAILING.sub("", cmd)
        if cmd == before:
            break
    return cmd[:200]


VALIDATION = re.compile(
    r"(?:^|[;&|(]\s*)(?:(?:uv|poetry|pipenv|pdm|hatch|rye)\s+run\s+|time\s+|sudo\s+|bundle\s+exec\s+)?(?:[\w.~-]*/)*(?:"
    r"(?:python3?\s+-m\s+)?(?:pytest|py\.test|unittest|tox|nox|mypy|pyright|ruff|flake8|pylint|black\s+--check)"
    r"|(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?(?:test|lint|typecheck|check)\b"
    r"|npx\s+(?:jest|vitest|tsc|eslint|playwright\s+test)|jest|vitest|tsc|eslint"
    r"|cargo\s+(?:test|check|clippy|nextest)|go\s+(?:test|vet)|golangci-lint"
    r"|make\s+(?:test|check|lint|ci)\b|(?:mvn|\./mvnw)\s+(?:test|verify)|(?:gradle|\./gradlew)\s+(?:test|check)"
    r"|dotnet\s+test|rspec|phpunit|ctest|bazel\s+test|swift\s+test|mix\s+test"
    r")(?:\s|$|[;&|)])",
)
"""Commands that count as a validation (a test runner, linter or type checker)."""


def is_validation(command: str) -> bool:
    return VALIDATION.search(normalise_command(command)) is not None


_CLAIM = re.compile(
    r"(?i)(?:\ball (?:the )?(?:\d+ )?tests? (?:now )?(?:pass|passed|passing|are passing|green)\b"
    r"|\b(?:tests|build|checks|ci) (?:is |are )?(?:now )?(?:passing|green)\b"
    r"|\b(?:i(?:'ve| have)|has been|is now|are now) (?:fixed|resolved)\b"
    r"|\bthe (?:bug|issue|problem|error|test|build) (?:is|has been) (?:now )?(?:fixed|resolved)\b"
    r"|\beverything (?:now )?(?:works|is working|passes)\b"
    r"|\bit (?:now )?works(?: now)?[.!]"
    r"|^\s*(?:all )?(?:done|fixed)[.!]"
    r"|\bshould (?:now )?(?:work|pass)\b)"
)
"""Phrases that claim success. Conservative: "done" only as a message's opening sentence."""

_STRONG_CORRECTION = re.compile(
    r"(?i)^\W*(?:(?:no[,.!]?\s+)?(?:that'?s|that is|this is|it'?s|you'?re|you are) "
    r"(?:wrong|incorrect|not (?:right|correct|what i (?:asked|wanted|meant|said)))"
    r"|i (?:said|told you|asked (?:you )?(?:to|for|not))\b"
    r"|(?:that'?s|this is) not what i (?:asked|wanted|meant)"
    r"|why did you\b)"
)
_SOFT_CORRECTION = re.compile(
    r"(?i)^\W*(?:no(?:pe)?\s*[,.!:;](?!\s*(?:thanks?\b|thank you|worries|problem|rush|need\b))"
    r"|no\s+(?:no|wait|stop|don'?t|not that|that'?s not|you)\b"
    r"|(?:don'?t|do not)\s+(?!worry\b|hesitate\b|forget\b|mind\b)\w"
    r"|stop(?:\s*[.!]|\s*$|\s+(?:doing|that|it|changing|editing|running|using|adding|deleting|touching|now)\b)"
    r"|wrong[.!,]|undo (?:that|this|it)\b|revert (?:that|this|it)\b)"
)
"""A correction starts the message. "No problem", "don't worry", "stop words" are look-alikes."""


def correction_strength(text: str) -> float | None:
    """Confidence that a person's message corrects the assistant, or None if it does not."""
    head = text[:300]
    if _STRONG_CORRECTION.search(head):
        return 0.6
    if _SOFT_CORRECTION.search(head):
        return 0.45
    return None


_ERROR_LINE = re.compile(r"(?i)(error|failed|failure|exception|traceback|assert|denied|not found|fatal)")


def error_line(text: str) -> str:
    """The most telling line of a failed command's output: the first error-ish line, else the last."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    hit = next((ln for ln in lines if _ERROR_LINE.search(ln)), lines[-1])
    return hit[:160]


def _is_human(e: Text) -> bool:
    t = e.text.lstrip()
    return not (
        e.meta
        or e.sidechain
        or t.startswith(("<", "[Request interrupted", "Caveat:", "This session is being continued"))
    )


# ---------------------------------------------------------------------------------------------
# The streaming miner


@dataclass
class _Failing:
    first_line: int
    last_line: int
    failures: int = 0
    lines: list[int] = field(default_factory=list)
    first_error: str = ""
    edits: list[str] = field(default_factory=list)
    edit_lines: list[int] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


@dataclass
class _Correction:
    line: int
    text: str
    strength: float
    after: str


class SessionMiner:
    """Feed one session's events in order (`feed`), then `finish()` for its candidates."""

    def __init__(self, file_ref: str, config: DetectorConfig | None = None) -> None:
        self.file_ref = file_ref
        self.config = config or DetectorConfig()
        self.session_id = ""
        self._pending: dict[str, ToolUse] = {}
        self._unlinked: list[ToolUse] = []
        self._failing: dict[str, _Failing] = {}
        self._open: dict[str, _Failing] = {}
        self._fixes: list[tuple[str, _Failing, int]] = []
        self._last_edit = 0
        self._validation_after_edit: tuple[int, bool, str] | None = None
        self._claim: tuple[int, str, tuple[int, bool, str] | None, int] | None = None
        self._corrections: list[_Correction] = []
        self._last_action = ""
        self._assistant_acted = False
        self._peak: tuple[int, int] = (0, 0)
        self._crossed: tuple[int, int] | None = None
        self._turns = 0

    def feed(self, event: Event) -> None:
        if not self.session_id:
            self.session_id = event.session_id
        if isinstance(event, ToolUse):
            self._on_use(event)
        elif isinstance(event, ToolResult):
            self._on_result(event)
        elif isinstance(event, Text):
            self._on_text(event)
        elif isinstance(event, Usage):
            self._on_usage(event)

    def feed_all(self, events: Iterable[Event]) -> SessionMiner:
        for e in events:
            self.feed(e)
        return self

    # -- events --------------------------------------------------------------------------------

    def _on_use(self, e: ToolUse) -> None:
        if e.sidechain:
            return
        self._assistant_acted = True
        self._last_action = (
            f"ran `{e.command}`" if e.command else f"used {e.name} {' '.join(e.paths)}".strip()
        )
        if e.command is None and not e.is_edit:
            return
        if e.id:
            if len(self._pending) >= _MAX_PENDING_USES:
                self._pending.pop(next(iter(self._pending)))
            self._pending[e.id] = e
        else:
            self._unlinked.append(e)
            del self._unlinked[:-20]

    def _take_use(self, r: ToolResult) -> ToolUse | None:
        if r.tool_use_id:
            use = self._pending.pop(r.tool_use_id, None)
            if use is not None:
                return use
        # an old record without a link answers the most recent call still waiting for one
        if self._unlinked:
            return self._unlinked.pop()
        if not r.tool_use_id and self._pending:
            return self._pending.pop(next(reversed(self._pending)))
        return None

    def _on_result(self, r: ToolResult) -> None:
        if r.sidechain:
            return
        use = self._take_use(r)
        if use is None:
            return
        if use.is_edit:
            if not r.is_error:
                self._on_edit(use)
            return
        assert use.command is not None
        key = normalise_command(use.command)
        if not key:
            return
        if is_validation(key) and use.line > self._last_edit:
            self._validation_after_edit = (r.line, not r.is_error, key)
        if r.is_error:
            self._on_failure(key, use, r)
        else:
            self._on_success(key, r)

    def _on_edit(self, use: ToolUse) -> None:
        self._last_edit = use.line
        self._validation_after_edit = None
        for f in self._open.values():
            for p in use.paths:
                if p not in f.edits and len(f.edits) < 10:
                    f.edits.append(p)
            if len(f.edit_lines) < 10:
                f.edit_lines.append(use.line)

    def _on_failure(self, key: str, use: ToolUse, r: ToolResult) -> None:
        f = self._failing.get(key)
        if f is None:
            if len(self._failing) >= _MAX_TRACKED_COMMANDS:
                return
            f = self._failing[key] = _Failing(first_line=use.line, last_line=use.line)
            f.first_error = error_line(r.text)
        f.failures += 1
        f.last_line = use.line
        if len(f.lines) < 20:
            f.lines.append(use.line)
        opened = self._open.get(key)
        if opened is None:
            self._open[key] = _Failing(
                first_line=use.line, last_line=use.line, first_error=error_line(r.text)
            )
        else:
            opened.last_line = use.line
            opened.edits.clear()  # only what changed after the LAST failure made it work
            opened.edit_lines.clear()
            opened.commands.clear()

    def _on_success(self, key: str, r: ToolResult) -> None:
        opened = self._open.pop(key, None)
        first_fix = not any(k == key for k, _, _ in self._fixes)
        if opened is not None and (opened.edits or opened.commands) and first_fix:
            self._fixes.append((key, opened, r.line))
        for other in self._open.values():
            if len(other.commands) < 3 and key not in other.commands and not is_validation(key):
                other.commands.append(key)

    def _on_text(self, e: Text) -> None:
        if e.role == "assistant":
            if e.sidechain:
                return
            self._assistant_acted = True
            self._last_action = f"said: {e.text[:120]}"
            if self._claim is None and self._last_edit and _CLAIM.search(e.text):
                v = self._validation_after_edit
                if v is None or not v[1]:
                    self._claim = (e.line, e.text, v, self._last_edit)
            return
        if not _is_human(e) or not self._assistant_acted:
            return
        if len(self._corrections) >= self.config.max_corrections:
            return
        strength = correction_strength(e.text)
        if strength is not None:
            self._corrections.append(_Correction(e.line, e.text, strength, self._last_action))

    def _on_usage(self, u: Usage) -> None:
        if u.sidechain:
            return
        self._turns += 1
        ctx = u.context
        if ctx > self._peak[0]:
            self._peak = (ctx, u.line)
        if self._crossed is None and ctx > self.config.context_limit * self.config.window:
            self._crossed = (u.line, self._turns)

    # -- candidates ----------------------------------------------------------------------------

    def _ref(self, line: int) -> str:
        return f"{self.file_ref}:{line}"

    def _evidence(self, lines: Iterable[int], text: str) -> Evidence:
        refs = list(dict.fromkeys(self._ref(n) for n in lines))[:_MAX_REFS]
        return Evidence(
            sessions=[self.session_id] if self.session_id else [], transcripts=refs, excerpt=excerpt(text)
        )

    def finish(self) -> list[PatternCandidate]:
        out: list[PatternCandidate] = []
        out.extend(self._spirals())
        out.extend(self._fix_candidates())
        out.extend(self._correction_candidates())
        ctx = self._context_candidate()
        if ctx is not None:
            out.append(ctx)
        claim = self._claim_candidate()
        if claim is not None:
            out.append(claim)
        return out

    def _spirals(self) -> Iterable[PatternCandidate]:
        n_min = self.config.spiral_failures
        for key, f in self._failing.items():
            if f.failures < n_min:
                continue
            conf = min(0.9, 0.5 + 0.1 * (f.failures - n_min))
            yield PatternCandidate(
                title=f"Debug loop: `{key[:120]}` kept failing",
                kind="anti-pattern",
                problem=(
                    f"`{key}` failed {f.failures} times in one session (first error: {f.first_error or 'n/a'}). "
                    "Retrying the same fix burns context without new information.\n"
                    f"Confidence {conf:.2f}: {f.failures} identical failures; more repetitions, stronger evidence."
                ),
                solution=(
                    "After the second identical failure, stop and change approach: read the full error, "
                    "reproduce it in isolation, or checkpoint and start a fresh session with what was learned."
                ),
                evidence=self._evidence(f.lines, f"$ {key}\n{f.first_error}"),
                tags=["debug-loop", "transcript"],
                confidence=conf,
                source=SOURCE,
            )

    def _fix_candidates(self) -> Iterable[PatternCandidate]:
        for key, f, ok_line in self._fixes:
            if f.edits:
                change = "editing " + ", ".join(f.edits)
                conf, why = 0.6, "files were edited between the last failure and the success"
            else:
                change = "running " + "; ".join(f"`{c}`" for c in f.commands)
                conf, why = 0.4, "only other commands ran in between (no file edit tied to the fix)"
            yield PatternCandidate(
                title=f"Fix that worked: `{key[:120]}`",
                kind="pattern",
                problem=f"`{key}` failed with: {f.first_error or 'n/a'}\nConfidence {conf:.2f}: {why}.",
                solution=f"It passed again after {change}.",
                evidence=self._evidence(
                    [f.first_line, f.last_line, *f.edit_lines, ok_line],
                    f"$ {key}\n{f.first_error}\nfixed by {change}",
                ),
                tags=["fix", "transcript"],
                confidence=conf,
                source=SOURCE,
            )

    def _correction_candidates(self) -> Iterable[PatternCandidate]:
        for c in self._corrections:
            said = excerpt(c.text, 160)
            kind_of = (
                "explicit correction" if c.strength >= 0.6 else "a short 'no/don't/stop' that may be steering"
            )
            yield PatternCandidate(
                title=f"Corrected by the person: {said[:80]}",
                kind="anti-pattern",
                problem=(
                    f"The assistant {excerpt(c.after, 160) or 'acted'}; the person corrected it.\n"
                    f"Confidence {c.strength:.2f}: {kind_of}."
                ),
                solution=f"What the person asked instead: {said}",
                evidence=self._evidence([c.line], c.text),
                tags=["correction", "transcript"],
                confidence=c.strength,
                source=SOURCE,
            )

    def _context_candidate(self) -> PatternCandidate | None:
        if self._crossed is None:
            return None
        cfg = self.config
        peak, peak_line = self._peak
        line, turn = self._crossed
        pct_limit = round(cfg.context_limit * 100)
        text = (
            f"peak {peak:,} tokens of {cfg.window:,} ({peak / cfg.window:.0%}); "
            f"passed {pct_limit}% at line {line}, turn {turn}"
        )
        return PatternCandidate(
            title=f"Session ran past {pct_limit}% of the context window",
            kind="anti-pattern",
            problem=(
                f"The context held {text}. Quality drops as the window fills and early instructions get lost.\n"
                f"Confidence 0.90: measured from the transcript's usage counts; the {cfg.window:,}-token "
                "window size is assumed."
            ),
            solution=(
                f"Checkpoint before {pct_limit}% and continue in a fresh session; load only what the "
                "next step needs."
            ),
            evidence=self._evidence([line, peak_line], text),
            tags=["context", "transcript"],
            confidence=0.9,
            source=SOURCE,
        )

    def _claim_candidate(self) -> PatternCandidate | None:
        if self._claim is None:
            return None
        line, text, validation, edit_line = self._claim
        if validation is None:
            conf, why = 0.55, "no validation command ran after the last edit (it may have been run outside)"
            lines = [edit_line, line]
        else:
            conf, why = 0.7, f"the last validation after the edit (`{validation[2]}`) failed"
            lines = [edit_line, validation[0], line]
        return PatternCandidate(
            title="Success claimed without a passing validation",
            kind="anti-pattern",
            problem=f"The assistant claimed success after changing files, but {why}.\nConfidence {conf:.2f}: {why}.",
            solution="Run the project's tests/linters after the last change and show the passing result before saying it works.",
            evidence=self._evidence(lines, text),
            tags=["unvalidated-claim", "transcript"],
            confidence=conf,
            source=SOURCE,
        )


# ---------------------------------------------------------------------------------------------
# Files and merging


class FileMineResult(BaseModel):
    """What mining one transcript file found, and the state to remember for the next run."""

    candidates: list[PatternCandidate] = Field(default_factory=list)
    state: TranscriptState
    stats: ScanStats


def mine_file(
    path: Path, state: TranscriptState | None = None, config: DetectorConfig | None = None
) -> FileMineResult:
    """Mine what was appended to one transcript since `state`; unchanged files cost one `stat`."""
    s = scan(path, state)
    miner = SessionMiner(Path(path).name, config).feed_all(s)
    cands = [] if s.stats.unchanged else miner.finish()
    return FileMineResult(candidates=cands, state=s.state, stats=s.stats)


def merge_candidates(candidates: Iterable[PatternCandidate]) -> list[PatternCandidate]:
    """Join candidates with the same kind and title: evidence united, confidence raised by repeats.

    Each further session adds 0.05 (at most 0.95): the same finding in many sessions is a habit,
    not an accident.
    """
    groups: dict[tuple[str, str], list[PatternCandidate]] = {}
    for c in candidates:
        groups.setdefault((c.kind, c.title), []).append(c)
    merged: list[PatternCandidate] = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            merged.append(first)
            continue
        sessions = list(dict.fromkeys(s for c in group for s in c.evidence.sessions))
        refs = list(dict.fromkeys(r for c in group for r in c.evidence.transcripts))
        conf = min(0.95, max(c.confidence for c in group) + 0.05 * (len(sessions) - 1))
        note = f"\nSeen {len(group)} times in {len(sessions)} session(s); confidence raised to {conf:.2f}."
        merged.append(
            first.model_copy(
                update={
                    "problem": (first.problem + note)[:4000],
                    "confidence": conf,
                    "tags": list(dict.fromkeys(t for c in group for t in c.tags))[:20],
                    "evidence": first.evidence.model_copy(
                        update={"sessions": sessions[:_MAX_REFS], "transcripts": refs[:_MAX_REFS]}
                    ),
                }
            )
        )
    return merged
