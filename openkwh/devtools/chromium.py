"""The system's Chromium under playwright, headless, for the dApp's tests and bench.

playwright's own browser download cannot run here; the Debian package's
binary at /usr/bin/chromium is launched instead (`make test` installs it).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def launch(playwright):
    """A headless Chromium browser from a started playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
