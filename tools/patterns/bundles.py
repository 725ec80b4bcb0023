"""Bundles (Factor XII): share proven patterns and guardrails between projects and teammates.

A bundle is a `.tar.gz` holding `manifest.json` (format, version, SHA-256 and size of every member)
and the patterns as the same Markdown files the ledger keeps. Import trusts nothing: the archive
must open, every member must be a regular file under `patterns/` with a safe name and a bounded
size, the manifest must list exactly the members with matching hashes, and every pattern must
parse and validate. Only then is anything written, in one ledger commit, so a bad bundle changes
nothing. Imported patterns arrive as candidates (a person promotes them) unless told otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from datetime import datetime
from pathlib import Path

from factorops import __version__
from factorops.store.store import Store
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError

from . import markdown as pattern_markdown
from . import records as patterns
from .model import Pattern
from .safe_tar import ArchiveError, read_members

FORMAT = "factorops-bundle"
VERSION = 1
MAX_MEMBER_BYTES = 256 * 1024
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 64 * 1024 * 1024
_MEMBER = re.compile(r"patterns/[A-Za-z0-9_.-]{1,64}\.md")
_LOCAL_FIELDS = ("status", "created", "updated", "times_used", "times_helped")


class ImportReport(CompactModel):
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    duplicates: list[str] = []
    commit: str | None = None


def export(
    store: Store, dest: Path, kinds: list[str] | None = None, statuses: tuple[str, ...] = ("active",)
) -> int:
    """Write a bundle of the chosen patterns; returns how many it holds."""
    rows = store.db.execute("SELECT id, kind, status FROM patterns ORDER BY id").fetchall()
    chosen = [pid for pid, kind, status in rows if status in statuses and (not kinds or kind in kinds)]
    members: dict[str, bytes] = {}
    for pid in chosen:
        members[f"patterns/{pid}.md"] = store.ledger.read(f"patterns/{pid}.md")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created_by": f"factorops {__version__}",
        "members": [
            {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for path, data in sorted(members.items())
        ],
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in [
            ("manifest.json", json.dumps(manifest, indent=2).encode()),
            *sorted(members.items()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(dest)
    return len(members)


def _read_archive(path: Path) -> tuple[dict[str, object], dict[str, bytes]]:
    if not path.is_file():
        raise DomainError("bundle", f"{path} is not a file")
    try:
        # Bounded memory: header sizes, member counts and the decompressed stream are capped
        # before anything is read (a long-name header claiming 1 GiB is refused, not allocated).
        files = read_members(
            path,  # the module constants are read at call time, so tests can monkeypatch them
            max_members=MAX_MEMBERS,
            max_member_bytes=MAX_MEMBER_BYTES,
            max_total_bytes=MAX_TOTAL_BYTES,
        )
    except ArchiveError as exc:
        if exc.kind == "name":
            raise DomainError(
                "bundle", f"member {exc.member!r} has a path outside patterns/ or an unsafe name ({exc})"
            ) from None
        if exc.kind in ("corrupt", "io"):
            raise DomainError("bundle", f"{path.name} is not a readable bundle archive ({exc})") from None
        raise DomainError("bundle", str(exc)) from None
    for name in files:
        if name != "manifest.json" and not _MEMBER.fullmatch(name):
            raise DomainError("bundle", f"member {name!r} has a path outside patterns/ or an unsafe name")
    raw = files.pop("manifest.json", None)
    if raw is None:
        raise DomainError("bundle", "manifest.json is missing")
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DomainError("bundle", f"manifest.json is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DomainError(
            "bundle",
            f"not a {FORMAT} (manifest format is {manifest.get('format') if isinstance(manifest, dict) else None!r})",
        )
    if manifest.get("version") != VERSION:
        raise DomainError(
            "bundle",
            f"bundle version {manifest.get('version')!r} is not supported (this factorops reads {VERSION})",
        )
    return manifest, files


def verify(path: Path) -> list[Pattern]:
    """Every check, nothing written; returns the patterns the bundle holds."""
    manifest, files = _read_archive(path)
    listed = manifest.get("members")
    if not isinstance(listed, list):
        raise DomainError("bundle", "manifest has no member list")
    names = set()
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise DomainError("bundle", "manifest member entries need a path")
        name = entry["path"]
        names.add(name)
        data = files.get(name)
        if data is None:
            raise DomainError("bundle", f"manifest lists {name!r} but the archive lacks it")
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise DomainError("bundle", f"{name}: SHA-256 does not match the manifest (tampered or corrupt)")
    extra = set(files) - names
    if extra:
        raise DomainError("bundle", f"members not in the manifest: {', '.join(sorted(extra)[:5])}")
    out = []
    for name in sorted(names):
        try:
            p = pattern_markdown.parse(files[name].decode("utf-8"), name)
        except (pattern_markdown.PatternFileError, UnicodeDecodeError) as exc:
            raise DomainError("bundle", f"invalid pattern: {exc}") from None
        if f"patterns/{p.id}.md" != name:
            raise DomainError("bundle", f"{name}: its id {p.id!r} does not match the file name")
        problem = patterns.rule_problem(p.rule)
        if problem:
            raise DomainError("bundle", f"{name}: guardrail rule refused: {problem}")
        out.append(p)
    return out


def import_bundle(store: Store, path: Path, now: datetime, keep_status: bool = False) -> ImportReport:
    incoming = verify(path)
    report = ImportReport()
    taken: list[tuple[frozenset[str], str, str]] = []  # (title words, kind, id) added by this import
    to_write: list[Pattern] = []
    for p in incoming:
        if not keep_status and p.status == "active":
            p = p.model_copy(update={"status": "candidate"})
        local_path = store.ledger.path / f"patterns/{p.id}.md"
        if local_path.is_file():
            local = pattern_markdown.parse(local_path.read_text(), p.id)
            # The bundle brings content; the lifecycle (status, when it was made, how it was used)
            # is this project's. Same content is unchanged even if the two were made at other times
            # (the starter rules of two projects installed on different days).
            theirs = p.model_copy(update={k: getattr(local, k) for k in _LOCAL_FIELDS})
            if pattern_markdown.render(theirs) == pattern_markdown.render(local):
                report.unchanged.append(p.id)
                continue
            to_write.append(theirs.model_copy(update={"updated": now}))
            report.updated.append(p.id)
            continue
        words = patterns.title_words(p.title)
        dup = patterns.find_duplicate(store, p.title, p.kind) or next(
            (i for w, k, i in taken if k == p.kind and patterns.similar(w, words)), None
        )
        if dup is not None:
            report.duplicates.append(f"{p.id} (same as {dup})")
            continue
        taken.append((words, p.kind, p.id))
        to_write.append(p)
        report.added.append(p.id)
    if to_write:
        files = {f"patterns/{p.id}.md": pattern_markdown.render(p).encode() for p in to_write}

        def index(db: object, sha: str) -> None:
            for p in to_write:
                patterns.upsert(db, p, sha)  # type: ignore[arg-type]

        sha, _ = store.write(
            files, f"bundle: import {len(to_write)} patterns from {path.name}", {"Factor": "XII"}, index
        )
        report.commit = sha
    return report
