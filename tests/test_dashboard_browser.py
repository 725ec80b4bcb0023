"""End to end in a real browser: an assistant waits on an approval, a person approves it on the
dashboard in headless Chromium, the waiting tool call returns `approved`, the ledger has the record.
Screenshots of every page are saved under the test's tmp dir (for people; the asserts are on the DOM)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from .conftest import git
from .stdio_server import server_params

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dashboard(project: Path) -> Any:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "factorops", "dashboard", "--port", str(port), "--project", str(project)],
        stderr=subprocess.PIPE,
        text=True,
    )
    url = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not url:
        line = proc.stderr.readline() if proc.stderr else ""
        if "dashboard:" in line:
            url = line.split("dashboard:", 1)[1].strip()
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_approve_in_a_real_browser(project: Path, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    subprocess.run(
        [sys.executable, "-m", "factorops", "init", "--project", str(project)],
        check=True,
        capture_output=True,
    )
    async with Client(server_params(project)) as c:
        s = (
            await c.call_tool("session_start", {"goal": "Rotate the production database credentials"})
        ).structured_content
        await c.call_tool(
            "checkpoint_save",
            {
                "session_id": s["session_id"],
                "summary": "new credentials generated",  # type: ignore[index]
                "next_steps": ["swap them in"],
            },
        )
        await c.call_tool(
            "pattern_record",
            {"title": "Rotate credentials in a maintenance window", "solution": "Announce first."},
        )
        req = (
            await c.call_tool(
                "approval_request",
                {
                    "action": "swap production DB credentials",
                    "rationale": "rotation",
                    "risk": "critical",
                    "session_id": s["session_id"],
                },
            )
        ).structured_content
        assert req is not None and req["status"] == "pending"
        aid = req["id"]
        result: dict[str, Any] = {}

        async def wait() -> None:
            r = await c.call_tool("approval_status", {"id": aid, "wait_s": 90})
            result.update(r.structured_content or {})

        with dashboard(project) as url:
            assert url.startswith("http://127.0.0.1:")
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(
                        executable_path=str(CHROMIUM),
                        args=[
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                        ],
                    )
                    page = await browser.new_page(viewport={"width": 1100, "height": 800})
                    await page.goto(url)
                    assert await page.title() == "Approvals · factorops"
                    await page.screenshot(path=str(shots / "dashboard-approvals.png"), full_page=True)
                    card = page.locator(f"#{aid}")
                    await card.locator("input[name=comment]").fill("approved during the window")
                    await card.locator("button.approve").click()
                    await page.wait_for_load_state()
                    assert "approved" in (await page.content())
                    base = url.split("/?")[0]
                    for name in ("patterns", "sessions", "metrics"):
                        await page.goto(f"{base}/{name}")
                        await page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=True)
                    await page.goto(f"{base}/sessions/{s['session_id']}")  # type: ignore[index]
                    await page.screenshot(path=str(shots / "dashboard-session.png"), full_page=True)
                    await browser.close()
    assert result["status"] == "approved" and result["via"] == "dashboard"
    assert result["comment"] == "approved during the window"
    log = git(project / ".agentops" / "ledger", "log", "--format=%s%n%b", "-n", "3")
    assert "approval: approved by dashboard:" in log and f"Approval: {aid}" in log
    for name in ("approvals", "patterns", "sessions", "metrics", "session"):
        assert (shots / f"dashboard-{name}.png").stat().st_size > 5000
