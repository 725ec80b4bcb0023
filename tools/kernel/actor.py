"""Who is acting: every state-changing operation takes an `Actor` and enforces its own policy.

The promise "only a person grants authority" must not depend on which MCP tools happen to be
registered: an assistant can reach a domain function through another route (a bundle, a record
update, a shell running our CLI). So the domain knows who acts:

- an **assistant** reaches us through MCP (stdio or HTTP). Its client name is whatever the client
  declared in `initialize`: recorded, never trusted (`verified=False`).
- a **person** reaches us through the CLI (the OS user), the dashboard (a person's token or the
  install token), or by answering an elicitation in their own client. An elicitation answer over
  HTTP may come from a script holding the token rather than a person, so it is a weaker kind of
  person: `via="elicitation"` with the transport recorded, and high-risk decisions refuse it.

An assistant proposes (candidates, requests); a person decides (approvals, promotion, retirement).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .errors import DomainError

Kind = Literal["assistant", "person"]
Via = Literal["mcp-stdio", "mcp-http", "mcp", "cli", "dashboard", "elicitation", "hook"]


class Actor(BaseModel, frozen=True):
    kind: Kind
    via: Via
    name: str = Field(default="", max_length=200)
    verified: bool = False
    transport: Literal["stdio", "http", "in-process", ""] = ""

    @classmethod
    def assistant(
        cls, client: str | None, transport: Literal["stdio", "http", "in-process", ""] = ""
    ) -> Actor:
        via: Via = "mcp-http" if transport == "http" else "mcp-stdio" if transport == "stdio" else "mcp"
        return cls(kind="assistant", via=via, name=(client or "unknown client")[:200], transport=transport)

    @classmethod
    def cli(cls, user: str | None = None) -> Actor:
        """The person at the terminal: the OS user (verified by the OS, as far as we can tell)."""
        import getpass

        return cls(kind="person", via="cli", name=user or getpass.getuser(), verified=True)

    @classmethod
    def dashboard(cls, person: str) -> Actor:
        return cls(kind="person", via="dashboard", name=person, verified=True)

    @classmethod
    def elicitation(cls, client: str | None, transport: Literal["stdio", "http", "in-process", ""]) -> Actor:
        """A person answering in their own client; the client's name is self-declared."""
        return cls(
            kind="person", via="elicitation", name=(client or "unknown client")[:200], transport=transport
        )

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    @property
    def label(self) -> str:
        """How the audit trail names this actor: one spelling for every face."""
        if self.via == "elicitation":
            return (
                f"person via {self.name} (elicitation over {self.transport or 'mcp'}, client name unverified)"
            )
        if self.kind == "assistant":
            return f"assistant {self.name} via {self.via} (client name unverified)"
        return f"{self.name} via {self.via}"


class AuthorityError(DomainError):
    """An actor tried something its kind may not do."""


def require_person(actor: Actor, what: str, field: str = "actor") -> None:
    if not actor.is_person:
        raise AuthorityError(
            field,
            f"only a person may {what}; the assistant ({actor.name}) can propose it, and a person "
            "decides through `factorops` on the command line or the dashboard",
        )
