"""Issue 13 item 4: containment covers the whole path, through the MCP client on a real git repo.

Every file that enters the index or a load is resolved whole (every parent directory too) and must
stay inside the project and pass the secret-file policy under its real name as well as the name it
was reached by. Real symlinks, a real git repository, the real server in-process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mcp import Client

from .conftest import commit_files, git

OUTSIDE = "OUTSIDE-MARKER-7f3a quarterly payroll numbers"
DOTENV = "DOTENV-MARKER-91c2 API_TOKEN=hunter2hunter2"
TASK = "payroll quarterly numbers marker api token notes"


def _text(r: object) -> str:
    content = r.content  # type: ignore[attr-defined]
    return "\n".join(getattr(c, "text", "") for c in content) + str(
        r.structured_content  # type: ignore[attr-defined]
    )


def _clean(reply: str) -> None:
    for needle in ("OUTSIDE-MARKER", "DOTENV-MARKER", "hunter2"):
        assert needle not in reply, reply


async def test_a_tracked_directory_replaced_by_a_symlink_to_outside_is_not_loaded(
    client: Client, project: Path
) -> None:
    commit_files(
        project, {"reports/payroll.md": "# payroll\nquarterly payroll numbers, nothing secret\n"}, "r"
    )
    outside = project.parent / "elsewhere"
    (outside / "reports").mkdir(parents=True)
    (outside / "payroll.md").write_text(f"# payroll\n{OUTSIDE}\n")
    shutil.rmtree(project / "reports")
    (project / "reports").symlink_to(outside, target_is_directory=True)
    r = await client.call_tool("context_load", {"task": TASK})
    assert not r.is_error, _text(r)
    _clean(_text(r))
    # Asked for by name, it is refused (the path leads outside).
    r = await client.call_tool("context_load", {"task": "t", "paths": ["reports/payroll.md"]})
    assert r.is_error and "paths:" in _text(r) and "outside the project" in _text(r), _text(r)
    _clean(_text(r))


async def test_a_link_to_a_secret_file_is_judged_by_its_real_name(client: Client, project: Path) -> None:
    (project / ".env").write_text(f"{DOTENV}\n")
    (project / "notes_link.txt").symlink_to(".env")
    git(project, "add", "notes_link.txt")  # tracked, as in the report (.env itself is not)
    git(project, "commit", "-q", "-m", "notes")
    r = await client.call_tool("context_load", {"task": TASK})
    assert not r.is_error, _text(r)
    reply = _text(r)
    _clean(reply)
    loaded = [item["path"] for item in (r.structured_content or {}).get("items", [])]
    assert "notes_link.txt" not in loaded
    r = await client.call_tool("context_load", {"task": "t", "paths": ["notes_link.txt"]})
    _clean(_text(r))
    r = await client.call_tool("count_tokens", {"paths": ["notes_link.txt"]})
    assert r.is_error and "secret" in _text(r), _text(r)


async def test_an_untracked_link_to_a_file_outside_the_root_is_skipped(client: Client, project: Path) -> None:
    (project.parent / "payroll.txt").write_text(f"{OUTSIDE}\n")
    (project / "payroll_link.txt").symlink_to(project.parent / "payroll.txt")
    r = await client.call_tool("context_load", {"task": TASK})
    assert not r.is_error, _text(r)
    _clean(_text(r))
    r = await client.call_tool("context_load", {"task": "t", "paths": ["payroll_link.txt"]})
    assert r.is_error and "outside the project" in _text(r), _text(r)
    _clean(_text(r))


async def test_a_very_long_path_is_an_argument_error(client: Client) -> None:
    for path in ("a" * 1000, "/".join(["abcdefghi"] * 100)):
        r = await client.call_tool("context_load", {"task": "t", "paths": [path]})
        assert r.is_error
        text = _text(r)
        assert text.startswith("Error executing tool context_load: paths:"), text
        assert "storage" not in text.lower(), text
