"""Find and launch Chromium quietly: Playwright's build if installed, else the system's; env overrides."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Playwright

CHROMIUM_ENV = "PAYERBOT_CHROMIUM"
HEADED_ENV = "PAYERBOT_HEADED"

# Chromium calls home by default; these flags brought DNS look-ups to zero (see TOOLCHAIN.md).
QUIET_ARGS = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--no-default-browser-check", "--disable-default-apps", "--disable-domain-reliability",
    "--metrics-recording-only", "--disable-breakpad", "--disable-dev-shm-usage", "--disable-quic",
    "--host-resolver-rules=MAP accounts.google.com ~NOTFOUND, MAP update.googleapis.com ~NOTFOUND, "
    "MAP content-autofill.googleapis.com ~NOTFOUND",
]
# Memory per session (docs/performance.md): headless Chromium 156 still builds the address bar's popups, two
# WebUI pages (chrome://omnibox-popup.top-chrome/) of about 50 and 20 MiB in renderers of their own, for every
# context; and it keeps a spare renderer warm for the next navigation. A bot has no address bar, and a swapped
# tab or a sign-in can wait the few milliseconds a renderer takes to start: one renderer per session is left.
LEAN_ARGS = ["--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,SpareRendererForSitePerProcess"]
# Debian's /usr/bin/chromium is a wrapper script that adds flags and prints noise: use the real binary.
SYSTEM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")


class ChromiumNotFound(RuntimeError):
    """No Chromium to drive: install one (`apt-get install chromium`) or set PAYERBOT_CHROMIUM."""


def resolve_chromium(playwright: Playwright | None = None) -> str | None:
    """The Chromium binary to launch, or None to let Playwright use its own downloaded build."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        if not Path(override).exists():
            raise ChromiumNotFound(f"{CHROMIUM_ENV}={override} does not exist")
        return override
    if playwright is not None:
        try:
            if Path(playwright.chromium.executable_path).exists():
                return None
        except Exception:  # noqa: BLE001 - Playwright raises if its browser registry is missing
            pass
    for candidate in SYSTEM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise ChromiumNotFound("no Chromium found: run `apt-get install chromium` or set PAYERBOT_CHROMIUM")


def launch_options(playwright: Playwright | None = None, *, headless: bool | None = None) -> dict:
    """Keyword arguments for `chromium.launch` (also used by the pytest-playwright fixtures)."""
    if headless is None:
        headless = os.environ.get(HEADED_ENV, "") not in ("1", "true", "yes")
    options: dict = {"headless": headless, "args": [*QUIET_ARGS, *LEAN_ARGS]}
    executable = resolve_chromium(playwright)
    if executable:
        options["executable_path"] = executable
    return options
