"""Asking the page about many selectors in one driver round trip (which are visible, what they read).

Each Playwright call is a round trip to the driver (~2-10 ms on a busy machine); a wait that checks five
interruption pages and three outcomes one `is_visible` at a time spends most of a check's client time
there. These helpers ask once per root. Plain CSS runs in the page; a selector only Playwright's engine
understands (`:has-text()`, `>>`, `text=`) comes back as UNSUPPORTED, and the caller asks Playwright for
that one, so no check is weaker for it. A trailing `:visible` (the SPA's hidden error lines) is read as
"any visible match", as Playwright does.
"""

from __future__ import annotations

from typing import Final

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import FrameLocator, Locator, Page

#: a selector the page's own CSS engine cannot read: ask Playwright for it
UNSUPPORTED: Final = object()

# First match in document order (light DOM first, then open shadow roots, which Playwright's CSS pierces);
# visibility as Playwright's isElementVisible (display: contents, checkVisibility, visibility, a non-empty box).
_JS = """(scopes, [sels, mode]) => {
  const deepAll = (scope, sel) => {
    const found = [...scope.querySelectorAll(sel)];
    for (const host of scope.querySelectorAll('*')) if (host.shadowRoot) found.push(...deepAll(host.shadowRoot, sel));
    return found;
  };
  const textVisible = (node) => { const r = document.createRange(); r.selectNode(node);
    const box = r.getBoundingClientRect(); return box.width > 0 && box.height > 0; };
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.display === 'contents') {
      for (let c = el.firstChild; c; c = c.nextSibling) {
        if ((c.nodeType === 1 && visible(c)) || (c.nodeType === 3 && textVisible(c))) return true;
      }
      return false;
    }
    if (!el.checkVisibility() || style.visibility !== 'visible') return false;
    const box = el.getBoundingClientRect(); return box.width > 0 && box.height > 0;
  };
  return sels.map((sel) => {
    const onlyVisible = sel.endsWith(':visible') && !sel.includes(',');
    const css = onlyVisible ? sel.slice(0, -':visible'.length) : sel;
    let matches;
    try { matches = scopes.flatMap((scope) => deepAll(scope, css)); } catch (e) { return [false, null]; }
    if (onlyVisible) matches = matches.filter(visible);
    const el = matches[0];
    if (mode === 'visible') return [true, el ? visible(el) : false];
    return [true, el ? (el.innerText ?? el.textContent) : null];
  });
}"""


def _scopes(root: Page | FrameLocator | Locator) -> Locator:
    return root if isinstance(root, Locator) else root.locator(":root")


def _ask(root: Page | FrameLocator | Locator, selectors: list[str], mode: str) -> list | None:
    if not selectors:
        return []
    try:
        answers = _scopes(root).evaluate_all(_JS, [selectors, mode])
    except PlaywrightError:  # the page navigated mid-question, or a frame went away: the caller asks one by one
        return None
    return [value if supported else UNSUPPORTED for supported, value in answers]


def visible(root: Page | FrameLocator | Locator, selectors: list[str]) -> list[bool | object] | None:
    """For each selector: is its first match visible (or UNSUPPORTED); None when the page could not answer."""
    return _ask(root, selectors, "visible")


def texts(root: Page | FrameLocator | Locator, selectors: list[str]) -> list[str | None | object] | None:
    """For each selector: its first match's inner text, None when absent (or UNSUPPORTED); None on failure."""
    return _ask(root, selectors, "text")
