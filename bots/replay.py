"""Ordered replay of a recorded HAR: every request answered from the recording, in recorded order, or aborted.

`route_from_har` has no notion of order: two searches that post to one URL and are redirected to the same
results URL all get the first recorded results page. Here each request key (method, URL, body) holds the
answers recorded for it as a queue: the first request gets the first answer, the next one the next, and
the last answer repeats. Multipart bodies carry a random boundary (an upload) so they are keyed on method
and URL alone, still in order. Anything the recording lacks is aborted, as a dead portal would answer.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlencode, urljoin

from playwright.sync_api import Browser, BrowserContext, Request, Route

from bots.fetching import MAX_HOPS, header_value, redirect_target, with_query

#: entry field naming the recorded case an entry belongs to (written by bots.recording)
CASE_FIELD = "_payerbot_case"
#: response headers never replayed: Playwright computes the length itself, and the stored body is decoded
HOP_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive",
                         "set-cookie"})

Key = tuple[str, str, str | None]


def load_har(path: str | Path) -> list[dict]:
    """The entries of a HAR file, in recorded order."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["log"]["entries"]


def _loose_body(content_type: str) -> bool:
    """Bodies that differ on every send (a multipart upload's random boundary) match on method + URL."""
    return content_type.lower().startswith("multipart/")


def entry_key(entry: dict) -> Key:
    """The key a recorded request is found under: (method, URL, body), body None when it is volatile."""
    request = entry["request"]
    post = request.get("postData") or {}
    content_type = post.get("mimeType") or header_value(request.get("headers", []), "content-type")
    body = None if _loose_body(content_type) else post.get("text", "")
    return request["method"], request["url"].split("#")[0], body


def request_key(request: Request) -> Key:
    """The key a live request from the browser is looked up under (same rules as `entry_key`)."""
    content_type = request.headers.get("content-type", "")
    if _loose_body(content_type):
        return request.method, request.url.split("#")[0], None
    buffer = request.post_data_buffer
    return request.method, request.url.split("#")[0], buffer.decode("utf-8", "replace") if buffer else ""


class OrderedReplay:
    """Answers requests from recorded entries; `misses` lists the requests it had to abort.

    `fallback` entries answer only bodiless GETs the main entries lack: a resource the recording
    browser had cached by the time this case ran (a stylesheet fetched during an earlier case).
    """

    def __init__(self, entries: list[dict], *, fallback: list[dict] | None = None):
        self.queues = self._queues(entries)
        self.fallback = self._queues(fallback or [])
        self.served: dict[tuple[int, Key], int] = {}
        self.misses: list[str] = []

    @staticmethod
    def _queues(entries: list[dict]) -> dict[Key, list[dict]]:
        queues: dict[Key, list[dict]] = {}
        for entry in entries:
            queues.setdefault(entry_key(entry), []).append(entry)
        return queues

    def answer(self, key: Key) -> dict | None:
        """The next recorded entry for this key (the last one repeats), or None when there is none."""
        for source, queues in enumerate((self.queues, self.fallback)):
            if source == 1 and (key[0] != "GET" or key[2]):
                break
            queue = queues.get(key)
            if queue:
                position = self.served.get((source, key), 0)
                self.served[(source, key)] = position + 1
                return queue[min(position, len(queue) - 1)]
        return None

    def handle(self, route: Route, request: Request) -> None:
        """The `context.route` handler: fulfil from the recording or abort."""
        entry = self.answer(request_key(request))
        if entry is None:
            self.misses.append(f"{request.method} {request.url.split('?')[0]}")
            route.abort("failed")
            return
        response = entry["response"]
        location = header_value(response.get("headers", []), "location")
        if 300 <= response["status"] < 400 and location:
            target = urljoin(request.url, location)
            if request.is_navigation_request():
                # A fulfilled 3xx is followed outside the router (to the network): redirect the navigation
                # instead, as Playwright's own HAR router does, so the target is served from the recording.
                route._sync(route._impl_obj._redirect_navigation_request(target))
                return
            # A script's request: answer with what the redirect target answered (followed here).
            entry = self.answer(("GET", target, ""))
            if entry is None:
                self.misses.append(f"GET {target.split('?')[0]}")
                route.abort("failed")
                return
            response = entry["response"]
        content = response.get("content") or {}
        text = content.get("text") or ""
        body = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode("utf-8")
        headers = {h["name"]: h["value"] for h in response.get("headers", [])
                   if h["name"].lower() not in HOP_HEADERS and not h["name"].startswith(":")}
        route.fulfill(status=response["status"], headers=headers, body=body)

    def attach(self, context: BrowserContext) -> None:
        """Serve every request of `context` (pages, frames, downloads) from this replay."""
        context.route("**/*", self.handle)


    def fetch(self, method: str, url: str, params: dict[str, str] | None = None,
              form: dict[str, str] | None = None, *, timeout_ms: float = 0, redirects: bool = True,
              binary: bool = False) -> tuple[int, str, str | bytes]:
        """A request the adapter makes itself (`PortalSession.fetch`), answered from the recording in order.

        The key is what `bots.fetching.RequestApiFetch` sent when recording: the query and the form
        urlencoded in their order; redirects are followed hop by hop as it follows them. A request the
        recording lacks is a 502 the adapter reports as an unavailable portal (and a miss).
        """
        target = with_query(url, params)
        key: Key = (method, target.split("#")[0], urlencode(form) if form is not None else "")
        for _hop in range(MAX_HOPS):
            entry = self.answer(key)
            if entry is None:
                self.misses.append(f"{key[0]} {key[1].split('?')[0]}")
                return 502, key[1], b"" if binary else ""
            response = entry["response"]
            content = response.get("content") or {}
            text = content.get("text") or ""
            raw = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode("utf-8")
            headers = response.get("headers", [])
            location = redirect_target(response["status"], header_value(headers, "location"), key[1])
            if location is None or not redirects:
                return response["status"], key[1], raw if binary else raw.decode("utf-8", "replace")
            method = "GET" if response["status"] not in (307, 308) else method
            key = (method, location.split("#")[0], key[2] if method != "GET" else "")
        return 502, key[1], b"" if binary else ""


def case_entries(entries: list[dict], case_id: str) -> list[dict]:
    """The entries recorded while one case ran."""
    return [entry for entry in entries if entry.get(CASE_FIELD) == case_id]


def replay_context(browser: Browser, entries: list[dict], *, base_url: str, fallback: list[dict] | None = None,
                   timeout_ms: float = 1_500) -> tuple[BrowserContext, OrderedReplay]:
    """A browser context served only by an OrderedReplay, with short waits (a replay answers instantly).

    A selector that no longer matches then fails within `timeout_ms`, not after a portal-sized wait.
    """
    # A service worker would answer requests itself, past the router: blocked, as when recording.
    context = browser.new_context(base_url=base_url, accept_downloads=True, service_workers="block")
    context.set_default_timeout(timeout_ms)
    context.set_default_navigation_timeout(timeout_ms * 2)
    replay = OrderedReplay(entries, fallback=fallback)
    replay.attach(context)
    return context, replay
