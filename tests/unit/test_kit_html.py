"""Parsed portal pages (bots.kit.html) and the replay that answers them (bots.replay.OrderedReplay.fetch)."""

from __future__ import annotations

import pytest

from bots.kit.html import HtmlPage, inner_text
from bots.replay import OrderedReplay

PAGE = """<html><body>
<div id="banner" hidden>Your session is about to end</div>
<div class="error" style="display: none">old error</div>
<div class="error" id="login-error">Your account has been LOCKED.</div>
<p id="ref">Inquiry reference:
   SR12345678</p>
<table id="grid"><thead><tr><th>Line #</th><th>Adjustments</th><th>Claim</th></tr></thead>
<tbody><tr><td>1</td><td>CO-45 $10.00<br>PR-2 $5.00</td><td><a href="/p/claims/ICN1">ICN1</a></td></tr>
<tr><td>2</td><td>-</td><td></td></tr></tbody></table>
<form id="search" method="post" action="/p/claims/search">
  <input type="hidden" name="csrf_token" value="tok"><input type="text" name="icn" value="">
  <input type="submit" value="Search"></form>
<a id="next-page" href="results?page=2">Next &gt;</a>
</body></html>"""


def page() -> HtmlPage:
    return HtmlPage(url="http://portal.test/p/claims/results", status=200, html=PAGE)


def test_hidden_elements_do_not_count_as_shown() -> None:
    assert not page().has("#banner")
    assert [e.get("id") for e in page().select(".error")] == ["login-error"]


def test_has_text_matches_as_playwright_does_case_and_space_ignored() -> None:
    assert page().has("#login-error:has-text('locked')")
    assert not page().has("#login-error:has-text('incorrect')")
    assert page().has("#nothing, #login-error:has-text('account has  been')")


def test_texts_read_fields_and_regex_groups() -> None:
    assert page().texts({"ref": "#ref", "code": ("#ref", r"(SR\d+)"), "none": "#absent"}) == {
        "ref": "Inquiry reference: SR12345678", "code": "SR12345678", "none": None}


def test_tables_break_lines_at_br_and_links_are_absolute() -> None:
    rows = page().table("#grid")
    assert rows[0]["Adjustments"] == "CO-45 $10.00 PR-2 $5.00"
    assert rows[0]["_href"] == "http://portal.test/p/claims/ICN1" and rows[1]["_href"] == ""
    assert "\n" in inner_text(page().select("#grid td")[1])
    assert page().table("#missing") is None


def test_a_form_sends_its_own_hidden_fields() -> None:
    action, fields = page().form("form#search")
    assert action == "http://portal.test/p/claims/search" and fields == {"csrf_token": "tok", "icn": ""}
    assert page().link("a#next-page") == "http://portal.test/p/claims/results?page=2"


def test_a_playwright_only_selector_is_an_adapter_error() -> None:
    with pytest.raises(ValueError, match="text-matches"):
        page().select("#x:text-matches('^Page 1')")


def _entry(method: str, url: str, status: int, *, body: str = "", text: str = "", location: str = "") -> dict:
    headers = [{"name": "Location", "value": location}] if location else []
    post = {"postData": {"mimeType": "application/x-www-form-urlencoded", "text": body}} if method == "POST" else {}
    return {"request": {"method": method, "url": url, "headers": [], **post},
            "response": {"status": status, "headers": headers, "content": {"text": text}}}


def test_replay_answers_a_posted_form_and_follows_its_redirect_in_order() -> None:
    replay = OrderedReplay([
        _entry("POST", "http://p.test/search", 303, body="csrf_token=t&icn=A+1", location="/results"),
        _entry("GET", "http://p.test/results", 200, text="first"),
        _entry("GET", "http://p.test/results", 200, text="second"),
    ])
    assert replay.fetch("POST", "http://p.test/search", None, {"csrf_token": "t", "icn": "A 1"}) == (
        200, "http://p.test/results", "first")
    assert replay.fetch("GET", "http://p.test/results", None, None) == (200, "http://p.test/results", "second")
    assert replay.misses == []
    assert replay.fetch("POST", "http://p.test/search", None, {"csrf_token": "t", "icn": "B"})[0] == 502
    assert replay.misses == ["POST http://p.test/search"]


class _Tab:
    """A tab that stays where it is and cannot be captured (it has nothing to do with the fetched page)."""

    url = "http://portal.test/p/home"

    def on(self, *_: object) -> None:
        pass

    def screenshot(self, **_: object) -> bytes:
        raise AssertionError("the tab was captured as evidence of a fetched page")


def test_a_reading_step_failing_on_a_fetched_page_keeps_that_page_as_evidence(tmp_path) -> None:
    from bots.adapter import PortalSession
    from bots.errors import PortalChanged
    from bots.evidence import EvidenceStore
    from payers.meridian.adapter import MeridianAdapter

    def fetch(method, url, params=None, form=None, **_):
        return 200, url, PAGE

    session = PortalSession(page=_Tab(), context=None, credential=None, base_url="http://portal.test/p/",
                            evidence=EvidenceStore(tmp_path), fetch=fetch)
    adapter = MeridianAdapter(session)
    adapter.fetch_page("claims/results")
    with pytest.raises(PortalChanged) as raised:
        adapter.fail(PortalChanged, "the claim shows no status")  # as `claim_finding` fails
    assert raised.value.url == "http://portal.test/p/claims/results" and raised.value.screenshot_path is None
    kept = open(raised.value.page_html_path, encoding="utf-8").read()
    assert "<table" in kept and "login-error" in kept
