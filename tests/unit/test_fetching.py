"""The transport for adapter-made requests (bots.fetching): hops observed, recorded, replayed and traced."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

from bots.browser import launch_options
from bots.fetching import HarEntries, RequestApiFetch, TraceTab
from bots.replay import OrderedReplay


class _Portal(BaseHTTPRequestHandler):
    """A search that posts, redirects (303) to its results and sets a cookie on the way; every request logged."""

    log: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.log.append(f"GET {self.path} cookie={self.headers.get('cookie', '')}")
        body = f"<html><body><p id=r>results {self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        posted = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        self.log.append(f"POST {self.path} {posted}")
        self.send_response(303)
        self.send_header("Location", "/results?sid=7")
        self.send_header("Set-Cookie", "wizard=step2; Path=/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(**launch_options(playwright))
    yield launched
    launched.close()


def test_each_hop_is_observed_recorded_and_replayed_the_same(browser: Browser, portal: str) -> None:
    context = browser.new_context()
    har = HarEntries()
    seen = []
    fetch = RequestApiFetch(context, observers=[har, seen.append])
    _Portal.log.clear()
    answer = fetch("POST", f"{portal}/search", {"tab": "icn"}, {"csrf": "t 1", "icn": "A&B"})
    context.close()
    assert answer == (200, f"{portal}/results?sid=7", "<html><body><p id=r>results /results?sid=7</p></body></html>")
    # Sent once each, the body urlencoded, the redirect's cookie carried to its target.
    assert _Portal.log == ["POST /search?tab=icn csrf=t+1&icn=A%26B", "GET /results?sid=7 cookie=wizard=step2"]
    assert [(e.method, e.status) for e in seen] == [("POST", 303), ("GET", 200)]
    assert [e["request"]["url"] for e in har.entries] == [f"{portal}/search?tab=icn", f"{portal}/results?sid=7"]
    # The recording answers the same call with the same answer, hop by hop, and nothing else.
    replay = OrderedReplay(har.entries)
    assert replay.fetch("POST", f"{portal}/search", {"tab": "icn"}, {"csrf": "t 1", "icn": "A&B"}) == answer
    assert replay.misses == []
    assert replay.fetch("POST", f"{portal}/search", {"tab": "icn"}, {"csrf": "t 1", "icn": "other"})[0] == 502


def test_no_redirects_returns_the_redirect_itself(browser: Browser, portal: str) -> None:
    context = browser.new_context()
    status, url, _body = RequestApiFetch(context)("POST", f"{portal}/search", None, {"icn": "A1"}, redirects=False)
    context.close()
    assert (status, url) == (303, f"{portal}/search")


def test_the_trace_tab_shows_fetched_pages_without_asking_the_portal(browser: Browser, portal: str,
                                                                    tmp_path: Path) -> None:
    context = browser.new_context()
    context.tracing.start(snapshots=True)
    tab = TraceTab(context)
    fetch = RequestApiFetch(context, observers=[tab])
    _Portal.log.clear()
    fetch("POST", f"{portal}/search", None, {"icn": "MEMBER123"})
    assert len(_Portal.log) == 2  # the tab added no request of its own
    assert tab.shown == 1 and tab.page is not None and "results /results?sid=7" in tab.page.inner_text("#r")
    context.tracing.stop(path=tmp_path / "trace.zip")
    context.close()
    with zipfile.ZipFile(tmp_path / "trace.zip") as archive:
        content = b"".join(archive.read(name) for name in archive.namelist())
    assert b"results /results?sid=7" in content
