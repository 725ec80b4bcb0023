"""Storage errors: the index or the ledger cannot be read or written.

`StorageError` is an `OSError`, because that is what it is to its callers (a disk, a permission, a
damaged file), so every face that already turns I/O failures into a clear one-line message
("storage: …", never a traceback) handles it without knowing the store. Its message says what
happened and what a person can do about it, usually `factorops doctor`.
"""

from __future__ import annotations

from pathlib import Path

DOCTOR_FIX = "run `factorops doctor --fix` to rebuild the index from the ledger"


class StorageError(OSError):
    """The data dir, the SQLite index or the git ledger cannot be used; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def unusable_index(path: Path, exc: BaseException) -> StorageError:
    return StorageError(f"the index database {path} cannot be used ({exc}); {DOCTOR_FIX}")


def unusable_datadir(path: Path, exc: OSError) -> StorageError:
    what = exc.strerror or str(exc)
    where = exc.filename or path
    return StorageError(
        f"the data dir {path} cannot be written ({what}: {where}); make it writable "
        "(`factorops doctor` checks it) or choose another with --data-dir"
    )


def describe(exc: BaseException) -> str:
    """One line for a person or an assistant: `storage: what happened; what to do`."""
    import sqlite3

    if isinstance(exc, StorageError):
        return f"storage: {exc}"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"storage: the index database failed ({exc}); {DOCTOR_FIX}"
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        return f"storage: {what}{where}; check the disk and permissions (`factorops doctor` checks them)"
    return f"storage: {exc}"
