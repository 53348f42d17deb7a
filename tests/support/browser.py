"""Debian's Chromium for the studio's browser tests, launched through Playwright (no browser is
downloaded). Part of the suite: a missing Chromium fails the test that needs it."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright):
    """``playwright.chromium`` launched from ``CHROMIUM``; the test fails if it is missing."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (README: Run the tests)")
    return playwright.chromium.launch(executable_path=CHROMIUM)
