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
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
