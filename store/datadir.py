"""Where a project's factorops data lives, and creating it on first use.

`<project>/.agentops/` by default: `agentops.db` (the SQLite index), `ledger/` (the git ledger),
`ledger.lock`, `logs/`. Its `.gitignore` ignores everything (itself too) but `config.toml`, so the
user's repository never picks up the database by accident, while the team can commit shared
settings (validation gates, routing rules) in `config.toml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GITIGNORE = """# Written by factorops: keep the index, the ledger and logs out of your repository.
# config.toml holds settings a team shares (gates, routing): commit it if you like.
*
!config.toml
"""

DB_NAME = "agentops.db"


@dataclass(frozen=True)
class DataDir:
    root: Path  # the user's project
    path: Path  # the data dir

    @classmethod
    def for_project(cls, root: Path, data_dir: Path | None = None) -> DataDir:
        root = root.expanduser().resolve()
        path = (data_dir.expanduser() if data_dir else root / ".agentops").resolve()
        return cls(root, path)

    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def ledger_path(self) -> Path:
        return self.path / "ledger"

    @property
    def lock_path(self) -> Path:
        return self.path / "ledger.lock"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    def exists(self) -> bool:
        """The ledger is what must exist: a missing index is re-created from it."""
        return (self.ledger_path / ".git").exists()

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        ignore = self.path / ".gitignore"
        if not ignore.exists():
            ignore.write_text(GITIGNORE)
