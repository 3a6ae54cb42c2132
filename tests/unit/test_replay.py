"""Ordered HAR replay (bots.replay), HAR scrubbing (bots.har) and recorded-case comparison (bots.recording)."""

from __future__ import annotations

import base64
import json
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

from bots.browser import launch_options
from bots.har import scrub_har
from bots.recording import Case, differences, shape, toml_value
from bots.replay import replay_context

BASE = "https://portal.example/"


def _entry(method: str, url: str, *, post: str | None = None, mime: str = "application/x-www-form-urlencoded",
           status: int = 200, location: str | None = None, body: str = "") -> dict:
    request = {"method": method, "url": BASE + url, "headers": [], "cookies": []}
    if post is not None:
        request["postData"] = {"mimeType": mime, "text": post}
    headers = [{"name": "Content-Type", "value": "text/html"}]
    if location:
        headers.append({"name": "Location", "value": location})
    return {"request": request, "response": {"status": status, "headers": headers, "cookies": [],
                                             "content": {"size": len(body), "mimeType": "text/html", "text": body}}}


SEARCH_FORM = ('<form method="post" action="/search"><input name="icn" id="icn"><button id="go">Go</button></form>'
               '<form method="post" action="/upload" enctype="multipart/form-data"><input type="file" name="f" '
               'id="file"><button id="send">Send</button></form>')


def _entries() -> list[dict]:
    # Two searches post to one URL and are redirected to one results URL (Post/Redirect/Get).
    return [
        _entry("GET", "search", body=SEARCH_FORM),
        _entry("POST", "search", post="icn=A1", status=303, location="/results"),
        _entry("GET", "results", body="<p id=r>results for A1</p>"),
        _entry("POST", "search", post="icn=B2", status=303, location="/results"),
        _entry("GET", "results", body="<p id=r>results for B2</p>"),
        _entry("POST", "upload", post="--boundaryRecorded--", mime="multipart/form-data; boundary=x",
               body="<p id=r>upload 1</p>"),
        _entry("POST", "upload", post="--boundaryRecorded2--", mime="multipart/form-data; boundary=y",
               body="<p id=r>upload 2</p>"),
    ]


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """A quiet Chromium; every request it makes in these tests is answered by a replay."""
    launched = playwright.chromium.launch(**launch_options(playwright))
    yield launched
    launched.close()


def _search(page, icn: str) -> str:
    page.goto(BASE + "search")
    page.fill("#icn", icn)
    with page.expect_navigation():
        page.click("#go")
    return page.inner_text("#r")


def test_same_request_key_answers_in_recorded_order_and_the_last_repeats(browser: Browser) -> None:
    context, replay = replay_context(browser, _entries(), base_url=BASE)
    page = context.new_page()
    assert _search(page, "A1") == "results for A1"
    assert _search(page, "B2") == "results for B2"
    # A third results page: the last recorded answer repeats.
    assert _search(page, "A1") == "results for B2"
    assert page.url == BASE + "results"
    assert replay.misses == []
    context.close()


def test_multipart_bodies_match_on_method_and_url_in_order(browser: Browser, tmp_path: Path) -> None:
    context, replay = replay_context(browser, _entries(), base_url=BASE)
    page = context.new_page()
    answers = []
    for n in (1, 2):
        page.goto(BASE + "search")
        page.set_input_files("#file", {"name": f"p{n}.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"})
        with page.expect_navigation():
            page.click("#send")
        answers.append(page.inner_text("#r"))
    assert answers == ["upload 1", "upload 2"]
    assert replay.misses == []
    context.close()


def test_unrecorded_requests_are_aborted(browser: Browser) -> None:
    context, replay = replay_context(browser, _entries(), base_url=BASE)
    page = context.new_page()
    page.goto(BASE + "search")
    page.fill("#icn", "ZZ")  # a search never recorded: same URL, another body
    with pytest.raises(Exception, match="ERR_FAILED"), page.expect_navigation():
        page.click("#go")
    with pytest.raises(Exception, match="ERR_FAILED"):
        page.goto(BASE + "never-recorded")
    assert replay.misses == [f"POST {BASE}search", f"GET {BASE}never-recorded"]
    context.close()


def _tiny_har(tmp_path: Path) -> Path:
    pdf = b"%PDF-1.4 member MRD123456789 DOE, JANE"
    har = {"log": {"version": "1.2", "entries": [{
        "request": {"method": "POST", "url": "https://portal.example/claims?member=MRD123456789",
                    "headers": [{"name": "Cookie", "value": "SESSION=s3cr3t-cookie"},
                                {"name": "Authorization", "value": "Bearer t0ken-value"},
                                {"name": "Referer", "value": "https://portal.example/m/MRD123456789"}],
                    "cookies": [{"name": "SESSION", "value": "s3cr3t-cookie"}],
                    "postData": {"mimeType": "application/x-www-form-urlencoded",
                                 "text": "member_id=MRD123456789&name=DOE%2C+JANE"}},
        "response": {"status": 200,
                     "headers": [{"name": "Set-Cookie", "value": "SESSION=s3cr3t-cookie; Path=/"},
                                 {"name": "Content-Length", "value": "99"},
                                 {"name": "Content-Type", "value": "text/html"}],
                     "cookies": [{"name": "SESSION", "value": "s3cr3t-cookie"}],
                     "content": {"size": 50, "mimeType": "text/html",
                                 "text": "<td>DOE, JANE</td><td>MRD123456789</td>"}},
    }, {
        "request": {"method": "GET", "url": "https://portal.example/letter.pdf", "headers": [], "cookies": []},
        "response": {"status": 200, "headers": [], "cookies": [],
                     "content": {"size": len(pdf), "mimeType": "application/pdf", "encoding": "base64",
                                 "text": base64.b64encode(pdf).decode()}},
    }]}}
    path = tmp_path / "raw.har"
    path.write_text(json.dumps(har))
    return path


def test_scrub_har_removes_cookies_and_replaces_values(tmp_path: Path) -> None:
    out = tmp_path / "clean.har"
    scrub_har(_tiny_har(tmp_path), out, {"MRD123456789": "MRD000000001", "DOE, JANE": "PATIENT, TEST"})
    text = out.read_text()
    for gone in ("s3cr3t-cookie", "t0ken-value", "MRD123456789", "DOE, JANE", "DOE%2C+JANE"):
        assert gone not in text, gone
    first, second = json.loads(text)["log"]["entries"]
    assert [h["name"] for h in first["request"]["headers"]] == ["Referer"]
    assert first["request"]["postData"]["text"] == "member_id=MRD000000001&name=PATIENT%2C+TEST"
    assert [h["name"] for h in first["response"]["headers"]] == ["Content-Type"]  # stale Content-Length dropped
    assert base64.b64decode(second["response"]["content"]["text"]) == b"%PDF-1.4 member MRD000000001 PATIENT, TEST"


def test_volatile_fields_compare_by_shape_and_missing_keys_mean_none() -> None:
    expected = {"reference_number": "SR12345678", "status_category": "D0", "carc_codes": []}
    assert differences(expected, {**expected, "reference_number": "SR87654321"}, ["reference_number"]) == []
    assert differences(expected, {**expected, "reference_number": "SR8765"}, ["reference_number"])
    assert differences(expected, {**expected, "reference_number": "SR87654321"}) != []
    assert differences(expected, {**expected, "paid": "1.00"}) == ["paid: expected none, got '1.00'"]
    assert shape(date(2026, 1, 1)) == "date" and shape("MHP-L001") == "AAA-A999"


def test_cases_toml_round_trips() -> None:
    case = Case("claim-1", "check_claim_status", {"claim_number": "C1", "date_of_service": date(2026, 7, 7)},
                {"raw_status": 'Paid "in full"', "paid": "1.50", "lines": [{"n": 1, "codes": ["45"]}]},
                ["reference_number"], confirmed=False)
    text = "\n".join(case.lines())
    loaded = tomllib.loads(text)["case"][0]
    assert loaded["query"] == case.query and loaded["expect"] == case.expect
    assert loaded["confirmed"] is False and loaded["volatile"] == ["reference_number"]
    assert toml_value(True) == "true"
