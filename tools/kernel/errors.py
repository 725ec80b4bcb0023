"""Errors the domain raises for bad input or a bad state, free of any MCP import.

The server layer turns a `DomainError` into an MCP tool error whose text is `field: message`, so
an assistant learns which argument was wrong and how to fix it. Anything else that escapes the
domain is a bug and is reported as such (logged with its traceback, never shown to the client).
"""

from __future__ import annotations


class DomainError(Exception):
    """Bad input or a state that forbids the operation; the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """An id that names nothing stored."""
