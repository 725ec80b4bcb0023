"""Team settings: validation gates, routing rules, approval expiry.

Two places a team can commit them, one of which is used (never merged, so what runs is what one
file says):

1. `<data dir>/config.toml` (`.agentops/config.toml`): the one file the data dir's `.gitignore`
   lets through. When it exists it wins, whole.
2. `[tool.factorops]` in the project's `pyproject.toml`, for Python projects that keep tool
   settings there. Read only when there is no config.toml.

Only gates declared here can run: an assistant names a gate, never a command. Unknown keys are
errors (a typo such as `timout_s` would otherwise silently give the default), and so are invalid
regexes in routing rules: never silently ignored.

Each section is validated on its own, so one mistake disables only what it configures: a broken
`gates` makes `validation_run` an error naming the file and the key, a broken `routing` makes
`route_task` one, and the other features work. Safety settings never turn their feature off: an
invalid `approval_timeout_s` or a gate's `timeout_s` falls back to the default (86400 s, 300 s) with
a warning in the reply and the log, and a broken `[approvals]` table (escalation) gives its defaults
with a warning. A file that is not valid TOML is read table by table, so only the sections holding
the syntax error are broken. Top-level keys: `gates`, `routing`, `approval_timeout_s`, `approvals`;
nothing else exists.
"""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from factorops.store.datadir import DataDir

from . import watch_config
from .errors import DomainError
from .watch_config import WatchSettings

Workflow = Literal["research", "plan", "implement", "review"]
Tier = Literal["small", "medium", "large"]

PYPROJECT_TABLE = "tool.factorops"
APPROVAL_TIMEOUT_S = 86400  # a request no person decided times out (a denial, reason "timeout")
ESCALATE_AFTER_S = 4 * 3600
log = logging.getLogger("factorops.config")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Gate(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    command: list[str] = Field(min_length=1, description="argv, run without a shell")
    timeout_s: float = Field(default=300, gt=0, le=3600)
    cwd: str = "."
    description: str = ""

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError(
                f"must be a list of arguments, e.g. {v.split()!r}: gates run without a shell; for pipes or "
                'shell syntax write ["sh", "-c", "..."] explicitly'
            )
        return v

    @field_validator("cwd")
    @classmethod
    def _relative(cls, v: str) -> str:
        if Path(v).is_absolute() or ".." in Path(v).parts:
            raise ValueError("cwd must be a path inside the project")
        return v


class RoutingRule(_Strict):
    match: list[str] = Field(min_length=1, description="words or regexes, any may match")
    workflow: Workflow | None = None
    tier: Tier | None = None
    gates: list[str] = Field(default_factory=list)
    note: str = ""

    @field_validator("match")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for m in v:
            if not m or len(m) > 200:
                raise ValueError(f"{m!r}: a word or regex of 1 to 200 characters")
            try:
                re.compile(m)
            except re.error as exc:
                raise ValueError(f"{m!r} is not a valid regex: {exc}") from None
        return v


class Routing(_Strict):
    rules: list[RoutingRule] = Field(default_factory=list)
    default_tier: Tier = "medium"
    # route_task's modes by confidence: auto above `auto_above`, suggest from `suggest_above`,
    # below it the top three routes to choose from (docs/operations.md).
    auto_above: float = Field(default=0.9, ge=0, le=1)
    suggest_above: float = Field(default=0.7, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Routing:
        if self.suggest_above > self.auto_above:
            raise ValueError(
                f"suggest_above ({self.suggest_above}) must not exceed auto_above ({self.auto_above})"
            )
        return self


class Approvals(_Strict):
    """`[approvals]`: escalating a request nobody has decided (docs/approvals.md)."""

    escalate_after_s: int = Field(default=ESCALATE_AFTER_S, ge=60, le=30 * 86400)
    notify: list[str] = Field(default_factory=list, description="argv run (no shell) on escalation")
    notify_timeout_s: float = Field(default=10, gt=0, le=120)

    @field_validator("notify", mode="before")
    @classmethod
    def _argv(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError(f"must be a list of arguments, e.g. {v.split()!r}: it runs without a shell")
        return v


class ContextSettings(_Strict):
    """`[context]`: `max_reply_chars` caps a default-budget `context_load` reply (clients save longer
    tool results to a file and show only its path)."""

    max_reply_chars: int = Field(default=50_000, ge=2_000, le=10_000_000)


class SessionsSettings(_Strict):
    """`[sessions]`: an open session idle longer than `stale_after_hours` is stale (session_start
    and the briefing say so; file-collision warnings ignore it). Defaults when broken."""

    stale_after_hours: float = Field(default=4, gt=0, le=24 * 365)


class Maturity(_Strict):
    """`[maturity]`: the evidence that moves a pattern along discovery -> validated -> general ->
    standard, or to deprecated (docs/patterns.md, Maturity). Citations count distinct sessions."""

    validated: int = Field(default=3, ge=1, le=10_000, description="helped in this many sessions")
    general: int = Field(default=5, ge=1, le=10_000)
    standard: int = Field(default=15, ge=1, le=10_000)
    deprecate_hurt: int = Field(
        default=3, ge=1, le=10_000, description="hurt in this many, and more than helped"
    )
    half_life_days: float = Field(default=30.0, gt=0, le=3650, description="confidence halves unused")
    retire_below: float = Field(default=0.2, ge=0, le=1, description="faded confidence that deprecates")

    @model_validator(mode="after")
    def _ordered(self) -> Maturity:
        if not self.validated <= self.general <= self.standard:
            raise ValueError("validated <= general <= standard is required")
        return self


class Config(_Strict):
    """Every key a settings file may hold: the one description of the format (docs, examples)."""

    gates: list[Gate] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    approval_timeout_s: int = Field(default=APPROVAL_TIMEOUT_S, ge=10, le=7 * 86400)
    watch: WatchSettings = Field(default_factory=WatchSettings)  # typed in watch_config.py
    maturity: Maturity = Field(default_factory=Maturity)
    approvals: Approvals = Field(default_factory=Approvals)
    sessions: SessionsSettings = Field(default_factory=SessionsSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)


SECTIONS = tuple(Config.model_fields)  # gates, routing, approval_timeout_s, approvals


@dataclass
class Settings:
    """The project's settings, each section valid or broken on its own.

    `gates` and `routing` raise the section's problem when it is broken; `approval_timeout_s` is
    always usable (a safe default when broken). `warnings(section)` are what a reply should carry.
    """

    source: str = "config.toml"  # the file it was read from, for messages
    problems: dict[str, str] = field(default_factory=dict)  # section -> why it is broken
    notes: dict[str, list[str]] = field(default_factory=dict)  # section ("*": all) -> warnings
    _gates: list[Gate] = field(default_factory=list)
    _routing: Routing = field(default_factory=Routing)
    approval_timeout_s: int = APPROVAL_TIMEOUT_S
    watch: WatchSettings = field(default_factory=WatchSettings)  # defaults for a bad value
    maturity: Maturity = field(default_factory=Maturity)  # defaults (and a warning) when broken
    approvals: Approvals = field(default_factory=Approvals)  # always usable: defaults when broken
    sessions: SessionsSettings = field(default_factory=SessionsSettings)  # defaults when broken
    context: ContextSettings = field(default_factory=ContextSettings)  # defaults when broken

    @property
    def gates(self) -> list[Gate]:
        self._raise_if_broken("gates")
        return self._gates

    @property
    def routing(self) -> Routing:
        self._raise_if_broken("routing")
        return self._routing

    def gate(self, name: str) -> Gate:
        for g in self.gates:
            if g.name == name:
                return g
        names = ", ".join(g.name for g in self.gates) or "none"
        raise DomainError("gate", f"no gate {name!r} in {self.source}; configured gates: {names}")

    def warnings(self, section: str) -> list[str]:
        """Warnings for a reply about `section`: its own and the file-wide ones ("*")."""
        own = self.notes.get(section, []) if section != "*" else []
        return [*own, *self.notes.get("*", [])]

    def _raise_if_broken(self, section: str) -> None:
        if section in self.problems:
            raise DomainError("config", self.problems[section])

    def _note(self, section: str, message: str) -> None:
        self.notes.setdefault(section, []).append(message)
        _log_once(message)

    def _break(self, section: str, message: str) -> None:
        if section not in self.problems:
            self.problems[section] = message
            _log_once(message)


_logged: set[str] = set()


def _log_once(message: str) -> None:
    """Settings are read on every call: say each problem in the log once per process."""
    if message not in _logged and len(_logged) < 1000:
        _logged.add(message)
        log.warning("settings: %s", message)


def how_to_configure(datadir: DataDir) -> str:
    return (
        f"add [[gates]] entries (name, command as an argv list, timeout_s) to {datadir.config_path}, "
        f"or [[{PYPROJECT_TABLE}.gates]] to {datadir.root / 'pyproject.toml'}; see examples/config.toml"
    )


def load_for(datadir: DataDir) -> Settings:
    """The project's settings: config.toml if it exists, else pyproject's [tool.factorops]."""
    if datadir.config_path.exists():
        return load(datadir.config_path)
    pyproject = datadir.root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = _parse(pyproject)
        except DomainError as exc:
            return _all_broken(pyproject, exc.message)
        table = data.get("tool", {}).get("factorops") if isinstance(data.get("tool"), dict) else None
        if table is not None:
            return _validate(table, pyproject, prefix=f"{PYPROJECT_TABLE}.")
    return Settings()


def load(config_path: Path) -> Settings:
    if not config_path.exists():
        return Settings()
    try:
        text = config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return _all_broken(config_path, f"{config_path} is not valid TOML: {exc}")
    except OSError as exc:
        return _all_broken(config_path, f"{config_path} cannot be read: {exc.strerror}")
    try:
        return _validate(tomllib.loads(text), config_path, prefix="")
    except tomllib.TOMLDecodeError as exc:
        data, broken = _salvage(text)
        settings = _validate(data, config_path, prefix="")
        for section in broken:
            settings.problems.pop(section, None)
            _broken_section(settings, section, f"{config_path} is not valid TOML: {exc}")
        return settings


def _parse(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DomainError("config", f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise DomainError("config", f"{path} cannot be read: {exc.strerror}") from None


_HEADER = re.compile(r"""^\s*\[\[?\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)""")


def _salvage(text: str) -> tuple[dict[str, Any], set[str]]:
    """What can be read of a file that is not valid TOML: each top-level table (with its sub-tables)
    parsed apart. Returns the data read and the sections that could not be."""
    groups: dict[str, list[str]] = {}  # top-level key ("" for the keys before any table) -> lines
    current = ""
    for line in text.splitlines(keepends=True):
        m = _HEADER.match(line)
        if m:
            current = m.group(1).strip("\"'")
        groups.setdefault(current, []).append(line)
    data: dict[str, Any] = {}
    broken: set[str] = set()
    for key, lines in groups.items():
        chunk = "".join(lines)
        try:
            part = tomllib.loads(chunk)
        except tomllib.TOMLDecodeError:
            if key:
                broken.add(key)
            else:  # the loose keys at the top may have set any section not read from its table
                broken.add("root")
            continue
        for k, v in part.items():
            if k in data and isinstance(data[k], dict) and isinstance(v, dict):
                data[k] = {**data[k], **v}
            elif k in data:
                broken.add(k)
            else:
                data[k] = v
    if "root" in broken:
        broken.discard("root")
        broken.update(s for s in SECTIONS if s not in data)
    return data, broken


def _all_broken(path: Path, message: str) -> Settings:
    settings = Settings(source=str(path))
    for section in SECTIONS:
        _broken_section(settings, section, message)
    return settings


def _broken_section(settings: Settings, section: str, message: str) -> None:
    if section == "approval_timeout_s":  # a safety setting: the default, with a warning
        settings.approval_timeout_s = APPROVAL_TIMEOUT_S
        settings._note(
            section, f"{message}; approval requests expire after the default {APPROVAL_TIMEOUT_S} s"
        )
    elif section == "approvals":  # escalation is a safety setting too: its defaults, with a warning
        settings.approvals = Approvals()
        settings._note(
            section, f"{message}; approvals escalate after the default {ESCALATE_AFTER_S} s, notifying no one"
        )
    elif section in SECTIONS:
        settings._break(section, message)
    else:  # an unknown table that does not parse either
        close = difflib.get_close_matches(section, SECTIONS, n=1, cutoff=0.6)
        if close:
            _broken_section(settings, close[0], message)
        else:
            settings._note("*", f"{message} (in [{section}], not a factorops setting)")


def _problem(exc: ValidationError, path: Path, where: str) -> str:
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(x) for x in (where, *first["loc"]) if x != "")
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{path}: {loc}: {msg}"


_GATE_TIMEOUT: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(gt=0, le=3600)])
_APPROVAL_TIMEOUT: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=10, le=7 * 86400)])
_GATES: TypeAdapter[list[Gate]] = TypeAdapter(list[Gate])


def _validate(data: object, path: Path, prefix: str) -> Settings:
    if not isinstance(data, dict):
        return _all_broken(path, f"{path}: {prefix.rstrip('.')} must be a table")
    settings = Settings(source=str(path))
    for key in data:
        if key in SECTIONS:
            continue
        close = difflib.get_close_matches(key, SECTIONS, n=1, cutoff=0.6)
        if close:
            settings._break(close[0], f"{path}: {prefix}{key}: unknown key; did you mean {close[0]!r}?")
        else:
            settings._note(
                "*", f"{path}: {prefix}{key}: unknown key, ignored; the keys are {', '.join(SECTIONS)}"
            )
    if "gates" not in settings.problems:
        _validate_gates(settings, data.get("gates", []), path, prefix)
    if "routing" not in settings.problems:
        try:
            settings._routing = Routing.model_validate(data.get("routing", {}))
        except ValidationError as exc:
            settings._break("routing", _problem(exc, path, f"{prefix}routing"))
    if "maturity" in data:
        try:
            settings.maturity = Maturity.model_validate(data["maturity"])
        except ValidationError as exc:
            settings._note(
                "maturity", f"{_problem(exc, path, f'{prefix}maturity')}; the default thresholds apply"
            )
    if "approval_timeout_s" in data:
        try:
            settings.approval_timeout_s = _APPROVAL_TIMEOUT.validate_python(data["approval_timeout_s"])
        except ValidationError as exc:
            _broken_section(
                settings, "approval_timeout_s", _problem(exc, path, f"{prefix}approval_timeout_s")
            )
    if "approvals" in data:
        try:
            settings.approvals = Approvals.model_validate(data["approvals"])
        except ValidationError as exc:
            _broken_section(settings, "approvals", _problem(exc, path, f"{prefix}approvals"))
    if "sessions" in data:
        try:
            settings.sessions = SessionsSettings.model_validate(data["sessions"])
        except ValidationError as exc:
            settings._note("sessions", f"{_problem(exc, path, f'{prefix}sessions')}; the defaults apply")
    if "context" in data:
        try:
            settings.context = ContextSettings.model_validate(data["context"])
        except ValidationError as exc:
            settings._note("context", f"{_problem(exc, path, f'{prefix}context')}; the defaults apply")
    if watch_config.SECTION in data:  # a bad threshold falls back to its default, with a warning
        settings.watch, problems = watch_config.validate(data[watch_config.SECTION], f"{prefix}watch")
        for problem in problems:
            settings._note("watch", f"{path}: {problem}")
    return settings


def _validate_gates(settings: Settings, raw: object, path: Path, prefix: str) -> None:
    if isinstance(raw, list):
        fixed: list[object] = []
        for i, g in enumerate(raw):
            if isinstance(g, dict) and "timeout_s" in g:
                try:
                    _GATE_TIMEOUT.validate_python(g["timeout_s"])
                except ValidationError as exc:
                    # A time limit is a safety setting: the gate still runs, under the default one.
                    default = Gate.model_fields["timeout_s"].default
                    settings._note(
                        "gates",
                        f"{_problem(exc, path, f'{prefix}gates.{i}.timeout_s')}; the gate runs with "
                        f"the default time limit of {default:.0f} s",
                    )
                    g = {k: v for k, v in g.items() if k != "timeout_s"}
            fixed.append(g)
        raw = fixed
    try:
        gates = _GATES.validate_python(raw)
    except ValidationError as exc:
        settings._break("gates", _problem(exc, path, f"{prefix}gates"))
        return
    names = [g.name for g in gates]
    if len(names) != len(set(names)):
        dup = next(n for n in names if names.count(n) > 1)
        settings._break(
            "gates", f"{path}: {prefix}gates: gate name {dup!r} appears twice; names must be unique"
        )
        return
    settings._gates = gates
