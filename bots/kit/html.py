"""Server-rendered portal pages read as HTML through the browser context's request API (nothing rendered).

A classic portal's claim search is plain data: a form, a results table, a detail page. Rendering each of
those pages costs the browser most of a check's CPU (about a second on two cores), while the answer is in
the HTML the portal sends. `Html` asks for the same pages with the signed-in context's cookies (through
`PortalSession.fetch`, see bots.fetching) and reads them with lxml: the same selectors, the same
interruption pages, the same typed errors as the page steps (`bots.kit.waits`). A form is posted with its
own hidden fields (CSRF tokens) as the browser would; a GET is tried again on a 5xx, a POST never here
(the runner decides what may be repeated).

What parsed HTML cannot know is what CSS hides: an element counts as shown unless it or an ancestor has
the `hidden` attribute or an inline `display: none`. Playwright's `:has-text('...')` is understood (case
and white space ignored, as Playwright does); other Playwright-only selectors are an adapter error.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NoReturn
from urllib.parse import urljoin

import lxml.html
from cssselect import SelectorError
from lxml.etree import ParserError

from bots.downloads import StoredDownload, fetch_pdf_at, letter_dir
from bots.errors import MaintenanceWindow, PortalChanged, PortalError, PortalUnavailable
from bots.kit.paging import MAX_PAGES
from bots.kit.reading import by_columns
from bots.kit.waits import INTERRUPTION_ERRORS, Outcomes
from bots.parsing import clean_text, optional_text
from bots.urls import safe_url

if TYPE_CHECKING:
    from bots.adapter import PortalSession
    from bots.kit.pages import Interruptions

_HAS_TEXT = re.compile(r"^(?P<css>.*?):has-text\((?P<q>['\"])(?P<text>.*?)(?P=q)\)$")
_BLOCK = frozenset("address article aside blockquote dd div dl dt fieldset figure footer form h1 h2 h3 h4 h5 h6 "
                   "header hr li main nav ol p pre section table tbody thead tfoot tr td th ul".split())
_SKIPPED = frozenset(("script", "style", "template", "noscript", "head"))


def _split_list(selector: str) -> list[str]:
    """A CSS selector list split on its top-level commas (not those inside quotes or parentheses)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(selector):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(selector[start:i].strip())
            start = i + 1
    return [*parts, selector[start:].strip()]


def _hidden(element) -> bool:
    for node in (element, *element.iterancestors()):
        style = (node.get("style") or "").replace(" ", "").lower()
        if node.get("hidden") is not None or "display:none" in style:
            return True
    return False


def inner_text(element) -> str:
    """The element's text roughly as a browser's innerText reads it: block elements and <br> break lines."""
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _SKIPPED or not tag or node.get("hidden") is not None:
            return
        block = tag in _BLOCK
        parts.append("\n" if block else "")
        parts.append(node.text or "")
        for child in node:
            walk(child)
            parts.append(child.tail or "")
        parts.append("\n" if block or tag == "br" else "")

    walk(element)
    return re.sub(r"[ \t\xa0]*\n\s*", "\n", "".join(parts)).strip()


@dataclass
class HtmlPage:
    """One document the portal sent: where it came from, its HTTP status and its parsed tree."""

    url: str
    status: int
    html: str

    def __post_init__(self) -> None:
        try:
            self.tree = lxml.html.document_fromstring(self.html or "<html></html>")
        except (ParserError, ValueError):
            self.tree = lxml.html.document_fromstring("<html></html>")

    def select(self, selector: str) -> list:
        """Shown elements matching a CSS selector list (Playwright's `:has-text('...')` understood), in order."""
        found: list = []
        for part in _split_list(selector):
            match = _HAS_TEXT.match(part)
            css, wanted = (match["css"] or "*", clean_text(match["text"]).casefold()) if match else (part, None)
            try:
                elements = self.tree.cssselect(css)
            except SelectorError as error:
                raise ValueError(f"not a selector parsed HTML can answer: {part!r}") from error
            found += [e for e in elements if e not in found and not _hidden(e)
                      and (wanted is None or wanted in clean_text(inner_text(e)).casefold())]
        return found

    def has(self, selector: str) -> bool:
        """Whether the page shows anything matching the selector."""
        return bool(selector) and bool(self.select(selector))

    def text(self, selector: str) -> str | None:
        """The first matching element's text, or None when nothing matches."""
        found = self.select(selector)
        return inner_text(found[0]) if found else None

    def texts(self, fields: dict[str, str | tuple[str, str]]) -> dict[str, str | None]:
        """field -> cleaned text of its selector, as `Reading.texts` reads a rendered page ((selector, regex) too)."""
        found = {}
        for name, where in fields.items():
            selector, pattern = where if isinstance(where, tuple) else (where, None)
            text = self.text(selector)
            text = optional_text(text) if text is not None else None
            if pattern and text is not None:
                match = re.search(pattern, text)
                text = optional_text(match.group(1)) if match else None
            found[name] = text
        return found

    def table(self, selector: str) -> list[dict[str, str]] | None:
        """A header-labelled table's rows (header -> cell text, '_href': the row's first link), None if absent."""
        tables = self.select(selector)
        if not tables:
            return None
        heads = [clean_text(inner_text(th)) for th in tables[0].cssselect("thead th")]
        rows = []
        for tr in tables[0].cssselect("tbody tr"):
            cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
            row = {(heads[i] if i < len(heads) and heads[i] else f"col{i}"): clean_text(inner_text(td))
                   for i, td in enumerate(cells)}
            link = tr.cssselect("a[href]")
            row["_href"] = urljoin(self.url, link[0].get("href")) if link else ""
            rows.append(row)
        return rows

    def labelled(self, selector: str) -> dict[str, str] | None:
        """A (label, value) detail table as a dict (cells paired along each row, as `Reading.labelled`)."""
        tables = self.select(selector)
        if not tables:
            return None
        pairs = {}
        for tr in tables[0].cssselect("tr"):
            cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
            for label, value in zip(cells[::2], cells[1::2], strict=False):
                pairs[clean_text(inner_text(label))] = clean_text(inner_text(value))
        return pairs

    def link(self, selector: str) -> str | None:
        """The absolute address of the first matching link, or None."""
        found = [e for e in self.select(selector) if e.get("href")]
        return urljoin(self.url, found[0].get("href")) if found else None

    def form(self, selector: str) -> tuple[str, dict[str, str]] | None:
        """A form's absolute action and the values it would send as it stands (hidden tokens included)."""
        found = [e for e in self.select(selector) if e.tag == "form"]
        if not found:
            return None
        form = found[0]
        return urljoin(self.url, form.get("action") or self.url), dict(form.form_values())


class Html:
    """The parsed-HTML half of an adapter for a server-rendered portal: `fetch_page`, `submit_form`, `answer`."""

    session: PortalSession
    interruptions: ClassVar[Interruptions]
    #: how long one page may take to arrive
    html_timeout_ms: ClassVar[float] = 15_000
    #: attempts for one GET (safe to repeat), spaced ~0.3 s, 0.6 s (+ jitter), as `Waits.goto`
    FETCH_ATTEMPTS = 3
    #: the last page fetched and the tab's URL then (cleared when the tab loads a document): see `fetched_evidence`
    _last_fetched: tuple[HtmlPage, str] | None = None

    def fetch_page(self, path: str, params: dict[str, str] | None = None) -> HtmlPage:
        """GET a portal page (a path on the portal, or an absolute link read from a page) with the session's cookies."""
        url = self.session.url(path) if not path.startswith(("http://", "https://")) else path
        for attempt in range(1, self.FETCH_ATTEMPTS + 1):
            try:
                return self._request("GET", url, params=params)
            except MaintenanceWindow:
                raise
            except PortalUnavailable:
                if attempt == self.FETCH_ATTEMPTS:
                    raise
                time.sleep(0.3 * 2 ** (attempt - 1) + random.uniform(0, 0.2))
        raise AssertionError("unreachable")  # the last attempt returned or raised

    def submit_form(self, page: HtmlPage, form: str, values: dict[str, str | None]) -> HtmlPage:
        """Post a form of `page` as a browser would: its own fields (CSRF tokens) with `values` typed in."""
        found = page.form(form)
        if found is None:
            self.fail_on(page, PortalChanged, f"expected form missing: {form}")
        action, fields = found
        return self._request("POST", action, form={**fields, **{k: v or "" for k, v in values.items()}})

    def answer(self, page: HtmlPage, outcomes: Outcomes, *, errors: dict[str, type[PortalError]] | None = None,
               signed_out_ok: bool = False) -> str:
        """Which expected answer the page shows, as `Waits.expect` decides on a rendered page (no waiting).

        Interruption pages first (maintenance, captcha, signed out, error page), then refusal banners
        (`errors`: selector -> typed error, their text the message), then the answers; none is PortalChanged.
        """
        self.raise_interruption(page, signed_out_ok=signed_out_ok)
        for css, error in (errors or {}).items():
            if page.has(css):
                self.fail_on(page, error, f"the portal refused: {clean_text(page.text(css))[:120]}")
        wanted = {"ok": outcomes} if isinstance(outcomes, str) else outcomes
        for key, css in wanted.items():
            if page.has(css):
                return key
        self.fail_on(page, PortalChanged, f"none of the expected outcomes appeared: {sorted(wanted)}")

    def page_walk(self, first: HtmlPage, next_link: str, answer: Outcomes) -> Iterator[HtmlPage]:
        """Each page of a fetched list: `first`, then each `next_link` fetched (its `answer` shown) until it is gone."""
        page = first
        for _number in range(MAX_PAGES):
            yield page
            if (href := page.link(next_link)) is None:
                return
            page = self.fetch_page(href)
            self.answer(page, answer)
        self.fail_on(page, PortalChanged, f"a list went on for more than {MAX_PAGES} pages")

    def raise_interruption(self, page: HtmlPage, *, signed_out_ok: bool = False) -> None:
        """The typed error of an interruption page (maintenance, captcha, signed out, error page), if it is one."""
        for key, css in self.interruptions.selectors(signed_out_ok=signed_out_ok).items():
            if page.has(css):
                if key == "_error_page":
                    self.fail_on(page, PortalChanged, f"portal error page: {clean_text(page.text(css))[:80]}")
                error, message = INTERRUPTION_ERRORS[key]
                self.fail_on(page, error, message)

    def fetch_letter(self, href: str, file_name: str) -> StoredDownload:
        """Download a letter by fetching its link (no browser download), stored once as `download_letter` stores.

        An answer that is no PDF but the portal's sign-in or maintenance page raises its typed error.
        """
        url = self.session.url(href) if not href.startswith(("http://", "https://")) else href

        def get() -> tuple[int, bytes]:
            status, _url, body = self.session.fetch("GET", url, timeout_ms=self.html_timeout_ms, binary=True)
            return status, body if isinstance(body, bytes) else body.encode()

        def refused(body: bytes) -> None:
            self.raise_interruption(HtmlPage(url=url, status=200, html=body.decode("utf-8", "replace")))

        return fetch_pdf_at(get, target_dir=letter_dir(self.session), max_bytes=self.session.max_download_bytes,
                            url=safe_url(url), file_name=file_name, refused=refused)

    def page_rows(self, page: HtmlPage, table: str, columns: dict[str, str]) -> list[dict[str, str | None]]:
        """A table's rows as field dicts (`columns`: header -> field, plus '_href'); a lost column is PortalChanged."""
        found = page.table(table)
        if found is None:
            self.fail_on(page, PortalChanged, f"expected table missing: {table}")
        rows, missing = by_columns(found, columns)
        if missing:
            self.fail_on(page, PortalChanged, f"a table lost its columns {missing}")
        return rows

    def page_search(self, page: HtmlPage, pattern: str, text: str | None, *, what: str) -> str:
        """The pattern's whole match in a fetched page's text; missing is PortalChanged (with that page's HTML)."""
        found = re.search(pattern, text or "")
        if found is None:
            self.fail_on(page, PortalChanged, f"the page no longer shows the {what}")
        return found.group(0)

    def fetched_evidence(self) -> HtmlPage | None:
        """The fetched page being read, if the tab has not moved since it came: evidence for `fail` to keep.

        A reading step (`claim_finding`, `build`) fails through `fail`, which would otherwise screenshot
        the tab, a page that has nothing to do with what was read.
        """
        last = self._last_fetched
        if last is None or last[1] != self.tab_url:
            return None
        return last[0]

    def fail_on(self, page: HtmlPage, error: type[PortalError] | Callable[..., PortalError],
                message: str) -> NoReturn:
        """A typed error for a fetched page; a changed page keeps its scrubbed HTML as the operator's evidence."""
        html_path = None
        if isinstance(error, type) and issubclass(error, PortalChanged):
            from bots.scrub import scrub_html

            html_path = str(self.session.evidence.put_bytes(scrub_html(page.html).encode(), ".html")[1])
        raise error(message, url=safe_url(page.url), page_html_path=html_path)

    def _request(self, method: str, url: str, *, params: dict[str, str] | None = None,
                 form: dict[str, str] | None = None) -> HtmlPage:
        status, final_url, body = self.session.fetch(method, url, params, form, timeout_ms=self.html_timeout_ms)
        page = HtmlPage(url=final_url, status=status, html=body)
        self._last_fetched = (page, self.tab_url)
        return self._checked(page)

    def _checked(self, page: HtmlPage) -> HtmlPage:
        if page.status >= 500:
            if self.interruptions.maintenance and page.has(self.interruptions.maintenance):
                self.fail_on(page, MaintenanceWindow, "the portal is down for scheduled maintenance")
            raise PortalUnavailable(f"portal answered HTTP {page.status}", url=safe_url(page.url))
        return page
