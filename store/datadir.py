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

    def ensure_ignored(self) -> None:
        """Create the data dir with its `.gitignore` as the very first file in it.

        Anything written before the `.gitignore` (a log line, a lock file) would show up in the
        user's `git status`, so every path that creates the data dir, or writes into it, comes
        through here first. The file is created exclusively and in one write.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        ignore = self.path / ".gitignore"
        if ignore.exists():
            return
        try:
            with ignore.open("x", encoding="utf-8") as fh:
                fh.write(GITIGNORE)
        except FileExistsError:  # another process wrote it between our check and our open
            pass

    def ensure(self) -> None:
        """The data dir, its `.gitignore` (first) and its log folder."""
        self.ensure_ignored()
        self.log_dir.mkdir(exist_ok=True)

    def prepare_logs(self) -> Path:
        """The log folder, ready to write (the `.gitignore` is in place before it)."""
        self.ensure()
        return self.log_dir
