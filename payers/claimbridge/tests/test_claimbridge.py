"""ClaimBridge's own quirks in real Chromium (payer picker, iframe search); shared checks live in tests/conformance."""

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    MaintenanceWindow,
    PortalChanged,
    PortalError,
    PortalUnavailable,
    SessionExpired,
)
from bots.findings import ClaimQuery
from payers.claimbridge import pages as ui
from tests.conformance.oracle import claim_differences

PAYER = "claimbridge"


def harness(server, path: str, method: str = "GET") -> dict:
    """Call a /_sandbox/claimbridge/... endpoint."""
    return httpx.request(method, f"{server.url}/_sandbox/{PAYER}/{path}").raise_for_status().json()


def query(server, claim_number: str | None = None, *, use_icn: bool = True) -> ClaimQuery:
    """The inventory row's query, as the scheduler builds it (the first row when no claim is named)."""
    rows = csv.DictReader(io.StringIO(httpx.get(f"{server.url}/_sandbox/{PAYER}/inventory.csv").text))
    row = next(r for r in rows if claim_number in (None, r["claim_number"]))
    return ClaimQuery(claim_number=row["claim_number"], payer_id=PAYER, member_id=row["member_id"],
                      date_of_service=date.fromisoformat(row["date_of_service"]),
                      payer_claim_number=(row["payer_claim_number"] or None) if use_icn else None)


def test_unenrolled_payer_is_refused_and_a_forgotten_payer_is_picked_again(fresh_sandbox, make_adapter):
    adapter = make_adapter(fresh_sandbox, PAYER)
    lakeside = adapter.session.credential
    adapter.session.credential = lakeside.model_copy(update={"options": {"payer_name": "Coastal Shield Benefits"}})
    with pytest.raises(PortalError) as raised:
        adapter.login()
    assert type(raised.value) is PortalError and "not enrolled" in raised.value.message
    adapter.session.credential = lakeside  # signed in, no payer chosen: the picker again
    assert adapter.is_logged_in() is True
    assert adapter.page.locator("#cbWorkspace h1").inner_text() == "Lakeside Health Cooperative"


@pytest.mark.parametrize(("banner", "error"), [("This user is locked.", AccountLocked),
                                               ("Your password has expired.", PortalChanged)])
def test_sign_in_banner_wording(fresh_sandbox, make_adapter, banner, error):
    adapter = make_adapter(fresh_sandbox, PAYER)
    page = f'<form id="cbLoginForm"></form><div class="cb-alert-error">{banner}</div>'
    adapter.page.route("**/claimbridge/login", lambda route: route.fulfill(body=page, content_type="text/html")
                       if route.request.method == "POST" else route.continue_())
    with pytest.raises(error):
        adapter.login()


def test_a_forgotten_payer_is_picked_again_on_the_fetched_picker(fresh_sandbox, make_adapter, page):
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.claims_from = "html"
    lakeside = adapter.session.credential
    adapter.session.credential = lakeside.model_copy(update={"options": {"payer_name": "Coastal Shield Benefits"}})
    with pytest.raises(PortalError):
        adapter.login()  # signed in, the refused pick forgot the payer: the workspace answers with the picker
    with pytest.raises(PortalError, match="not enrolled"):
        adapter.check_claim_status(query(fresh_sandbox))
    adapter.session.credential = lakeside
    url, loads = page.url, []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    finding = adapter.check_claim_status(query(fresh_sandbox))
    truth = harness(fresh_sandbox, "oracle")["claims"][finding.claim_number]
    assert claim_differences(finding, truth) == [] and loads == [] and page.url == url


def test_a_payer_forgotten_after_a_check_is_picked_again_before_the_next(fresh_sandbox, make_adapter, page):
    """The fetched path goes straight to the frame once it knows it; a frame answering with the picker is not
    a changed portal: the workspace is fetched again and the payer picked, and the check reads as always."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    adapter.claims_from = "html"
    truth = harness(fresh_sandbox, "oracle")["claims"]
    first = adapter.check_claim_status(query(fresh_sandbox))
    assert claim_differences(first, truth[first.claim_number]) == []
    state = fresh_sandbox.states[PAYER]
    with state.lock:
        for record in state.sessions.values():
            record.data.pop("payer", None)  # the portal forgot which payer this session works
    again = adapter.check_claim_status(query(fresh_sandbox))
    assert claim_differences(again, truth[again.claim_number]) == []
    assert all(record.data.get("payer") == "LHC" for record in state.sessions.values())


def test_the_kept_search_form_is_posted_again_and_a_refused_one_fetched_anew(fresh_sandbox, make_adapter):
    """Within a session the frame's form is posted again unfetched: a check by ICN is its search, the results
    page the search redirects to and the claim's detail, three requests. A kept form whose token the portal
    no longer accepts (it answers "could not be verified") is fetched again; the refused post searched nothing."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    adapter.claims_from = "html"
    truth = harness(fresh_sandbox, "oracle")["claims"]
    rows = csv.DictReader(io.StringIO(httpx.get(f"{fresh_sandbox.url}/_sandbox/{PAYER}/inventory.csv").text))
    by_icn = [r["claim_number"] for r in rows if r["payer_claim_number"] and truth[r["claim_number"]]["on_file"]]

    def checked(number: str) -> dict:
        before = harness(fresh_sandbox, "stats")["counters"]
        finding = adapter.check_claim_status(query(fresh_sandbox, number))
        assert claim_differences(finding, truth[number]) == [], number
        after = harness(fresh_sandbox, "stats")["counters"]
        return {k: after.get(k, 0) - before.get(k, 0) for k in ("requests", "searches")}

    first = checked(by_icn[0])
    assert first["searches"] == 1 and first["requests"] >= 5  # the workspace and the form came first
    assert checked(by_icn[1]) == {"requests": 3, "searches": 1}
    state = fresh_sandbox.states[PAYER]
    with state.lock:
        for record in state.sessions.values():
            record.csrf_token = "rotated-by-the-portal"
    # the refused post, the form fetched again (its address is known), the search, its results, the detail
    assert checked(by_icn[2]) == {"requests": 5, "searches": 1}
    assert checked(by_icn[3]) == {"requests": 3, "searches": 1}


def test_subscriber_search_walks_result_pages_to_our_claim(sandbox, make_adapter):
    claims = [c for c in sandbox.states[PAYER].world.claims if c.on_file]
    busiest = Counter(c.member.member_id for c in claims).most_common(1)[0][0]  # 180 days of claims, 10 a page
    oldest = min((c for c in claims if c.member.member_id == busiest), key=lambda c: c.date_of_service)
    adapter = make_adapter(sandbox, PAYER)
    adapter.login()
    before = harness(sandbox, "stats")["counters"].get("claimbridge_result_pages", 0)
    finding = adapter.check_claim_status(query(sandbox, oldest.claim_number, use_icn=False))
    assert finding.payer_claim_number == oldest.payer_claim_number
    assert harness(sandbox, "stats")["counters"]["claimbridge_result_pages"] - before >= 2


def test_captcha_in_the_frame_stops_the_bot_untouched(fresh_sandbox, make_adapter):
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    harness(fresh_sandbox, "captcha/1", "POST")  # one search answered, then the interstitial
    first = adapter.check_claim_status(query(fresh_sandbox))
    assert first.status_category == harness(fresh_sandbox, "oracle")["claims"][first.claim_number]["status_category"]
    with pytest.raises(CaptchaChallenge):
        adapter.check_claim_status(query(fresh_sandbox))
    assert fresh_sandbox.states[PAYER].captcha_pending  # never answered (any answer clears it): a person does


def test_maintenance_window_and_5xx_inside_the_iframe_are_portal_unavailable(fresh_sandbox, make_adapter):
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()    # the workspace loaded; maintenance begins before the frame loads
    # The rendered iframe: its faults come through the tab's router, which fetched pages never pass
    # (the fetched path meets the same interruptions in the next test).
    adapter.claims_from = "page"
    adapter.page.route("**/claimbridge/frames/claim-search",
                       lambda route: (harness(fresh_sandbox, "maintenance/true", "POST"), route.continue_()))
    with pytest.raises(PortalUnavailable, match="maintenance"):
        adapter.check_claim_status(query(fresh_sandbox))
    harness(fresh_sandbox, "maintenance/false", "POST")  # the later route answers first
    adapter.page.route("**/claimbridge/frames/claim-search",
                       lambda route: route.fulfill(status=502, body="Bad Gateway", content_type="text/plain"))
    with pytest.raises(PortalUnavailable, match="502"):
        adapter.check_claim_status(query(fresh_sandbox))
    now = datetime.now(UTC)  # a scheduled window (UTC) answers 503 on every page
    window = f"{now - timedelta(minutes=5):%H:%M}/{now + timedelta(minutes=20):%H:%M}"
    httpx.post(f"{fresh_sandbox.url}/claimbridge/_test/maintenance-window/{window}").raise_for_status()
    with pytest.raises(PortalUnavailable, match="maintenance"):
        adapter.pull_authorizations()


def test_interruptions_in_the_fetched_frame_documents_are_typed_errors(fresh_sandbox, make_adapter):
    """With claims_from='html' the frame's own documents meet the tab's interruptions, as the same typed errors."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    adapter.claims_from = "html"
    faults = f"{fresh_sandbox.url}/_sandbox/{PAYER}/faults"
    fetch_page, submit_form = adapter.fetch_page, adapter.submit_form

    def frame_fetched_after(switch):  # the workspace was fetched; the portal changes before the frame is
        return lambda path, params=None: (switch() if "/frames/claim-search" in path else None,
                                          fetch_page(path, params))[1]

    adapter.fetch_page = frame_fetched_after(lambda: harness(fresh_sandbox, "maintenance/true", "POST"))
    with pytest.raises(MaintenanceWindow, match="maintenance"):
        adapter.check_claim_status(query(fresh_sandbox))
    harness(fresh_sandbox, "maintenance/false", "POST")
    adapter.fetch_page = frame_fetched_after(lambda: httpx.post(faults, json={"errors": 1}).raise_for_status())
    with pytest.raises(PortalUnavailable, match=r"HTTP 5\d\d") as raised:
        adapter.check_claim_status(query(fresh_sandbox))
    assert type(raised.value) is PortalUnavailable
    httpx.post(faults, json={"errors": 0}).raise_for_status()
    adapter.fetch_page = fetch_page
    sent = []

    def search_answered_5xx(*args):  # a posted search is never posted again
        httpx.post(faults, json={"errors": 1}).raise_for_status()
        sent.append(harness(fresh_sandbox, "stats")["counters"]["requests"])
        return submit_form(*args)

    adapter.submit_form = search_answered_5xx
    with pytest.raises(PortalUnavailable, match=r"HTTP 5\d\d"):
        adapter.check_claim_status(query(fresh_sandbox))
    assert harness(fresh_sandbox, "stats")["counters"]["requests"] - sent[0] == 1
    httpx.post(faults, json={"errors": 0}).raise_for_status()
    adapter.submit_form = submit_form
    harness(fresh_sandbox, "captcha/1", "POST")  # one search answered, then the interstitial in the frame
    first = adapter.check_claim_status(query(fresh_sandbox))
    assert claim_differences(first, harness(fresh_sandbox, "oracle")["claims"][first.claim_number]) == []
    with pytest.raises(CaptchaChallenge):
        adapter.check_claim_status(query(fresh_sandbox))
    assert fresh_sandbox.states[PAYER].captcha_pending  # never answered (any answer clears it): a person does
    assert harness(fresh_sandbox, "stats")["counters"].get("captcha_answers", 0) == 0
    fresh_sandbox.states[PAYER].captcha_pending.clear()
    harness(fresh_sandbox, "session-idle/0", "POST")  # the sign-in form where the frame was: SessionExpired
    with pytest.raises(SessionExpired):
        adapter.check_claim_status(query(fresh_sandbox))


@pytest.mark.parametrize(("tabs_from", "at_once"), [("html", 1), ("html", 3), ("page", 1)])
def test_letters_keep_the_file_names_the_list_shows(fresh_sandbox, make_adapter, page, tabs_from, at_once):
    """Fetched (the tab's pages and each link, nothing loaded in the tab; one at a time or three at once in the
    one session, as a night does) or rendered and clicked: every letter once, in the list's order, named as the
    list shows, its bytes the portal's; a second pass from the first's ids downloads none."""
    letters = harness(fresh_sandbox, "oracle")["letters"]
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    adapter.tabs_from, adapter.downloads_at_once = tabs_from, at_once
    harness(fresh_sandbox, "reset_stats", "POST")
    fresh_sandbox.states[PAYER].faults.latency_ms = 20  # a real portal's wait, so that letters can overlap
    url, loads = page.url, []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    found = adapter.download_correspondence(None, set())
    assert {f.portal_document_id: f.suggested_file_name for f in found} == {x["letter_id"]: x["file_name"]
                                                                            for x in letters}
    assert harness(fresh_sandbox, "stats")["counters"]["letter_downloads"] == len(letters)
    assert all(Path(f.file_path).read_bytes().startswith(b"%PDF-") for f in found)
    assert (loads == [] and page.url == url) if tabs_from == "html" else loads != []
    stats = harness(fresh_sandbox, "stats")
    assert sum(stats["login_attempts"].values()) == 0 and stats["live_sessions"] == 1  # the one session
    assert (stats["requests_of_one_session_in_flight_peak"] >= 2) == (at_once > 1)
    if tabs_from == "html":  # the list's own order (the letters tab lists them newest first, page by page)
        listed = [row["id"] for listing in adapter.page_walk(adapter._fetched_tab("Letters"), ui.Letters.next,
                                                             ui.Letters.table)
                  for row in adapter.page_rows(listing, ui.Letters.table, ui.Letters.columns)]
        assert [f.portal_document_id for f in found] == listed
    assert adapter.download_correspondence(None, {f.portal_document_id for f in found}) == []
    assert harness(fresh_sandbox, "stats")["counters"]["letter_downloads"] == len(letters)


@pytest.mark.parametrize("at_once", [1, 3])
def test_fetched_letters_since_a_date_and_a_sign_in_page_for_a_letter(fresh_sandbox, make_adapter, at_once):
    """The filter form is sent as the browser sends it (only letters from that date); a letter link answered
    with the sign-in page (the session expired) is SessionExpired, not a letter that is no PDF, whether the
    letters go one at a time or several at once (a copy's sign-in page is fetched again by the lane)."""
    letters = harness(fresh_sandbox, "oracle")["letters"]
    since = sorted(date.fromisoformat(x["letter_date"]) for x in letters)[len(letters) // 2]
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    adapter.downloads_at_once = at_once
    found = adapter.download_correspondence(since, set())
    assert {f.portal_document_id for f in found} == {x["letter_id"] for x in letters
                                                     if date.fromisoformat(x["letter_date"]) >= since}
    fetch_page = adapter.fetch_page

    def listed_then_expired(path, params=None):  # the list comes; the session ends before the first letter
        listed = fetch_page(path, params)
        harness(fresh_sandbox, "session-idle/0", "POST")
        return listed

    adapter.fetch_page = listed_then_expired
    with pytest.raises(SessionExpired):
        adapter.download_correspondence(None, set())


def test_claim_status_is_read_from_the_fetched_frame_documents_not_the_tab(sandbox, make_adapter, page):
    """With claims_from='html' the iframe's documents are fetched and parsed: nothing loads in the tab, the
    portal sees the same searches, result pages of their sid and details, and the findings are the same."""
    adapter = make_adapter(sandbox, PAYER)
    adapter.login()
    adapter.claims_from = "html"
    truth = harness(sandbox, "oracle")["claims"]
    rows = list(csv.DictReader(io.StringIO(httpx.get(f"{sandbox.url}/_sandbox/{PAYER}/inventory.csv").text)))
    by_icn = [r["claim_number"] for r in rows if r["payer_claim_number"] and truth[r["claim_number"]]["finalized"]]
    by_subscriber = [r["claim_number"] for r in rows if not r["payer_claim_number"]]
    on_file = [c for c in sandbox.states[PAYER].world.claims if c.on_file]
    busiest = Counter(c.member.member_id for c in on_file).most_common(1)[0][0]  # 10 a page: a walk to page 2+
    oldest = min((c for c in on_file if c.member.member_id == busiest), key=lambda c: c.date_of_service)
    not_on_file = [n for n in by_subscriber if not truth[n]["on_file"]][:1]
    chosen = [*by_icn[:3], *by_subscriber[:3], oldest.claim_number, *not_on_file]
    assert len(by_icn) >= 3 and len(by_subscriber) >= 3 and len(set(chosen)) == len(chosen)
    # the inventory's keys (its ICN where it has one); the oldest claim by subscriber + date, as if it had none
    queries = {n: query(sandbox, n, use_icn=n != oldest.claim_number) for n in chosen}

    def counted() -> Counter:
        stats = harness(sandbox, "stats")
        return Counter({**{k: stats["counters"].get(k, 0) for k in ("requests", "searches",
                                                                      "claimbridge_result_pages")},
                        "lookups": len(harness(sandbox, "lookups"))})

    url, loads = page.url, []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    before, fetched = counted(), {}
    for number in chosen:
        fetched[number] = adapter.check_claim_status(queries[number])
        assert claim_differences(fetched[number], truth[number]) == [], number
    html_requests = counted() - before
    assert loads == [] and page.url == url
    assert html_requests["claimbridge_result_pages"] > html_requests["searches"] == len(chosen)  # page 2 walked
    found = fetched[by_icn[0]]
    assert found.provenance.url.endswith(f"/{PAYER}/frames/claims/{found.payer_claim_number}")
    assert found.provenance.raw_text == found.raw_status and found.provenance.screenshot_path is None

    adapter.claims_from = "page"  # the rendered path, still selectable, reads the same with the same requests
    before = counted()
    for number in chosen:
        in_page = adapter.check_claim_status(queries[number])
        assert in_page.model_dump(exclude={"provenance"}) == fetched[number].model_dump(exclude={"provenance"})
    rendered = counted() - before
    # The same searches, result pages and lookups; the fetched path skips the workspace page and the form after
    # its first check (it posts the form it kept), so it sends fewer requests, the same number fewer each check.
    assert {k: rendered[k] for k in ("searches", "claimbridge_result_pages", "lookups")} == \
        {k: html_requests[k] for k in ("searches", "claimbridge_result_pages", "lookups")}
    saved = rendered["requests"] - html_requests["requests"]
    assert saved > 0 and saved % (len(chosen) - 1) == 0
    assert loads != []
    shown = harness(sandbox, "lookups")[-2 * html_requests["lookups"]:]  # one session: the tab's, for both paths
    assert len({entry["session"] for entry in shown}) == 1 and len(shown) == 2 * html_requests["lookups"]


def test_authorizations_fetched_read_as_the_rendered_tab_reads_them(fresh_sandbox, make_adapter, page):
    """The Authorizations tab's pages and details fetched (nothing loads in the tab) give the rendered findings."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    url, loads = page.url, []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    fetched = adapter.pull_authorizations()
    assert loads == [] and page.url == url
    adapter.tabs_from = "page"
    rendered = adapter.pull_authorizations()
    assert loads != [] and len(fetched) == len(harness(fresh_sandbox, "oracle")["authorizations"]) > 10
    assert [a.model_dump(exclude={"provenance"}) for a in fetched] == \
        [a.model_dump(exclude={"provenance"}) for a in rendered]
    assert all(a.provenance.url.split("/")[-1] == a.auth_number for a in fetched)
