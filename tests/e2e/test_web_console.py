"""The administrator console and the site's offline portal in Chromium, on a real App Server
with a Site Server behind a controllable link.

An administrator logs in, creates a user, tops them up, sets an Offline Policy and sees the
site's replica take it; the Sites page shows the site going offline when its link is cut and
online again after reconciliation; meanwhile that user, who logged in through the site
before, logs in at the site itself, which answers from its replica (and the password it
cached at that login), marked offline mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from support.browser import admin_tab, log_in, log_in_online, screenshot, tab
from support.site import SITE, World, site_online, site_world

SLOW_MS = 45_000  # going offline, and reconciling, take a few seconds each


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("web-console")) as found:
        yield found


@pytest.fixture(scope="module")
def admin_page(world: World, browser: Browser) -> Iterator[Page]:
    with admin_tab(browser, world.app, "chief") as page:
        yield page


def site_section(page: Page) -> object:
    return page.locator(f'section[data-site="{SITE}"]')


def test_admin_creates_a_user_tops_up_and_sets_a_replicated_offline_policy(
    world: World, admin_page: Page, screens: Path
) -> None:
    page = admin_page
    screenshot(page, "admin-dashboard", screens)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Full name").fill("Carol Console")
    page.get_by_label("Password").fill("carol-pass-99")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User created.")
    expect(page.get_by_role("heading", name="User carol")).to_be_visible()

    page.get_by_label("Amount").fill("7.50")
    page.get_by_label("Comment").fill("welcome credit")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("Balance changed.")
    expect(page.locator("#balance")).to_have_text("$7.50")
    expect(page.locator("#history")).to_contain_text("welcome credit")
    assert world.balance("carol") == 750
    screenshot(page, "admin-user", screens)

    page.get_by_role("link", name="Offline Policies").click()
    page.get_by_role("radio", name=re.compile("allow overdraw by")).check()
    page.get_by_label("Offline overdraft amount", exact=True).fill("2.00")
    page.get_by_role("radio", name=re.compile("Cancel the print job")).check()
    page.get_by_label(re.compile("change this applied account")).check()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Offline Policies saved")
    expect(page.get_by_role("radio", name=re.compile("allow overdraw by"))).to_be_checked()
    row = page.locator(f'#replication tr[data-site="{SITE}"] .replicated')
    expect(row).to_have_text("replicated", timeout=SLOW_MS)  # polled: no reload needed
    policies = world.admin.get("/offline-policies").json()
    assert policies["credit"] == "allow-overdraw"
    assert policies["overdraw"] == 200
    assert policies["unauthenticated"] == "cancel"
    assert policies["allow_account_change"] is True
    screenshot(page, "admin-offline-policies", screens)


def test_sites_page_follows_an_outage_while_the_site_serves_the_portal(
    world: World, admin_page: Page, browser: Browser, screens: Path
) -> None:
    page = admin_page
    page.goto(f"{world.app.url}/web/admin/sites")
    mode = page.locator(f'section[data-site="{SITE}"] .mode')
    expect(mode).to_have_text("online", timeout=SLOW_MS)

    with tab(browser, phone=True) as phone:  # the user at the site, online: HQ answers
        log_in_online(phone, world.site.url, "carol", "carol-pass-99", site_online(world.site))
        expect(phone.locator("#balance")).to_have_text("$7.50")
        expect(phone.locator("#offline-mode")).to_have_count(0)
    world.link.down()
    try:
        expect(mode).to_have_text("offline", timeout=SLOW_MS)  # the page refreshes itself
        screenshot(page, "admin-sites-offline", screens)
        with tab(browser, phone=True) as phone:  # the user, at the site, during the outage:
            # the site checks the password against its own cache of that earlier login
            log_in(phone, world.site.url, "carol", "carol-pass-99")
            expect(phone.locator("#offline-mode")).to_contain_text("Offline mode")
            expect(phone.locator("#balance")).to_have_text("$7.50")
            screenshot(phone, "portal-offline-phone", screens)
            phone.goto(f"{world.site.url}/web/admin/")
            expect(phone.get_by_role("heading", name="Forbidden")).to_be_visible()
    finally:
        world.link.up()

    expect(mode).to_have_text("online", timeout=SLOW_MS)
    section = page.locator(f'section[data-site="{SITE}"]')
    expect(section.locator(".outages tbody tr").first).to_contain_text("ended", timeout=SLOW_MS)
    expect(section.locator(".last-report")).to_be_visible()
    screenshot(page, "admin-sites", screens)

    page.get_by_role("button", name=f"Force {SITE} offline").click()
    expect(page.get_by_role("status")).to_contain_text("Site mode request saved")
    expect(mode).to_have_text("offline", timeout=SLOW_MS)
    page.get_by_role("button", name=f"Let {SITE} come back online").click()
    expect(mode).to_have_text("online", timeout=SLOW_MS)
