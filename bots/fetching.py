"""How the requests an adapter makes itself (fetched pages, JSON) travel, and who may watch them.

`bots.kit.html` and `bots.kit.api` ask the portal directly through the signed-in context's request API.
Those requests go past the browser: a Playwright trace shows no page of them and a recorded HAR has no
entry for them. So they all travel through one transport, `RequestApiFetch`, which sends each hop of a
redirect itself and hands every exchange to its observers: `payer try --trace` shows each answer in a
trace tab (`TraceTab`), `payer record` stores each one as a HAR entry (`HarEntries`). A recorded-case
replay is another transport with the same call (`bots.replay.OrderedReplay.fetch`).

A form is sent urlencoded by `urlencode`, and a query appended by `with_query`, so a replay computes the
very body and URL that were recorded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Protocol
from urllib.parse import urlencode, urljoin

import httpx
from playwright.sync_api import BrowserContext, Page, Route
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bots.errors import PortalUnavailable
from bots.urls import safe_url

FORM_TYPE = "application/x-www-form-urlencoded"
#: redirects one fetch follows before the portal is taken to be looping
MAX_HOPS = 10


class PageFetch(Protocol):
    """A transport for adapter-made requests: (method, url, query, form) -> (status, final url, body).

    The body is text (decoded by its charset), or the answer's bytes with `binary` (a downloaded file).
    """

    def __call__(self, method: str, url: str, params: dict[str, str] | None = None,
                 form: dict[str, str] | None = None, *, timeout_ms: float = 15_000,
                 redirects: bool = True, binary: bool = False) -> tuple[int, str, str | bytes]:
        """Send one request (redirects followed unless `redirects` is False) and return the last answer."""


def header_value(headers: Iterable[dict], name: str) -> str:
    """A header's value from a HAR- or Playwright-style list of {name, value} (case ignored), or ''."""
    return next((h["value"] for h in headers if h["name"].lower() == name), "")


def with_query(url: str, params: dict[str, str] | None) -> str:
    """The URL with `params` urlencoded onto it, as a browser's form GET would send them."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def redirect_target(status: int, location: str, url: str) -> str | None:
    """Where a 3xx answer points (absolute), or None when the answer is no redirect."""
    return urljoin(url, location) if 300 <= status < 400 and location else None


@dataclass(frozen=True)
class Exchange:
    """One hop an adapter sent and what the portal answered (a redirect and its target are two exchanges)."""

    started: datetime
    elapsed_ms: float
    method: str
    url: str
    body: str | None
    status: int
    status_text: str
    headers: list[dict[str, str]]
    content: bytes

    @property
    def content_type(self) -> str:
        """The answer's media type (no parameters), lower case."""
        return header_value(self.headers, "content-type").split(";")[0].strip().lower()

    @property
    def location(self) -> str:
        """The answer's Location header, or ''."""
        return header_value(self.headers, "location")

    def text(self) -> str:
        """The body decoded by its declared charset (UTF-8 when none is declared)."""
        message = Message()
        message["content-type"] = header_value(self.headers, "content-type")
        charset = message.get_content_charset() or "utf-8"
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")


Observer = Callable[[Exchange], None]


class HopByHop:
    """A transport that sends each hop of a redirect itself and shows every exchange to its observers."""

    observers: list[Observer]

    def __call__(self, method: str, url: str, params: dict[str, str] | None = None,
                 form: dict[str, str] | None = None, *, timeout_ms: float = 15_000,
                 redirects: bool = True, binary: bool = False) -> tuple[int, str, str | bytes]:
        """Send the request; follow redirects (303 and 302 as GET, as browsers do); return the last answer."""
        url, body = with_query(url, params), urlencode(form) if form is not None else None
        for _hop in range(MAX_HOPS):
            exchange = self._send(method, url, body, timeout_ms)
            for observer in self.observers:
                observer(exchange)
            target = redirect_target(exchange.status, exchange.location, url)
            if target is None or not redirects:
                return exchange.status, url, exchange.content if binary else exchange.text()
            if exchange.status not in (307, 308):
                method, body = "GET", None
            url = target
        raise PortalUnavailable(f"the portal redirected more than {MAX_HOPS} times", url=safe_url(url))

    def _send(self, method: str, url: str, body: str | None, timeout_ms: float) -> Exchange:
        raise NotImplementedError


@dataclass
class RequestApiFetch(HopByHop):
    """The live transport: the context's request API (its cookies, kept up to date by every answer)."""

    context: BrowserContext
    observers: list[Observer] = field(default_factory=list)

    def _send(self, method: str, url: str, body: str | None, timeout_ms: float) -> Exchange:
        started = datetime.now(UTC)
        headers = {"content-type": FORM_TYPE} if body is not None else None
        try:
            response = self.context.request.fetch(url, method=method, data=body, headers=headers,
                                                  timeout=timeout_ms, max_redirects=0)
        except PlaywrightTimeout as exc:
            raise PortalUnavailable(f"timed out waiting for {safe_url(url)}") from exc
        except PlaywrightError as exc:
            raise PortalUnavailable(f"could not reach {safe_url(url)}") from exc
        try:
            try:
                content = response.body()
            except PlaywrightError:
                content = b""
            return Exchange(started=started, elapsed_ms=(datetime.now(UTC) - started).total_seconds() * 1000,
                            method=method, url=url, body=body, status=response.status,
                            status_text=response.status_text, headers=response.headers_array, content=content)
        finally:
            response.dispose()


class SessionCopyFetch(HopByHop):
    """A transport outside the browser holding a copy of the session's cookies: one more page of that session.

    The sync Playwright API drives one request at a time per thread, so the extra pages of a session
    (`pages_per_session`) each send over an HTTP client of their own, in a thread of their own, with the
    cookies and user agent the context had when they were copied. Cookies the portal sets later stay in
    this copy (the browser's context is never written from another thread).
    """

    def __init__(self, cookies: list[dict], user_agent: str, observers: list[Observer] | None = None) -> None:
        self.observers = observers or []
        self.client = httpx.Client(headers={"user-agent": user_agent}, follow_redirects=False)
        for cookie in cookies:
            self.client.cookies.set(cookie["name"], cookie["value"], domain=cookie["domain"],
                                    path=cookie.get("path") or "/")

    def _send(self, method: str, url: str, body: str | None, timeout_ms: float) -> Exchange:
        started = datetime.now(UTC)
        headers = {"content-type": FORM_TYPE} if body is not None else None
        try:
            response = self.client.request(method, url, content=body, headers=headers, timeout=timeout_ms / 1000)
        except httpx.TimeoutException as exc:
            raise PortalUnavailable(f"timed out waiting for {safe_url(url)}") from exc
        except httpx.HTTPError as exc:
            raise PortalUnavailable(f"could not reach {safe_url(url)}") from exc
        return Exchange(started=started, elapsed_ms=(datetime.now(UTC) - started).total_seconds() * 1000,
                        method=method, url=url, body=body, status=response.status_code,
                        status_text=response.reason_phrase,
                        headers=[{"name": k, "value": v} for k, v in response.headers.multi_items()],
                        content=response.content)

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self.client.close()


class HarEntries:
    """An observer that keeps every exchange as a HAR 1.2 entry, for `payer record` to add to its HAR."""

    def __init__(self) -> None:
        self.entries: list[dict] = []

    def __call__(self, exchange: Exchange) -> None:
        """Store one exchange (binary bodies base64, as Playwright stores them)."""
        request: dict = {"method": exchange.method, "url": exchange.url, "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": [], "queryString": [], "headersSize": -1,
                         "bodySize": len(exchange.body.encode()) if exchange.body is not None else 0}
        if exchange.body is not None:
            request["headers"] = [{"name": "Content-Type", "value": FORM_TYPE}]
            request["postData"] = {"mimeType": FORM_TYPE, "text": exchange.body, "params": []}
        content: dict = {"size": len(exchange.content), "mimeType": exchange.content_type}
        if _is_text(exchange.content_type):
            content["text"] = exchange.text()
        else:
            content.update(text=base64.b64encode(exchange.content).decode("ascii"), encoding="base64")
        self.entries.append({
            "startedDateTime": exchange.started.isoformat().replace("+00:00", "Z"), "time": exchange.elapsed_ms,
            "request": request,
            "response": {"status": exchange.status, "statusText": exchange.status_text, "httpVersion": "HTTP/1.1",
                         "cookies": [], "headers": list(exchange.headers), "content": content,
                         "redirectURL": exchange.location, "headersSize": -1, "bodySize": len(exchange.content)},
            "cache": {}, "timings": {"send": 0, "wait": exchange.elapsed_ms, "receive": 0},
            "_payerbot_fetched": True,
        })


def _is_text(content_type: str) -> bool:
    return bool(re.match(r"text/|application/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded)$",
                         content_type)) or not content_type


class TraceTab:
    """An observer for `payer try --trace`: each answer the adapter fetched is shown in a tab of its own.

    The request API leaves no page in a Playwright trace, so the trace would hold nothing of a fetched
    check. This tab opens each answer at its own URL, served from the fetched bytes (the tab's router
    aborts every other request, so it never asks the portal for anything), and the trace's snapshots
    then show what the adapter read. Redirect hops are not shown; their targets are.
    """

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page: Page | None = None
        self.current: Exchange | None = None
        self.shown = 0

    def __call__(self, exchange: Exchange) -> None:
        """Show one answer (not a redirect) in the trace tab."""
        if redirect_target(exchange.status, exchange.location, exchange.url):
            return
        if self.page is None:
            self.page = self.context.new_page()
            self.page.route("**/*", self._serve)
        self.current = exchange
        try:
            self.page.goto(exchange.url.split("#")[0], wait_until="domcontentloaded", timeout=5_000)
            self.shown += 1
        except PlaywrightError:
            pass  # a page that cannot be shown (a download) only costs the trace a snapshot

    def _serve(self, route: Route) -> None:
        exchange = self.current
        if exchange is None or not route.request.is_navigation_request():
            route.abort("blockedbyclient")
            return
        headers = {h["name"]: h["value"] for h in exchange.headers
                   if h["name"].lower() in ("content-type", "content-language")}
        route.fulfill(status=exchange.status if exchange.status >= 200 else 200, headers=headers,
                      body=exchange.content)
