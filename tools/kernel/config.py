"""Team settings: validation gates, routing rules, approval expiry.

Two places a team can commit them, one of which is used (never merged, so what runs is what one
file says):

1. `<data dir>/config.toml` (`.agentops/config.toml`): the one file the data dir's `.gitignore`
   lets through. When it exists it wins, whole.
2. `[tool.factorops]` in the project's `pyproject.toml`, for Python projects that keep tool
   settings there. Read only when there is no config.toml.

Only gates declared here can run: an assistant names a gate, never a command. Unknown keys are
errors (a typo such as `timout_s` would otherwise silently give the default), and so are invalid
regexes in routing rules: a file that does not parse or validate is an error naming the file and
the key, never silently ignored.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from factorops.store.datadir import DataDir

from .errors import DomainError

Workflow = Literal["research", "plan", "implement", "review"]
Tier = Literal["small", "medium", "large"]

PYPROJECT_TABLE = "tool.factorops"


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


class Config(_Strict):
    gates: list[Gate] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    approval_timeout_s: int = Field(default=3600, ge=10, le=7 * 86400)
    _source: str = PrivateAttr(default="config.toml")  # the file it was read from, for messages

    def gate(self, name: str) -> Gate:
        for g in self.gates:
            if g.name == name:
                return g
        names = ", ".join(g.name for g in self.gates) or "none"
        raise DomainError("gate", f"no gate {name!r} in {self._source}; configured gates: {names}")


def how_to_configure(datadir: DataDir) -> str:
    return (
        f"add [[gates]] entries (name, command as an argv list, timeout_s) to {datadir.config_path}, "
        f"or [[{PYPROJECT_TABLE}.gates]] to {datadir.root / 'pyproject.toml'}; see examples/config.toml"
    )


def load_for(datadir: DataDir) -> Config:
    """The project's settings: config.toml if it exists, else pyproject's [tool.factorops]."""
    if datadir.config_path.exists():
        return load(datadir.config_path)
    pyproject = datadir.root / "pyproject.toml"
    if pyproject.is_file():
        data = _parse(pyproject)
        table = data.get("tool", {}).get("factorops") if isinstance(data.get("tool"), dict) else None
        if table is not None:
            return _validate(table, pyproject, prefix=f"{PYPROJECT_TABLE}.")
    return Config()


def load(config_path: Path) -> Config:
    if not config_path.exists():
        return Config()
    return _validate(_parse(config_path), config_path, prefix="")


def _parse(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DomainError("config", f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise DomainError("config", f"{path} cannot be read: {exc.strerror}") from None


def _validate(data: object, path: Path, prefix: str) -> Config:
    if not isinstance(data, dict):
        raise DomainError("config", f"{path}: {prefix.rstrip('.')} must be a table")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise DomainError("config", f"{path}: {prefix}{where}: {msg}") from None
    names = [g.name for g in cfg.gates]
    if len(names) != len(set(names)):
        dup = next(n for n in names if names.count(n) > 1)
        raise DomainError(
            "config", f"{path}: {prefix}gates: gate name {dup!r} appears twice; names must be unique"
        )
    cfg._source = str(path)
    return cfg
