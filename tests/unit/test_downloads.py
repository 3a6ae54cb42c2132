"""The one download helper (bots/downloads.py) against a small HTTP server on 127.0.0.1, in real Chromium."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page

from bots.downloads import DownloadTooLarge, StoredDownload, fetch_pdf, fetch_pdf_at, store_once
from bots.errors import PortalChanged, PortalUnavailable, SessionExpired
from sandbox.server import free_port

PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"


class LetterServer:
    """Serves /page (one download link) and /file?mode=... that answers well, badly or cut short."""

    def __init__(self):
        self.hits: Counter[str] = Counter()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="critical", access_log=False, interface="asgi3"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part)
        if scope["path"] == "/page":
            body = f'<a id="dl" href="/file?mode={query.get("mode", "ok")}">Download</a>'.encode()
            return await self._send(send, 200, b"text/html", body, attachment=False)
        mode = query.get("mode", "ok")
        self.hits[mode] += 1
        count = self.hits[mode]
        if mode == "big":
            return await self._send(send, 200, b"application/pdf", PDF + b"x" * 100_000)
        if mode == "html":
            return await self._send(send, 200, b"application/pdf", b"<html>not a letter</html>")
        if mode == "error_then_ok" and count == 1:
            return await self._send(send, 502, b"text/html", b"<h1>502 Bad Gateway</h1>", attachment=False)
        if mode == "cut" or (mode == "cut_then_ok" and count <= 2):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/pdf"),
                                    (b"content-disposition", b'attachment; filename="letter.pdf"'),
                                    (b"content-length", str(len(PDF) * 2).encode())]})
            await send({"type": "http.response.body", "body": PDF[: len(PDF) // 2], "more_body": True})
            return  # the server closes the connection short of its Content-Length
        return await self._send(send, 200, b"application/pdf", PDF)

    @staticmethod
    async def _send(send, status: int, content_type: bytes, body: bytes, attachment: bool = True):
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if attachment:
            headers.append((b"content-disposition", b'attachment; filename="letter.pdf"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def letters() -> Iterator[LetterServer]:
    server = LetterServer()
    server.thread.start()
    deadline = time.monotonic() + 10
    while not server.server.started:
        assert time.monotonic() < deadline and server.thread.is_alive(), "letter server did not start"
        time.sleep(0.02)
    yield server
    server.server.should_exit = True
    server.thread.join(timeout=10)


def fetch(page: Page, letters: LetterServer, mode: str, target: Path, **options) -> StoredDownload:
    page.goto(f"{letters.url}/page?mode={mode}")
    options.setdefault("spacing_s", 0.05)
    options.setdefault("start_timeout_s", 5)
    return fetch_pdf(page, lambda: page.click("#dl"), target_dir=target,
                     max_bytes=options.pop("max_bytes", 1_000_000), **options)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_letter_is_stored_once_under_its_hash_and_the_browser_copy_is_gone(page: Page, letters, tmp_path):
    stored = fetch(page, letters, "ok", tmp_path / "docs")
    sha = hashlib.sha256(PDF).hexdigest()
    assert stored.sha256 == sha and stored.path == tmp_path / "docs" / f"{sha}.pdf"
    assert stored.path.read_bytes() == PDF and stored.size == len(PDF)
    assert stored.suggested_filename == "letter.pdf"
    assert stored.path.stat().st_mode & 0o777 == 0o600
    assert files(tmp_path / "docs") == [f"{sha}.pdf"]  # no temp file left behind
    again = fetch(page, letters, "ok", tmp_path / "docs")
    assert again.path == stored.path and files(tmp_path / "docs") == [f"{sha}.pdf"]


def test_browser_copies_are_deleted(page: Page, letters, tmp_path, monkeypatch):
    from playwright.sync_api import Download

    deleted = []
    original = Download.delete

    def delete(self) -> None:
        path = Path(self.path())
        original(self)
        deleted.append((path, path.exists()))

    monkeypatch.setattr(Download, "delete", delete)
    fetch(page, letters, "ok", tmp_path / "docs")
    assert len(deleted) == 1 and deleted[0][1] is False  # the browser's copy is gone


def test_a_cut_download_is_retried_and_never_stored_half(page: Page, letters, tmp_path):
    before = letters.hits["cut_then_ok"]
    stored = fetch(page, letters, "cut_then_ok", tmp_path / "docs")
    assert letters.hits["cut_then_ok"] - before == 3
    assert stored.path.read_bytes() == PDF and files(tmp_path / "docs") == [stored.path.name]


def test_a_download_that_keeps_failing_is_portal_unavailable_after_bounded_attempts(page: Page, letters, tmp_path):
    page.goto(f"{letters.url}/page?mode=cut")
    clicks = []

    def click() -> None:
        clicks.append(1)
        page.click("#dl")

    started = time.monotonic()
    with pytest.raises(PortalUnavailable) as caught:
        fetch_pdf(page, click, target_dir=tmp_path / "docs", max_bytes=1_000_000, attempts=3, spacing_s=0.05,
                  start_timeout_s=5)
    # Chromium itself may resume a cut download a few times within one attempt; the helper's attempts are 3.
    assert len(clicks) == 3 and time.monotonic() - started < 60
    assert "3 times" in caught.value.message and caught.value.transient
    assert files(tmp_path / "docs") == []


def test_a_5xx_answer_is_retried(page: Page, letters, tmp_path):
    stored = fetch(page, letters, "error_then_ok", tmp_path / "docs")
    assert stored.path.read_bytes() == PDF and letters.hits["error_then_ok"] == 2


def test_a_download_over_the_cap_is_refused_and_nothing_is_stored(page: Page, letters, tmp_path):
    with pytest.raises(DownloadTooLarge) as caught:
        fetch(page, letters, "big", tmp_path / "docs", max_bytes=50_000)
    assert "cap" in caught.value.message and not caught.value.transient
    assert files(tmp_path / "docs") == []
    assert letters.hits["big"] == 1  # not retried


def test_a_download_that_is_not_a_pdf_is_portal_changed(page: Page, letters, tmp_path):
    with pytest.raises(PortalChanged):
        fetch(page, letters, "html", tmp_path / "docs")
    assert files(tmp_path / "docs") == []


def test_a_click_that_starts_nothing_is_retried_then_unavailable(page: Page, letters, tmp_path):
    page.goto(f"{letters.url}/page")
    calls = []
    with pytest.raises(PortalUnavailable, match="no download started"):
        fetch_pdf(page, lambda: calls.append(1), target_dir=tmp_path / "docs", max_bytes=1000,
                  attempts=2, start_timeout_s=0.3, spacing_s=0.01)
    assert len(calls) == 2


def test_store_once_writes_atomically(tmp_path):
    path, sha = store_once(b"%PDF-1.4 hello %%EOF", tmp_path / "d")
    assert path.name == f"{sha}.pdf" and path.read_bytes() == b"%PDF-1.4 hello %%EOF"
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o700
    assert store_once(b"%PDF-1.4 hello %%EOF", tmp_path / "d") == (path, sha)
    assert files(tmp_path / "d") == [path.name]


def _answers(*answers):
    """A fake `get` for fetch_pdf_at: each call the next (status, body), or raises it when it is an error."""
    queue, calls = list(answers), []

    def get():
        calls.append(1)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer
    return get, calls


def test_a_fetched_letter_is_retried_when_cut_or_5xx_and_stored_once(tmp_path):
    get, calls = _answers(PortalUnavailable("could not reach"), (502, b"Bad Gateway"), (200, PDF[:5000]),
                          (200, PDF))
    stored = fetch_pdf_at(get, target_dir=tmp_path, max_bytes=1 << 20, url="u", file_name="a.pdf", spacing_s=0.01)
    assert len(calls) == 4 and stored.path.read_bytes() == PDF and stored.suggested_filename == "a.pdf"
    assert [p.name for p in tmp_path.iterdir()] == [f"{hashlib.sha256(PDF).hexdigest()}.pdf"]


def test_a_fetched_letter_that_keeps_failing_over_the_cap_or_no_pdf_stores_nothing(tmp_path):
    get, calls = _answers((503, b"down"))
    with pytest.raises(PortalUnavailable, match="failed 5 times"):
        fetch_pdf_at(get, target_dir=tmp_path, max_bytes=1 << 20, url="u", file_name="", spacing_s=0.01)
    assert len(calls) == 5
    with pytest.raises(DownloadTooLarge):
        fetch_pdf_at(_answers((200, PDF))[0], target_dir=tmp_path, max_bytes=1024, url="u", file_name="")
    with pytest.raises(PortalChanged, match="not a PDF"):
        fetch_pdf_at(_answers((200, b"<html>hello</html>"))[0], target_dir=tmp_path, max_bytes=1 << 20, url="u",
                     file_name="")
    refusals = []

    def refused(body: bytes) -> None:  # the adapter's sign-in page check
        refusals.append(body)
        raise SessionExpired("signed out")

    with pytest.raises(SessionExpired):
        fetch_pdf_at(_answers((200, b"<form id=login>"))[0], target_dir=tmp_path, max_bytes=1 << 20, url="u",
                     file_name="", refused=refused)
    assert refusals == [b"<form id=login>"] and list(tmp_path.iterdir()) == []


def test_letters_fetched_at_once_keep_the_list_order_and_the_lane_fetches_what_a_copy_could_not(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Copies of the session hand back a letter, an error, an over-the-cap letter and nothing: the lane fetches
    the error's and the missing one itself (their errors are its own), the rest are used as they came."""
    import bots.session_pages
    from bots.kit.reading import Reading

    stored = {href: StoredDownload(path=tmp_path / f"{href}.pdf", sha256=href, size=1, suggested_filename=href)
              for href in ("a", "b", "c", "d")}
    too_large = DownloadTooLarge("over the cap")
    by_copies = {0: stored["a"], 1: SessionExpired("signed out"), 2: too_large}  # 3: the copies never got to it

    class Lane(Reading):
        downloads_at_once = 3
        fetched_here: list[str] = []

        def fetch_letter(self, href: str, file_name: str) -> StoredDownload:
            self.fetched_here.append(href)
            return stored[href]

    asked = []
    monkeypatch.setattr(bots.session_pages, "map_side_by_side",
                        lambda adapter, work, items, pages: asked.append((items, pages)) or by_copies)
    lane = Lane()
    links = [(href, f"{href}.pdf") for href in ("a", "b", "c", "d")]
    assert lane.fetch_letters(links) == [stored["a"], stored["b"], too_large, stored["d"]]
    assert lane.fetched_here == ["b", "d"] and asked == [(links, 3)]
    lane.downloads_at_once, lane.fetched_here = 1, []
    assert lane.fetch_letters(links) == [stored[h] for h in "abcd"] and lane.fetched_here == list("abcd")
    assert len(asked) == 1  # one at a time: no copies of the session at all
