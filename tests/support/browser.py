"""Debian's Chromium driven by Playwright, shared by a test module; screenshots on request.

Screenshots go to a temporary folder on every run, and to ``docs/screens/`` when
``PRINTWARDEN_SCREENS=1`` (regenerating the documentation's pictures on purpose).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from printwarden.testing.appserver import AppServer
from printwarden.testing.web import add_person

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
TIMEOUT_MS = 15_000
DOCS_SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
ADMIN_PASSWORD = "admin-pass-8k2"


@contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "apt-get install chromium (make system-deps does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def tab(browser: Browser, *, phone: bool = False) -> Iterator[Page]:
    """A fresh context (own cookies) whose page fails the test on script or CSP errors."""
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=size)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "htmx" in message.text.lower():
            errors.append(message.text)

    page.on("console", console)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


def screenshot(page: Page, name: str, folder: Path) -> Path:
    """Save the whole page as ``name``.png (also under docs/screens/ when asked to)."""
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("PRINTWARDEN_SCREENS") == "1":
        DOCS_SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENS / f"{name}.png"), full_page=True)
    return target


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/web/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_in_online(
    page: Page, site_url: str, username: str, password: str, online: Callable[[], bool]
) -> None:
    """Log in at a Site Server while it is online: HQ checks the password and the site keeps
    it (its offline password cache). A loaded machine can take a site offline for a moment
    (a forward slower than the gateway's 1.5 s); the site then checks the password itself
    and knows none yet. Wait until it is online again and try again (within a minute)."""
    deadline = time.monotonic() + 60
    while True:
        while not online():
            assert time.monotonic() < deadline, "the site did not come back online"
            time.sleep(0.2)
        log_in(page, site_url, username, password)
        page.wait_for_load_state()
        if "/web/login" not in page.url:
            return
        assert time.monotonic() < deadline, f"{username} could not log in at {site_url}"
        time.sleep(0.5)


@contextmanager
def admin_tab(browser: Browser, app: AppServer, prefix: str) -> Iterator[Page]:
    """A tab logged in as a new administrator of ``app``, at the dashboard."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    add_person(app, name, ADMIN_PASSWORD, admin=True)
    with tab(browser) as page:
        log_in(page, app.url, name, ADMIN_PASSWORD)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        yield page
