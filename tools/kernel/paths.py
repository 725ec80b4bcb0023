"""Keep every path inside the project root, judged by the whole path.

Paths are resolved (symlinks included, every parent directory too) before the check, so
`docs/../../etc/passwd`, a symlink pointing out of the project and a tracked directory replaced by
a symlink to somewhere else are all refused. A file that enters the index or a load must also pass
the secret-file policy under its real name as well as the name it was reached by, so
`notes_link.txt -> .env` is a secret file.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DomainError
from .redact import is_secret_path

MAX_PATH_CHARS = 512  # far above any real project path; longer is an argument error, not a storage one


class PathRefused(ValueError):
    """A project file that must not be read: `reason` says why; `secret` when by the secret policy."""

    def __init__(self, reason: str, *, secret: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.secret = secret


def resolve_inside(root: Path, user_path: str, field: str = "paths") -> Path:
    """The real path of `user_path` (relative to root, or absolute), if it lies inside root."""
    if "\0" in user_path:
        raise DomainError(field, f"{user_path!r} contains a NUL byte")
    if len(user_path) > MAX_PATH_CHARS:
        raise DomainError(
            field,
            f"a path of {len(user_path)} characters is too long (at most {MAX_PATH_CHARS}); "
            "give a path inside the project",
        )
    real_root = root.resolve()
    candidate = Path(user_path).expanduser()
    if not candidate.is_absolute():
        candidate = real_root / candidate
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # a name too long for the file system, a symlink loop
        reason = getattr(exc, "strerror", None) or str(exc)
        raise DomainError(field, f"{user_path[:80]!r} cannot be resolved ({reason})") from None
    if real != real_root and real_root not in real.parents:
        raise DomainError(
            field, f"{user_path!r} is outside the project root {real_root}; give a path inside the project"
        )
    return real


def project_file(root: Path, rel: str) -> Path:
    """The real path of the project file `rel`, or `PathRefused` saying why it must not be read.

    The whole path is resolved strictly (every parent, every link on the way); the result must lie
    inside the root, and neither `rel` nor the real path relative to the root may be a secret file.
    """
    if is_secret_path(rel):
        raise PathRefused("secret file", secret=True)
    real_root = root.resolve()
    try:
        real = (real_root / rel).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise PathRefused(f"cannot be resolved ({getattr(exc, 'strerror', None) or exc})") from None
    if real_root not in real.parents:
        raise PathRefused("leads outside the project (through a symlink)")
    real_rel = real.relative_to(real_root).as_posix()
    if real_rel != rel and is_secret_path(real_rel):
        raise PathRefused("secret file (a link to one)", secret=True)
    return real
