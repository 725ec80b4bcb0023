"""The dashboard as a person uses it, in a real browser (headless Debian Chromium via Playwright)
against a real `factorops dashboard` process: rendered pattern pages, retiring a pattern, a phone
screen, the 404 page, signing in from an approval link, the metrics colours and period.

Assertions are on DOM facts; each test saves screenshots under its tmp dir for people to look at.
The records are made on the real clock, which the dashboard process uses."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor
from factorops.tools.oversight import approvals
from factorops.tools.patterns import records as patterns
from factorops.tools.registry import components
from factorops.tools.sessions import lifecycle as sessions

from .conftest import git
from .test_dashboard_browser import CHROMIUM, dashboard

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]
PHONE = {"width": 390, "height": 844}
PROBLEM = (
    "Deploys failed when the cache was cold.\n\n- warm the cache\n- then deploy\n\nRun `make warm` first."
)


@dataclass
class Site:
    base: str
    token: str
    project: Path
    active: str
    candidate: str
    approval: str
    session: str


@pytest.fixture
def site(project: Path) -> Iterator[Site]:
    subprocess.run(
        [sys.executable, "-m", "factorops", "init", "--no-starter", "--project", str(project)],
        check=True,
        capture_output=True,
    )
    now = datetime.now(UTC)
    store = Store.open(DataDir.for_project(project), components())
    try:
        person = Actor.cli("tester")
        active = patterns.record(
            store,
            patterns.PatternRecordInput(
                title="Warm the cache before deploying",
                problem=PROBLEM,
                solution="```\nmake warm && make deploy\n```",
                tags=["deploy"],
                scope=["deploy/**"],
            ),
            now,
        ).id
        patterns.set_status(store, active, "active", now, person)
        candidate = patterns.record(
            store,
            patterns.PatternRecordInput(title="Pin the toolchain", solution="Use rust-toolchain.toml"),
            now,
        ).id
        ids = []
        for goal, outcome in (
            ("ship the release", "partial"),
            ("fix the flaky test", "failed"),
            ("write the docs", None),
        ):
            sid = sessions.start(store, sessions.SessionStartInput(goal=goal), now).session_id
            ids.append(sid)
            if outcome:
                sessions.end(store, sessions.SessionEndInput(session_id=sid, outcome=outcome), now)
        aid = approvals.create(
            store,
            approvals.ApprovalRequestInput(
                action="swap production DB credentials " + "x" * 120,
                rationale="rotation",
                risk="critical",
                alternatives="wait a week",
                rollback="swap the old ones back",
            ),
            now,
        ).id
    finally:
        store.close()
    with dashboard(project) as url:
        base, token = url.split("/?token=")
        yield Site(base, token, project, active, candidate, aid, ids[0])


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

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
        try:
            yield browser
        finally:
            await browser.close()


async def _signed_in(browser: Any, site: Site, viewport: dict[str, int] | None = None) -> Any:
    page = await browser.new_page(viewport=viewport or {"width": 1100, "height": 800})
    await page.goto(f"{site.base}/?token={site.token}")
    return page


async def test_a_pattern_page_is_rendered_not_dumped(site: Site, tmp_path: Path) -> None:
    async with chromium() as browser:
        page = await _signed_in(browser, site)
        await page.goto(f"{site.base}/patterns/{site.active}")
        await page.screenshot(path=str(tmp_path / "pattern.png"), full_page=True)
        main = await page.inner_text("main")
        assert await page.inner_text("h1") == "Warm the cache before deploying"
        assert "---" not in main and '{"' not in main and '["' not in main, main
        assert "title:" not in main and "status:" not in main
        terms = await page.locator("dl.pattern dt").all_inner_texts()
        assert {"kind", "status", "confidence", "tags", "scope"} <= set(terms), terms
        assert await page.locator("dl.pattern dd code", has_text="deploy/**").count() == 1
        assert await page.locator(".prose li").all_inner_texts() == ["warm the cache", "then deploy"]
        assert await page.locator(".prose p code").inner_text() == "make warm"
        assert await page.locator(".prose pre code").inner_text() == "make warm && make deploy"
        assert await page.locator("pre", has_text="---").count() == 0


async def test_a_person_retires_an_active_pattern(site: Site, tmp_path: Path) -> None:
    async with chromium() as browser:
        page = await _signed_in(browser, site)
        await page.goto(f"{site.base}/patterns/{site.active}")
        await page.screenshot(path=str(tmp_path / "pattern-active.png"), full_page=True)
        await page.locator("button", has_text="Retire").click()
        await page.wait_for_load_state()
        await page.screenshot(path=str(tmp_path / "pattern-retired.png"), full_page=True)
        assert await page.inner_text(".flash") == "retired"
        assert await page.locator("dl.pattern .badge.retired").inner_text() == "retired"
        assert await page.locator("button", has_text="Retire").count() == 0
    log = git(site.project / ".agentops" / "ledger", "log", "-1", "--format=%s%n%b")
    assert f"pattern: retired {site.active}" in log and "via dashboard" in log, log


async def test_every_page_fits_a_phone_screen(site: Site, tmp_path: Path) -> None:
    paths = [
        "/approvals",
        f"/approvals/{site.approval}",
        "/patterns",
        f"/patterns/{site.active}",
        f"/patterns/{site.candidate}",
        "/sessions",
        f"/sessions/{site.session}",
        "/metrics",
        "/metrics?period=all",
        "/no/such/page",
    ]
    async with chromium() as browser:
        page = await _signed_in(browser, site, PHONE)
        for i, path in enumerate(paths):
            await page.goto(f"{site.base}{path}")
            await page.screenshot(path=str(tmp_path / f"phone-{i}.png"), full_page=True)
            width = await page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 390, (path, width)
        signed_out = await browser.new_page(viewport=PHONE)
        await signed_out.goto(f"{site.base}/approvals/{site.approval}")
        await signed_out.screenshot(path=str(tmp_path / "phone-sign-in.png"), full_page=True)
        assert await signed_out.evaluate("document.scrollingElement.scrollWidth") <= 390


async def test_the_404_page_has_the_site_around_it(site: Site, tmp_path: Path) -> None:
    async with chromium() as browser:
        page = await _signed_in(browser, site)
        for path in ("/no/such/page", "/patterns/pat-nope", "/sessions/ses-nope"):
            response = await page.goto(f"{site.base}{path}")
            await page.screenshot(path=str(tmp_path / f"404-{path.count('/')}.png"), full_page=True)
            assert response is not None and response.status == 404
            assert await page.title() == "Not found · factorops", path
            links = await page.locator("header nav a").all_inner_texts()
            assert links == ["Approvals", "Patterns", "Sessions", "Metrics"]
            assert await page.locator("main a[href='/approvals']").count() >= 1


async def test_an_approval_link_signs_in_with_a_pasted_token_and_lands_on_the_request(
    site: Site, tmp_path: Path
) -> None:
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        link = f"{site.base}/approvals/{site.approval}"
        await page.goto(link)
        await page.screenshot(path=str(tmp_path / "sign-in.png"), full_page=True)
        field = page.locator("form#sign-in input[name=token]")
        assert await field.get_attribute("type") == "password"
        await field.fill("not-the-token")
        await page.locator("form#sign-in button").click()
        await page.wait_for_load_state()
        assert "wrong token" in await page.inner_text("main")
        assert await page.locator("form#sign-in input[name=token]").count() == 1
        await page.locator("form#sign-in input[name=token]").fill(site.token)
        await page.locator("form#sign-in button").click()
        await page.wait_for_load_state()
        await page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
        assert page.url == link  # the requested page, and no token in the address
        card = page.locator(f"[id='{site.approval}']")
        assert await card.locator("button.approve").count() == 1
        assert "swap the old ones back" in await card.inner_text()
        cookies = await context.cookies()
        assert any(c["name"] == "factorops_dashboard" and c["httpOnly"] for c in cookies)
        # A sign-in posted from another site is refused.
        other = await context.request.post(
            f"{site.base}/sign-in",
            form={"token": site.token, "next": "/approvals"},
            headers={"Origin": "http://evil.example"},
            max_redirects=0,
        )
        assert other.status == 403


async def test_metrics_colours_and_period(site: Site, tmp_path: Path) -> None:
    async with chromium() as browser:
        page = await _signed_in(browser, site)
        await page.goto(f"{site.base}/metrics")
        await page.screenshot(path=str(tmp_path / "metrics-week.png"), full_page=True)
        fills = {}
        for outcome in ("open", "partial", "failed"):
            bar = page.locator(f"figure.outcomes rect[data-label='{outcome}']")
            fills[outcome] = await bar.get_attribute("fill")
        assert len(set(fills.values())) == 3, fills
        legend = await page.locator("figure.outcomes .legend li").all_inner_texts()
        assert any("open" in x and "1" in x for x in legend) and any("partial" in x for x in legend)
        assert "last 7 days" in await page.inner_text(".period")
        assert await page.locator("a[aria-current=page]").inner_text() == "week"
        await page.locator(".period a", has_text="day").click()
        await page.wait_for_load_state()
        await page.screenshot(path=str(tmp_path / "metrics-day.png"), full_page=True)
        assert "last 24 hours" in await page.inner_text(".period")
        assert await page.locator("a[aria-current=page]").inner_text() == "day"
