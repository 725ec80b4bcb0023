"""The ledger's writer of the split git index's own part (`store/git_index.py`, issue #19).

Checked against git itself on real repositories: what git wrote reads back byte for byte, what the
writer writes is the index `git update-index` would have made (`git ls-files --stage` compared),
and a ledger whose commits went through the writer looks clean to a person's git.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from factorops.store import git_index
from factorops.store.ledger import Ledger, LedgerError

from .conftest import Clock, git, ledger_of, ok, served

ENTRIES = 600  # enough for multi-word EWAH bitmaps (64 positions a word)


def _repo(path: Path, version: int) -> Path:
    """A repository with a split index of ENTRIES files (all in the shared part), none checked
    out; then git itself deletes a run and a scatter of entries and replaces a few, so the own
    part holds every kind of entry and both bitmaps have runs and single bits."""
    path.mkdir()
    git(path, "init", "-q")
    for key, value in (("core.splitIndex", "true"), ("index.version", str(version))):
        git(path, "config", key, value)
    blob = git(path, "hash-object", "-w", "--stdin", input="x\n").strip()
    git(
        path,
        "update-index",
        "-z",
        "--index-info",
        input="".join(f"100644 {blob}\td{i % 7}/f{i:04d}.md\0" for i in range(ENTRIES)),
    )
    git(path, "update-index", "--split-index")
    names = git(path, "ls-files").splitlines()
    git(path, "rm", "-q", "--cached", "--", *names[70:260], *names[300:600:37])
    other = git(path, "hash-object", "-w", "--stdin", input="y\n").strip()
    git(
        path,
        "update-index",
        "-z",
        "--index-info",
        input="".join(
            f"100644 {other}\t{n}\0" for n in (names[0], names[64], names[65], names[299], "new/a.md")
        ),
    )
    return path


def _link(index: git_index.IndexFile) -> tuple[bytes, set[int], set[int]]:
    """The shared part's sha, the deleted and the replaced positions of a split index's own part."""
    link = dict(index.extensions)[git_index.LINK]
    deleted, pos = git_index.read_ewah(link, git_index.HASH_SIZE)
    return link[: git_index.HASH_SIZE], deleted, git_index.read_ewah(link, pos)[0]


def _stage(path: Path) -> str:
    return git(path, "ls-files", "--stage")


@pytest.mark.parametrize("version", [2, 4])
def test_an_own_part_git_wrote_reads_back_byte_for_byte(tmp_path: Path, version: int) -> None:
    repo = _repo(tmp_path / "r", version)
    data = (repo / ".git" / "index").read_bytes()
    index = git_index.parse(data)
    assert index.version == version
    assert git_index.serialize(index) == data
    link = dict(index.extensions)[git_index.LINK]
    deleted, pos = git_index.read_ewah(link, git_index.HASH_SIZE)
    replaced, end = git_index.read_ewah(link, pos)
    assert end == len(link)
    assert len(deleted) == 190 + len(range(300, 600, 37)) and set(range(70, 260)) <= deleted
    assert replaced == {0, 64, 65, 299}
    # Our encoding of the same bits (git's own uses runs of ones) reads the same to git.
    index.extensions = [
        (git_index.LINK, link[: git_index.HASH_SIZE] + git_index.ewah(deleted) + git_index.ewah(replaced))
    ]
    before = _stage(repo)
    (repo / ".git" / "index").write_bytes(git_index.serialize(index))
    assert _stage(repo) == before


def test_ewah_round_trip() -> None:
    rng = random.Random(4)
    for size in (0, 1, 63, 64, 65, 200, 5000):
        for density in (0.0, 0.01, 0.5, 1.0):
            bits = {b for b in range(size) if rng.random() < density}
            encoded = git_index.ewah(bits)
            found, end = git_index.read_ewah(encoded, 0)
            assert (found, end) == (bits, len(encoded))


@pytest.mark.parametrize("version", [2, 4])
def test_the_writer_makes_the_index_git_update_index_makes(tmp_path: Path, version: int) -> None:
    ours = _repo(tmp_path / "ours", version)
    theirs = tmp_path / "theirs"
    shutil.copytree(ours, theirs)
    names = git(ours, "ls-files").splitlines()
    # A shared entry, one replaced already, one git deleted, a new name, one added already.
    everyone = [f"d{i % 7}/f{i:04d}.md" for i in range(ENTRIES)]
    gone = sorted(everyone)[100]
    assert gone not in names
    paths = [names[1], names[64], gone, "zz/new.md", "new/a.md", names[-1]]
    blobs: dict[str, str] = {}
    for i, rel in enumerate(paths):
        for repo in (ours, theirs):
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(f"version {i}\n")
        blobs[rel] = git(ours, "hash-object", "-w", rel).strip()
        git(theirs, "hash-object", "-w", rel)
    assert git_index.SplitIndexWriter(ours / ".git").add(ours, blobs)
    git(
        theirs,
        "update-index",
        "-z",
        "--index-info",
        input="".join(f"100644 {b}\t{r}\0" for r, b in blobs.items()),
    )
    assert _stage(ours) == _stage(theirs)
    # The same own part as git's, but for stat data: names (empty for replacing entries), the shared
    # part it names and both bitmaps.
    mine, gits = (git_index.parse((r / ".git" / "index").read_bytes()) for r in (ours, theirs))
    assert [e.name for e in mine.entries] == [e.name for e in gits.entries]
    assert [_link(mine)] == [_link(gits)]
    assert git_index.parse((ours / ".git" / "index").read_bytes()).version == version
    # The entries carry the files' stat data: git trusts them without hashing (git's --index-info
    # leaves it empty, so the same files are stat-dirty there).
    dirty = set(git(ours, "diff-files", "--name-only").splitlines())
    assert not dirty & set(paths)
    assert set(paths) <= set(git(theirs, "diff-files", "--name-only").splitlines())
    assert not (ours / ".git" / "index.lock").exists()


def test_what_the_writer_does_not_handle_is_left_to_git_untouched(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", 4)
    (repo / "f.md").write_text("f\n")
    blobs = {"f.md": git(repo, "hash-object", "-w", "f.md").strip()}
    index = repo / ".git" / "index"
    writer = git_index.SplitIndexWriter(repo / ".git")

    lock = repo / ".git" / "index.lock"
    lock.write_text("a person's git is at work")
    before = index.read_bytes()
    assert writer.add(repo, blobs) is False
    assert lock.read_text() == "a person's git is at work" and index.read_bytes() == before
    lock.unlink()

    index.write_bytes(before[:-1] + bytes([before[-1] ^ 1]))  # a checksum that does not match
    open_files = len(os.listdir("/proc/self/fd"))
    assert writer.add(repo, blobs) is False
    assert len(os.listdir("/proc/self/fd")) == open_files  # the lock file's descriptor is closed
    index.write_bytes(before)

    blob = blobs["f.md"]
    git(repo, "update-index", "--index-info", input=f"100644 {blob} 1\tf.md\n100644 {blob} 2\tf.md\n")
    before = index.read_bytes()
    assert writer.add(repo, blobs) is False  # a merge conflict on the path: git resolves it
    assert index.read_bytes() == before and not lock.exists()
    git(repo, "update-index", "--force-remove", "f.md")

    git(repo, "update-index", "--no-split-index")
    before = index.read_bytes()
    assert writer.add(repo, blobs) is False
    assert index.read_bytes() == before and not lock.exists()


async def test_ledger_commits_skip_git_update_index_and_look_clean(
    project: Path, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every git process the server runs is traced (GIT_TRACE2_EVENT): after the first commit of
    the ledger, writes run no `git update-index`; and a person's git sees nothing to commit."""
    trace = tmp_path / "trace.json"
    async with served(project, clock) as (c, _):
        first = await ok(c, "pattern_record", {"title": "Pattern 0", "solution": "s"})
        monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
        for i in range(1, 6):
            await ok(c, "pattern_record", {"title": f"Pattern {i}", "solution": "s"})
        await ok(c, "pattern_record", {"id": first["id"], "title": "Pattern 0", "solution": "changed"})
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    commands = [
        event["argv"][1]
        for event in map(json.loads, trace.read_text().splitlines())
        if event.get("event") == "start" and len(event.get("argv", [])) > 1
    ]
    assert "update-ref" in commands and "update-index" not in commands
    ledger = ledger_of(project)
    assert git(ledger, "status", "--porcelain") == ""
    assert git(ledger, "diff-files", "--name-only") == ""  # stat data right: no file hashed again
    git(ledger, "diff-index", "--cached", "--quiet", "HEAD")
    tracked = git(ledger, "ls-files", "--stage").splitlines()
    committed = git(ledger, "ls-tree", "-r", "HEAD").splitlines()
    assert [line.replace(" 0\t", "\t").split(" ", 1)[1] for line in tracked] == [
        line.split(" ", 1)[1].replace("blob ", "") for line in committed
    ]


def test_a_taken_index_lock_fails_the_commit_by_name(tmp_path: Path) -> None:
    led = Ledger.init(tmp_path / "ledger", tmp_path / "ledger.lock")
    (led.path / ".git" / "index.lock").write_text("")
    head = led.head()
    with led.locked(), pytest.raises(LedgerError, match=r"index\.lock"):
        led.commit({"a.md": b"a\n"}, "a", {"Factor": "I"})
    assert led.head() == head and not (led.path / "a.md").exists()
    led.close()


def test_the_shared_part_is_read_once_per_name(tmp_path: Path) -> None:
    """A shared part never changes (a new one gets a new name), so it is parsed once; a fold to a
    new shared part is picked up."""
    repo = _repo(tmp_path / "r", 4)
    writer = git_index.SplitIndexWriter(repo / ".git")
    for i in range(3):
        (repo / f"n{i}.md").write_text(f"{i}\n")
        assert writer.add(repo, {f"n{i}.md": git(repo, "hash-object", "-w", f"n{i}.md").strip()})
    assert len(writer._shared) == 1
    git(repo, "update-index", "--split-index")  # git writes a new shared part
    (repo / "m.md").write_text("m\n")
    assert writer.add(repo, {"m.md": git(repo, "hash-object", "-w", "m.md").strip()})
    assert len(writer._shared) == 2
    assert "m.md" in git(repo, "ls-files").splitlines()
    digest = hashlib.sha1((repo / ".git" / "index").read_bytes()[:-20]).digest()
    assert digest == (repo / ".git" / "index").read_bytes()[-20:]


@pytest.mark.parametrize("version", [2, 4])
def test_long_names_and_extended_entries_read_back_byte_for_byte(tmp_path: Path, version: int) -> None:
    """Names over 127 bytes (multi-byte varints in version 4) and an intent-to-add entry (extended
    flags: git moves a version 2 index to version 3) are read and written as git wrote them."""
    repo = _repo(tmp_path / "r", version)
    # Sorted, each name's prefix to strip is the whole previous name: 454, then 154 bytes.
    long = ("a" * 200 + "/" + "a" * 250, "b" * 140, "a" * 150 + "z")
    for stem in long:
        (repo / f"{stem}.md").parent.mkdir(parents=True, exist_ok=True)
        (repo / f"{stem}.md").write_text(stem)
        git(repo, "add", f"{stem}.md")
    (repo / "later.md").write_text("later\n")
    git(repo, "add", "-N", "later.md")
    data = (repo / ".git" / "index").read_bytes()
    index = git_index.parse(data)
    assert index.version == (3 if version == 2 else 4)
    assert {len(e.name) for e in index.entries} >= {454, 143, 154}
    assert any(int.from_bytes(e.meta[60:62], "big") & 0x4000 for e in index.entries)
    assert git_index.serialize(index) == data
    (repo / "c.md").write_text("c\n")
    assert git_index.SplitIndexWriter(repo / ".git").add(
        repo, {"c.md": git(repo, "hash-object", "-w", "c.md").strip()}
    )
    assert {"c.md", "later.md", *(f"{stem}.md" for stem in long)} <= set(git(repo, "ls-files").splitlines())


def _checked(body: bytes) -> bytes:
    return body + hashlib.sha1(body).digest()


HEADER = git_index.SIGNATURE + (2).to_bytes(4, "big") + (0).to_bytes(4, "big")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a git index"),
        (_checked(b"PACK" + HEADER[4:]), "not a git index"),
        (HEADER + bytes(20), "index checksum mismatch"),
        (_checked(git_index.SIGNATURE + (5).to_bytes(4, "big") + (0).to_bytes(4, "big")), "index version 5"),
        (
            _checked(git_index.SIGNATURE + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + bytes(30)),
            "truncated",
        ),
        (_checked(HEADER + git_index.LINK + (100).to_bytes(4, "big") + bytes(30)), "truncated extension"),
    ],
)
def test_what_is_not_an_index_is_named(data: bytes, problem: str) -> None:
    with pytest.raises(git_index.IndexFormatError, match=f"^{problem}"):
        git_index.parse(data)


@pytest.mark.parametrize("cut", [1, 9, 17])
def test_a_truncated_bitmap_is_named_and_leaves_the_index_to_git(tmp_path: Path, cut: int) -> None:
    """A link extension whose bitmaps stop short (behind a checksum that matches): the bitmap reader
    names it, and the writer leaves the index as it is."""
    good = git_index.ewah({3, 70, 500})
    for short in (good[:-cut], good[: cut // 2]):  # words or the header itself cut short
        with pytest.raises(git_index.IndexFormatError, match="truncated EWAH bitmap"):
            git_index.read_ewah(short, 0)
    repo = _repo(tmp_path / "r", 4)
    index_path = repo / ".git" / "index"
    index = git_index.parse(index_path.read_bytes())
    link = dict(index.extensions)[git_index.LINK]
    index.extensions = [(git_index.LINK, link[:-cut])]
    index_path.write_bytes(git_index.serialize(index))
    before = index_path.read_bytes()
    (repo / "f.md").write_text("f\n")
    blobs = {"f.md": git(repo, "hash-object", "-w", "f.md").strip()}
    assert git_index.SplitIndexWriter(repo / ".git").add(repo, blobs) is False
    assert index_path.read_bytes() == before


def _entry(flags: int) -> bytes:
    return bytes(40) + bytes(20) + flags.to_bytes(2, "big")


@pytest.mark.parametrize(
    ("version", "body", "problem"),
    [
        (2, _entry(0x4000 | 3) + b"\0\0" + b"a.md" + bytes(6), "extended entry in a version 2 index"),
        (4, _entry(4) + b"\x05" + b"a.md\0", "malformed name"),  # strips 5 bytes of no previous name
        (2, _entry(40) + b"short", "truncated"),
        (4, _entry(3) + b"\0abc", "malformed index"),  # a name without its NUL
    ],
)
def test_a_malformed_entry_is_named(version: int, body: bytes, problem: str) -> None:
    header = git_index.SIGNATURE + version.to_bytes(4, "big") + (1).to_bytes(4, "big")
    with pytest.raises(git_index.IndexFormatError, match=f"^{problem}"):
        git_index.parse(_checked(header + body))


@pytest.mark.parametrize("version", [2, 4])
def test_a_name_past_the_length_field_reads_back(tmp_path: Path, version: int) -> None:
    """A name of 4,095 bytes or more does not fit the entry's 12-bit length (git writes 0xFFF and
    the reader looks for the NUL); it reads back byte for byte, between ordinary names."""
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "index.version", str(version))
    blob = git(repo, "hash-object", "-w", "--stdin", input="x\n").strip()
    names = ["a.md", "m/" + "x" * 5000 + ".md", "z.md"]
    git(repo, "update-index", "-z", "--index-info", input="".join(f"100644 {blob}\t{n}\0" for n in names))
    data = (repo / ".git" / "index").read_bytes()
    index = git_index.parse(data)
    assert [e.name.decode() for e in index.entries] == names
    assert git_index.serialize(index) == data


def test_a_link_without_bitmaps_and_a_conflict_in_the_shared_part(tmp_path: Path) -> None:
    """A link extension of the shared part's sha alone (which git 2.39 itself cannot read) and a
    merge conflict in the shared part are left to git, the index untouched."""
    repo = _repo(tmp_path / "r", 4)
    index_path = repo / ".git" / "index"
    (repo / "c.md").write_text("n\n")
    blob = git(repo, "hash-object", "-w", "c.md").strip()
    git(repo, "update-index", "--index-info", input=f"100644 {blob} 1\tc.md\n100644 {blob} 3\tc.md\n")
    git(repo, "update-index", "--split-index")  # the conflict goes into the shared part
    index = git_index.parse(index_path.read_bytes())
    assert index.entries == [] and (repo / ".git" / f"sharedindex.{_link(index)[0].hex()}").exists()
    before = index_path.read_bytes()
    assert git_index.SplitIndexWriter(repo / ".git").add(repo, {"c.md": blob}) is False
    assert index_path.read_bytes() == before

    index.extensions = [(git_index.LINK, _link(index)[0])]
    index_path.write_bytes(git_index.serialize(index))
    before = index_path.read_bytes()
    (repo / "n.md").write_text("n\n")
    assert git_index.SplitIndexWriter(repo / ".git").add(repo, {"n.md": blob}) is False
    assert index_path.read_bytes() == before
