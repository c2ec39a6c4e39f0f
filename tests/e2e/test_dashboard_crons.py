"""The dashboard's Crons page in Debian's chromium, driven by Playwright, against a real
`duragraph-lab serve`: a seconds schedule shows its assistant by name, its next fire time and its
last runs as they fire, and is disabled and enabled again from the page, with no console error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.e2e.test_dashboard_page import CHROMIUM, Page, api, browser, wait_until

__all__ = ["browser"]  # the module's browser fixture, shared

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")


@pytest.fixture
def ui(browser: Any, api_server: ApiServer) -> Iterator[Page]:
    page = Page(browser, api_server)
    yield page
    page.close()


def test_crons_page_shows_next_fire_and_last_runs_and_toggles(ui: Page) -> None:
    from playwright.sync_api import expect

    thread = api(ui.server, "POST", "/threads", {})
    cron = api(
        ui.server,
        "POST",
        f"/threads/{thread['thread_id']}/runs/crons",
        {"assistant_id": "slow", "schedule": "* * * * * */2", "input": {"n": 0}},
    )
    try:
        page = ui.open("#/crons")
        row = page.locator(f"tr[data-cron-id='{cron['cron_id']}']")
        expect(row).to_be_visible(timeout=15000)
        expect(row).to_have_attribute("data-enabled", "true")
        expect(row.locator("[data-next-run]")).not_to_have_attribute("data-next-run", "")
        # The assistant by its name (the graph's default assistant), its id on hover.
        assistant = row.locator("[data-assistant]")
        expect(assistant).to_have_text("slow")
        expect(assistant).to_have_attribute("title", cron["assistant_id"])
        # Its runs appear as the ticks fire, and complete.
        expect(row.locator("[data-open-run]").first).to_be_visible(timeout=15000)
        expect(row.locator("[data-status=success]").first).to_be_visible(timeout=15000)
        ui.shot("crons")
        row.locator("[data-action=disable]").click()
        wait_until(
            lambda: api(ui.server, "GET", f"/runs/crons/{cron['cron_id']}")["enabled"] is False,
            what="the cron disabled",
        )
        expect(row).to_have_attribute("data-enabled", "false", timeout=10000)
        expect(row.locator("[data-next-run]")).to_have_text("disabled")
        row.locator("[data-action=enable]").click()
        wait_until(
            lambda: api(ui.server, "GET", f"/runs/crons/{cron['cron_id']}")["enabled"] is True,
            what="the cron enabled",
        )
        expect(row).to_have_attribute("data-enabled", "true", timeout=10000)
        # From a last run to the Run view.
        run_id = row.locator("[data-open-run]").first.get_attribute("data-open-run")
        row.locator("[data-open-run]").first.click()
        expect(page.locator("[data-dg-page='run']")).to_be_visible()
        assert run_id in page.evaluate("location.hash")
    finally:
        api(ui.server, "DELETE", f"/runs/crons/{cron['cron_id']}")
