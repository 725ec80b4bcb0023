"""Keep every path an assistant gives us inside the project root.

Paths are resolved (symlinks included) before the check, so `docs/../../etc/passwd` and a
symlink pointing out of the project are both refused.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DomainError


def resolve_inside(root: Path, user_path: str, field: str = "paths") -> Path:
    """The real path of `user_path` (relative to root, or absolute), if it lies inside root."""
    if "\0" in user_path:
        raise DomainError(field, f"{user_path!r} contains a NUL byte")
    real_root = root.resolve()
    candidate = Path(user_path).expanduser()
    if not candidate.is_absolute():
        candidate = real_root / candidate
    real = candidate.resolve()
    if real != real_root and real_root not in real.parents:
        raise DomainError(
            field, f"{user_path!r} is outside the project root {real_root}; give a path inside the project"
        )
    return real
