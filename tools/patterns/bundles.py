"""Bundles (Factor XII): share proven patterns and guardrails between projects and teammates.

A bundle is a `.tar.gz` holding `manifest.json` (format, version, SHA-256 and size of every member)
and the patterns as the same Markdown files the ledger keeps. Import trusts nothing: the archive
must open, every member must be a regular file under `patterns/` with a safe name and a bounded
size, the manifest must list exactly the members with matching hashes, and every pattern must
parse and validate. Only then is anything written, in one ledger commit, so a bad bundle changes
nothing. Imported patterns arrive as candidates (a person promotes them) unless told otherwise.

Importing never silently weakens an active rule: a bundle member that changes the content of an
active pattern here arrives as a candidate *revision* of it (a person promotes it), unless the person
importing says `replace_active`. The import is planned first (`plan`: what it would add, update,
propose or replace, and what each change is), against the latest state under the ledger lock, and a
dry run stops there.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from factorops import __version__
from factorops.store import ledger_layout
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor, require_person
from factorops.tools.kernel.compact import CompactModel
from factorops.tools.kernel.errors import DomainError

from . import markdown as pattern_markdown
from . import records as patterns
from .model import USAGE_FIELDS, Pattern
from .safe_tar import ArchiveError, read_members
from .scrub import scrub_pattern

FORMAT = "factorops-bundle"
VERSION = 1
MAX_MEMBER_BYTES = 256 * 1024
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 64 * 1024 * 1024
_MEMBER = re.compile(r"patterns/[A-Za-z0-9_.-]{1,64}\.md")
# What this project learnt about a pattern (status, dates, usage and citations): never taken from a bundle.
_LOCAL_FIELDS = (
    "status",
    "created",
    "updated",
    *USAGE_FIELDS,
    "changed_by",
)

Action = Literal["add", "update", "revise", "replace", "unchanged", "proposed", "duplicate"]


class PlanItem(CompactModel):
    """One bundle member and what importing it does here."""

    action: Action
    id: str  # the bundle member's id (for "revise": the new candidate revision's id)
    title: str
    target: str | None = None  # the local pattern it concerns (revise, replace, proposed, duplicate)
    status: str | None = None  # the status it has here after the import
    changes: list[str] = []  # what changes, in words ("rule.effect: block -> warn")


class ImportReport(CompactModel):
    plan: list[PlanItem] = []
    added: list[str] = []
    updated: list[str] = []  # candidates (or retired patterns) updated in place
    revisions: list[str] = []  # "NEW (revises ACTIVE)": changes to active patterns, as candidates
    replaced: list[str] = []  # active patterns replaced in place (replace_active)
    unchanged: list[str] = []
    duplicates: list[str] = []
    commit: str | None = None
    dry_run: bool = False


def export(
    store: Store, dest: Path, kinds: list[str] | None = None, statuses: tuple[str, ...] = ("active",)
) -> int:
    """Write a bundle of the chosen patterns; returns how many it holds."""
    rows = store.db.execute("SELECT id, kind, status FROM patterns ORDER BY id").fetchall()
    chosen = [pid for pid, kind, status in rows if status in statuses and (not kinds or kind in kinds)]
    members: dict[str, bytes] = {}
    for pid in chosen:
        members[f"patterns/{pid}.md"] = store.ledger.read(ledger_layout.pattern_file(store.ledger.path, pid))
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


def import_bundle(
    store: Store,
    path: Path,
    now: datetime,
    actor: Actor | None = None,
    keep_status: bool = False,
    *,
    replace_active: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Verify the bundle, plan the import against the latest state, and (unless `dry_run`) write it
    in one commit. `actor` is who imports (None: an unnamed assistant); keeping the bundle's
    'active' (`keep_status`) and replacing active patterns (`replace_active`) are a person's calls."""
    actor = actor or Actor.assistant(None)
    if keep_status:
        require_person(actor, "import patterns as active", "keep_status")
    if replace_active:
        require_person(actor, "replace active patterns with a bundle's", "replace_active")
    # A bundle is text from elsewhere, like a mined commit or an assistant's record: it enters the
    # ledger through the same redactor (an older or foreign factorops may have exported a secret).
    incoming = [scrub_pattern(p)[0] for p in verify(path)]
    report = ImportReport(dry_run=dry_run)

    def decide() -> patterns.Plan:
        items, to_write = _plan(store, incoming, now, actor, keep_status, replace_active)
        report.plan = items
        return patterns.Plan(
            kind=",".join(f"{i.action}:{i.target or i.id}" for i in items),
            message=f"bundle: import {len(to_write)} patterns from {patterns.one_line(path.name, 80)} "
            f"(by {patterns.one_line(actor.label)})",
            write=to_write,
        )

    if dry_run:
        decide()
    else:
        report.commit, _ = patterns.apply_latest(store, decide, {"Factor": "XII"}, actor)
    for item in report.plan:
        bucket, text = _REPORTED[item.action]
        getattr(report, bucket).append(text.format(id=item.id, target=item.target or item.id))
    return report


# Where each planned action is listed in the report, and how.
_REPORTED: dict[Action, tuple[str, str]] = {
    "add": ("added", "{id}"),
    "update": ("updated", "{id}"),
    "revise": ("revisions", "{id} (revises {target})"),
    "replace": ("replaced", "{id}"),
    "unchanged": ("unchanged", "{target}"),
    "proposed": ("unchanged", "{target}"),
    "duplicate": ("duplicates", "{id} (same as {target})"),
}


def _plan(
    store: Store,
    incoming: list[Pattern],
    now: datetime,
    actor: Actor,
    keep_status: bool,
    replace_active: bool,
) -> tuple[list[PlanItem], list[Pattern]]:
    """What importing `incoming` does to the project as it is now (run under the ledger lock)."""
    items: list[PlanItem] = []
    to_write: list[Pattern] = []
    taken: list[tuple[frozenset[str], str, str]] = []  # (title words, kind, id) added by this import
    for p in incoming:
        # Whoever imports brings the content; the bundle's own history is the other project's.
        p = p.model_copy(update={"changed_by": actor})
        if not keep_status and p.status == "active":
            p = p.model_copy(update={"status": "candidate"})
        if (
            p.revises is not None
            and not (store.ledger.path / ledger_layout.pattern_file(store.ledger.path, p.revises)).is_file()
        ):
            p = p.model_copy(update={"revises": None})  # it revises something this project lacks
        if (store.ledger.path / ledger_layout.pattern_file(store.ledger.path, p.id)).is_file():
            item, write = _plan_existing(store, p, now, actor, replace_active)
        else:
            words = patterns.title_words(p.title)
            dup = patterns.find_duplicate(store, p.title, p.kind) or next(
                (i for w, k, i in taken if k == p.kind and patterns.similar(w, words)), None
            )
            if dup is not None:
                item, write = PlanItem(action="duplicate", id=p.id, title=p.title, target=dup), None
            else:
                taken.append((words, p.kind, p.id))
                item, write = PlanItem(action="add", id=p.id, title=p.title, status=p.status), p
        items.append(item)
        if write is not None:
            to_write.append(write)
    return items, to_write


def _plan_existing(
    store: Store, p: Pattern, now: datetime, actor: Actor, replace_active: bool
) -> tuple[PlanItem, Pattern | None]:
    """A bundle member whose id exists here: what becomes of it, and what (if anything) is written."""
    local = patterns.get(store, p.id)
    # The bundle brings content; the lifecycle (status, when it was made, how it was used) is this
    # project's. Same content is unchanged even if the two were made at other times (the starter
    # rules of two projects installed on different days).
    theirs = p.model_copy(update={k: getattr(local, k) for k in _LOCAL_FIELDS})
    if pattern_markdown.render(theirs) == pattern_markdown.render(local):
        return PlanItem(action="unchanged", id=p.id, title=p.title, status=local.status), None
    theirs = theirs.model_copy(update={"updated": now})
    changes = patterns.content_changes(local, theirs)
    action: Action
    if local.status != "active" or not changes:
        # A candidate (or a retired pattern) takes the bundle's content; an active one takes only
        # evidence and counters-free fields that change no behaviour.
        action, item_id, target, status = "update", p.id, None, local.status
        write = theirs.model_copy(update={"changed_by": actor if changes else local.changed_by})
        changes = changes or ["evidence or confidence"]
    elif replace_active:
        action, item_id, target, status = "replace", p.id, p.id, "active"
        write = theirs.model_copy(update={"changed_by": actor})
    else:
        waiting = next(
            (r for r in patterns.open_revisions(store, local.id) if patterns.same_content(r, theirs)), None
        )
        if waiting is not None:
            action, item_id, write = "proposed", waiting.id, None
        else:
            write = patterns.revision(local, theirs, now, actor)
            action, item_id = "revise", write.id
        target, status = local.id, "candidate"
    item = PlanItem(action=action, id=item_id, title=p.title, target=target, status=status, changes=changes)
    return item, write
