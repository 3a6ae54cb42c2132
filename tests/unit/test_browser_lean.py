"""The bots' Chromium builds no browser UI a bot never sees: one renderer per session (bots.browser.LEAN_ARGS)."""

from __future__ import annotations

from playwright.sync_api import Browser


def _targets(browser: Browser) -> list[dict]:
    cdp = browser.new_browser_cdp_session()
    try:
        return cdp.send("Target.getTargets")["targetInfos"]
    finally:
        cdp.detach()


def test_a_session_holds_its_page_and_no_address_bar_popups(browser: Browser):
    """Chromium 156 builds the address bar's popups (two WebUI pages, ~70 MiB of renderers) for every context
    unless told not to; with the bots' launch options a context holds only the pages the bot opened."""
    contexts = [browser.new_context() for _ in range(2)]
    try:
        for context in contexts:
            context.new_page().goto("about:blank")
        shown = _targets(browser)
        assert sum(t["type"] == "page" for t in shown) >= 2
        assert [t["url"] for t in shown if t["type"] == "browser_ui" or "top-chrome" in t["url"]] == []
    finally:
        for context in contexts:
            context.close()
