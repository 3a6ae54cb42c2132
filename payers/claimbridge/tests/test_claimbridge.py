"""ClaimBridge's own quirks in real Chromium (payer picker, iframe search); shared checks live in tests/conformance."""

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from bots.errors import AccountLocked, CaptchaChallenge, PortalChanged, PortalError, PortalUnavailable
from bots.findings import ClaimQuery

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


def test_letters_keep_the_file_names_the_list_shows(fresh_sandbox, make_adapter):
    names = {x["letter_id"]: x["file_name"] for x in harness(fresh_sandbox, "oracle")["letters"]}
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    assert {f.portal_document_id: f.suggested_file_name for f in adapter.download_correspondence(None, set())} == names
