"""Team settings: validation gates and routing rules, from `.agentops/config.toml`.

The file sits in the data dir but is the one file its `.gitignore` lets through, so a team commits
it with the code. Only gates declared here can run: an assistant names a gate, never a command.
A file that does not parse or validate is an error naming the key, never silently ignored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from factorops.tools.errors import DomainError

Workflow = Literal["research", "plan", "implement", "review"]
Tier = Literal["small", "medium", "large"]


class Gate(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    command: list[str] = Field(min_length=1, description="argv, run without a shell")
    timeout_s: float = Field(default=300, gt=0, le=3600)
    cwd: str = "."
    description: str = ""

    @field_validator("cwd")
    @classmethod
    def _relative(cls, v: str) -> str:
        if Path(v).is_absolute() or ".." in Path(v).parts:
            raise ValueError("cwd must be a path inside the project")
        return v


class RoutingRule(BaseModel):
    match: list[str] = Field(min_length=1, description="words or regexes, any may match")
    workflow: Workflow | None = None
    tier: Tier | None = None
    gates: list[str] = Field(default_factory=list)
    note: str = ""


class Routing(BaseModel):
    rules: list[RoutingRule] = Field(default_factory=list)
    default_tier: Tier = "medium"


class Config(BaseModel):
    gates: list[Gate] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    approval_timeout_s: int = Field(default=3600, ge=10, le=7 * 86400)

    def gate(self, name: str) -> Gate:
        for g in self.gates:
            if g.name == name:
                return g
        names = ", ".join(g.name for g in self.gates) or "none"
        raise DomainError("gate", f"no gate {name!r} in config.toml; configured gates: {names}")


def load(config_path: Path) -> Config:
    if not config_path.exists():
        return Config()
    try:
        data = tomllib.loads(config_path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DomainError("config", f"{config_path} is not valid TOML: {exc}") from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"])
        raise DomainError("config", f"{config_path}: {where}: {first['msg']}") from None
    names = [g.name for g in cfg.gates]
    if len(names) != len(set(names)):
        raise DomainError("config", f"{config_path}: gate names must be unique")
    return cfg
