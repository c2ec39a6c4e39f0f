"""Fixtures of the browser tests: one chromium for the whole package.

Every browser test uses ``browser`` (or ``browser.browser_type.launch(...)`` for a browser of its
own): a second ``sync_playwright()`` cannot start while this one runs ("using Playwright Sync API
inside the asyncio loop")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, as root in CI.
CHROMIUM_ARGS = ["--no-sandbox"]
#: Pages ask for less motion (``prefers-reduced-motion: reduce``, which the front end honours), so
#: a picture taken right after a node's status changed shows its new colour, not the middle of
#: the colour's transition (run-view-live.png showed the last node still orange after success).
PAGE_OPTIONS: dict[str, Any] = {"reduced_motion": "reduce"}


class _Browser:
    """The shared browser, whose new pages and contexts take :data:`PAGE_OPTIONS` unless a test
    says otherwise."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_page(self, **options: Any) -> Any:
        return self._browser.new_page(**{**PAGE_OPTIONS, **options})

    def new_context(self, **options: Any) -> Any:
        return self._browser.new_context(**{**PAGE_OPTIONS, **options})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, shared by the package's tests. Each test opens
    pages of its own (``browser.new_page()``: a fresh browser context each, so no cookie or
    storage carries over) and closes them; one launch per module cost ~2.5 s each (driver and
    browser start) on the loaded 2-core CI machine."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield _Browser(b)
        finally:
            b.close()
