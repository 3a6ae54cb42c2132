"""ClaimBridge adapter against its sandbox portal in real Chromium; expectations come from the oracle."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    LoginFailed,
    MaintenanceWindow,
    PortalChanged,
    PortalError,
    PortalUnavailable,
    SessionExpired,
)
from bots.findings import ClaimQuery, ClaimStatusFinding
from bots.session import ensure_logged_in
from sandbox.world import claim_number_reference

PAYER = "claimbridge"


def harness(server, path: str, method: str = "GET") -> dict:
    """Call a /_sandbox/claimbridge/... endpoint."""
    response = httpx.request(method, f"{server.url}/_sandbox/{PAYER}/{path}")
    response.raise_for_status()
    return response.json()


def inventory(server) -> dict[str, dict[str, str]]:
    """The practice's claims inventory, by claim number."""
    text = httpx.get(f"{server.url}/_sandbox/{PAYER}/inventory.csv").text
    return {row["claim_number"]: row for row in csv.DictReader(io.StringIO(text))}


def query(row: dict[str, str], *, use_icn: bool = True) -> ClaimQuery:
    """A ClaimQuery built the way the scheduler builds one from an inventory row."""
    return ClaimQuery(claim_number=row["claim_number"], payer_id=PAYER, member_id=row["member_id"],
                      date_of_service=date.fromisoformat(row["date_of_service"]),
                      payer_claim_number=(row["payer_claim_number"] or None) if use_icn else None,
                      billed_amount=Decimal(row["billed_amount"]))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def assert_matches_oracle(finding: ClaimStatusFinding, expected: dict) -> None:
    """Field by field against the oracle's canonical answer."""
    label = finding.claim_number
    assert finding.status_category == expected["status_category"], label
    assert finding.reference_number == expected["reference_number"], label
    on_file_icn = expected["payer_claim_number"] if expected["on_file"] else None
    assert finding.payer_claim_number == on_file_icn, label
    for name in ("billed", "allowed", "paid", "patient_responsibility"):
        assert _money(getattr(finding, name)) == expected[name], (label, name)
    assert _iso(finding.adjudication_date) == expected["adjudication_date"], label
    assert _iso(finding.payment_date) == expected["payment_date"], label
    assert finding.payment_method == expected["payment_method"], label
    assert finding.check_number == expected["check_number"], label
    assert finding.pending_reason == expected["pending_reason"], label
    assert finding.crossover_payer == expected["crossover_payer"], label
    assert finding.carc_codes == expected["carc_codes"], label
    assert finding.rarc_codes == expected["rarc_codes"], label
    adjustments = [[a.group_code, a.carc, str(a.amount)] for a in finding.adjustments]
    assert adjustments == expected["adjustments"], label
    if expected["on_file"]:
        assert [line.procedure_code for line in finding.service_lines] == expected["procedure_codes"], label
        assert [line.units for line in finding.service_lines] == expected["units"], label
        assert all(line.service_date == date.fromisoformat(expected["date_of_service"])
                   for line in finding.service_lines), label
    else:
        assert finding.service_lines == [], label


def test_login_and_payer_pick(sandbox, make_adapter):
    adapter = make_adapter(sandbox, PAYER)
    assert adapter.is_logged_in() is False
    adapter.login()
    assert adapter.page.locator("#cbWorkspace h1").inner_text() == "Lakeside Health Cooperative"
    assert adapter.page.url.split("?")[0].endswith("/claimbridge/workspace")
    assert adapter.is_logged_in() is True
    assert {"CBSESSION"} <= {c["name"] for c in adapter.session.context.cookies()}


def test_wrong_password_is_one_login_failed(fresh_sandbox, make_adapter):
    adapter = make_adapter(fresh_sandbox, PAYER, password="not-the-password")
    with pytest.raises(LoginFailed) as raised:
        adapter.login()
    assert "not-the-password" not in str(raised.value)
    stats = harness(fresh_sandbox, "stats")
    assert stats["login_attempts"] == {"harborpt": 1}
    assert stats["counters"]["login_attempts"] == 1


def test_unenrolled_payer_is_a_portal_error(fresh_sandbox, make_adapter):
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.session.credential = adapter.session.credential.model_copy(
        update={"options": {"payer_name": "Coastal Shield Benefits"}})
    with pytest.raises(PortalError) as raised:
        adapter.login()
    assert type(raised.value) is PortalError
    assert "not enrolled" in raised.value.message


def test_every_outcome_matches_the_oracle(sandbox, make_adapter):
    world = sandbox.states[PAYER].world
    expected = harness(sandbox, "oracle")["claims"]
    rows = inventory(sandbox)
    picks: list[tuple[str, bool]] = []
    for outcome in dict.fromkeys(c.outcome for c in world.claims):
        picks.append((next(c.claim_number for c in world.claims if c.outcome == outcome), True))
    # The same-day pair: one subscriber, one service date, two claims; picked by Patient Control #.
    picks += [("C310020", True), ("C310021", True)]
    assert rows["C310020"]["member_id"] == rows["C310021"]["member_id"]
    assert rows["C310020"]["date_of_service"] == rows["C310021"]["date_of_service"]
    # A multi-page walk: the oldest claim of the subscriber with the most claims sits on page 2.
    by_member: dict[str, list] = {}
    for c in world.claims:
        if c.on_file:
            by_member.setdefault(c.member.member_id, []).append(c)
    busiest = max(by_member.values(), key=len)
    assert len(busiest) > 10
    oldest = sorted(busiest, key=lambda c: (-c.date_of_service.toordinal(), c.payer_claim_number))[-1]
    picks.append((oldest.claim_number, False))

    adapter = make_adapter(sandbox, PAYER)
    adapter.login()
    for claim_number, use_icn in picks:
        before = harness(sandbox, "stats")["counters"].get("claimbridge_result_pages", 0)
        finding = adapter.check_claim_status(query(rows[claim_number], use_icn=use_icn))
        assert finding.claim_number == claim_number
        assert_matches_oracle(finding, expected[claim_number])
        if expected[claim_number]["unmapped_wording"]:
            assert finding.raw_status == "Held - Coordination Pending"
            assert finding.status_category is None
        if claim_number == oldest.claim_number:
            assert harness(sandbox, "stats")["counters"]["claimbridge_result_pages"] - before >= 2
    assert {expected[n]["status_category"] for n, _ in picks} >= {
        "A1", "A2", "P1", "P2", "P3", "R4", "F1", "F2", "F3", "F4", "A6", "A7", "D0", None}
    # An ICN the payer never issued: the portal's own no-results wording, mapped to D0.
    bogus = ClaimQuery(claim_number="C399999", payer_id=PAYER, member_id="LHC000000000",
                       date_of_service=date(2026, 1, 5), payer_claim_number="LHC99999999999")
    finding = adapter.check_claim_status(bogus)
    assert (finding.raw_status, finding.status_category) == ("0 claims found for the criteria entered.", "D0")
    assert finding.reference_number == claim_number_reference(PAYER, "LHC99999999999")


def test_captcha_stops_the_bot_without_wrong_findings(fresh_sandbox, make_adapter):
    expected = harness(fresh_sandbox, "oracle")["claims"]
    rows = inventory(fresh_sandbox)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    harness(fresh_sandbox, "captcha/2", "POST")
    findings = []
    with pytest.raises(CaptchaChallenge) as raised:
        for claim_number in list(rows)[:6]:
            findings.append(adapter.check_claim_status(query(rows[claim_number])))
    assert len(findings) == 2
    for finding in findings:
        assert_matches_oracle(finding, expected[finding.claim_number])
    assert raised.value.screenshot_path and Path(raised.value.screenshot_path).exists()
    assert harness(fresh_sandbox, "stats")["counters"]["captchas_shown"] >= 1
    # The bot never touched the captcha form: the session is still facing it.
    assert fresh_sandbox.states[PAYER].captcha_pending


def test_maintenance_flag_is_portal_unavailable(fresh_sandbox, make_adapter):
    rows = inventory(fresh_sandbox)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    harness(fresh_sandbox, "maintenance/true", "POST")
    with pytest.raises(PortalUnavailable):
        adapter.check_claim_status(query(next(iter(rows.values()))))
    with pytest.raises(PortalUnavailable):
        make_adapter(fresh_sandbox, PAYER).login()


def test_maintenance_window_is_portal_unavailable(fresh_sandbox, make_adapter):
    rows = inventory(fresh_sandbox)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    now = datetime.now(UTC)
    start, end = f"{now - timedelta(minutes=5):%H:%M}", f"{now + timedelta(minutes=20):%H:%M}"
    httpx.post(f"{fresh_sandbox.url}/claimbridge/_test/maintenance-window/{start}/{end}").raise_for_status()
    page = httpx.get(f"{fresh_sandbox.url}/claimbridge/frames/claim-search")
    assert page.status_code == 503
    assert f"Please try again after {end} UTC." in page.text
    with pytest.raises(PortalUnavailable):
        adapter.check_claim_status(query(next(iter(rows.values()))))
    with pytest.raises(PortalUnavailable):
        adapter.pull_authorizations()


def test_maintenance_or_5xx_inside_the_iframe_is_portal_unavailable(fresh_sandbox, make_adapter):
    rows = inventory(fresh_sandbox)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()

    def maintenance_starts(route):  # the workspace loaded; maintenance begins before the frame loads
        harness(fresh_sandbox, "maintenance/true", "POST")
        route.continue_()

    adapter.page.route("**/claimbridge/frames/claim-search", maintenance_starts)
    with pytest.raises(PortalUnavailable) as raised:
        adapter.check_claim_status(query(next(iter(rows.values()))))
    assert "maintenance" in raised.value.message
    adapter.page.unroute("**/claimbridge/frames/claim-search")
    harness(fresh_sandbox, "maintenance/false", "POST")
    adapter.page.route("**/claimbridge/frames/claim-search",
                       lambda route: route.fulfill(status=502, body="Bad Gateway", content_type="text/plain"))
    with pytest.raises(PortalUnavailable) as raised:
        adapter.check_claim_status(query(next(iter(rows.values()))))
    assert "502" in raised.value.message


def test_layout_v2_is_portal_changed(fresh_sandbox, make_adapter):
    rows = inventory(fresh_sandbox)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    harness(fresh_sandbox, "layout/2", "POST")
    with pytest.raises(PortalChanged):
        adapter.check_claim_status(query(next(iter(rows.values()))))


def test_idle_session_is_session_expired(fresh_sandbox, make_adapter):
    rows = inventory(fresh_sandbox)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    harness(fresh_sandbox, "session-idle/0.3", "POST")
    adapter.page.wait_for_timeout(600)
    with pytest.raises(SessionExpired):
        adapter.check_claim_status(query(next(iter(rows.values()))))
    assert "Your session expired due to inactivity." in adapter.page.content()


def test_letters_downloaded_exactly_once(fresh_sandbox, make_adapter):
    letters = harness(fresh_sandbox, "oracle")["letters"]
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    dates = sorted({letter["letter_date"] for letter in letters})
    since = date.fromisoformat(dates[len(dates) // 2])
    recent = adapter.download_correspondence(since, set())
    assert sorted(f.portal_document_id for f in recent) == sorted(
        x["letter_id"] for x in letters if x["letter_date"] >= since.isoformat())
    rest = adapter.download_correspondence(None, {f.portal_document_id for f in recent})
    found = recent + rest
    by_id = {x["letter_id"]: x for x in letters}
    assert sorted(f.portal_document_id for f in found) == sorted(by_id)  # every letter, none twice
    assert harness(fresh_sandbox, "stats")["counters"]["letter_downloads"] == len(letters)
    assert len(letters) > 15  # the walk crossed pages
    for finding in found:
        path = Path(finding.file_path)
        assert path.name == f"{finding.sha256}.pdf"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == finding.sha256
        assert finding.suggested_file_name == by_id[finding.portal_document_id]["file_name"]
        assert _iso(finding.letter_date) == by_id[finding.portal_document_id]["letter_date"]
        text = "".join(p.extract_text() for p in PdfReader(path).pages)
        assert finding.portal_document_id in text
    assert adapter.download_correspondence(None, set(by_id)) == []
    released = harness(fresh_sandbox, "release-letters", "POST")["released"]
    later = adapter.download_correspondence(None, set(by_id))
    assert sorted(f.portal_document_id for f in later) == sorted(released)
    assert harness(fresh_sandbox, "stats")["counters"]["letter_downloads"] == len(letters) + len(released)


def test_authorizations_equal_the_oracle(sandbox, make_adapter):
    expected = {a["auth_number"]: a for a in harness(sandbox, "oracle")["authorizations"]}
    adapter = make_adapter(sandbox, PAYER)
    adapter.login()
    found = adapter.pull_authorizations()
    assert sorted(a.auth_number for a in found) == sorted(expected)
    for auth in found:
        want = expected[auth.auth_number]
        assert auth.member_id == want["member_id"]
        assert auth.service == want["service"]
        assert auth.procedure_codes == want["procedure_codes"]
        assert auth.provider == want["provider"]
        assert auth.facility == want["facility"]
        assert auth.status == want["status"]
        assert auth.approved_units == want["approved_units"]
        assert auth.used_units == want["used_units"]
        assert _iso(auth.requested_date) == want["requested_date"]
        assert _iso(auth.start_date) == want["start_date"]
        assert _iso(auth.end_date) == want["end_date"]


def set_faults(server, **values) -> None:
    httpx.post(f"{server.url}/_sandbox/claimbridge/faults", json=values).raise_for_status()


@pytest.mark.parametrize(("fault", "error"), [
    ({"login_captcha": True}, CaptchaChallenge),
    ({"login_layout": 2}, PortalChanged),
    ("locked", AccountLocked),
])
def test_every_login_outcome_is_a_typed_error_after_one_attempt(fresh_sandbox, make_adapter, fault, error):
    """ClaimBridge has no MFA; captcha, an unknown sign-in page and a locked user are one attempt each."""
    state = fresh_sandbox.states["claimbridge"]
    if fault == "locked":
        state.locked.add(state.profile.username)
    else:
        set_faults(fresh_sandbox, **fault)
    adapter = make_adapter(fresh_sandbox, "claimbridge")
    with pytest.raises(error) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is error
    assert "credentials_submitted" in adapter.session.events
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/claimbridge/stats").json()
    assert stats["login_attempts"] == {state.profile.username: 1}


def test_maintenance_is_a_maintenance_window_and_5xx_is_unavailable(fresh_sandbox, make_adapter):
    set_faults(fresh_sandbox, maintenance=True)
    adapter = make_adapter(fresh_sandbox, "claimbridge")
    with pytest.raises(MaintenanceWindow):
        ensure_logged_in(adapter)
    set_faults(fresh_sandbox, maintenance=False, errors=1)
    with pytest.raises(PortalUnavailable) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is PortalUnavailable
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/claimbridge/stats").json()
    assert stats["login_attempts"] == {}


def test_cut_downloads_are_retried_and_stored_whole(fresh_sandbox, make_adapter):
    letters = httpx.get(f"{fresh_sandbox.url}/_sandbox/claimbridge/oracle").json()["letters"]
    adapter = make_adapter(fresh_sandbox, "claimbridge")
    ensure_logged_in(adapter)
    set_faults(fresh_sandbox, cut_downloads=0.3)
    found = adapter.download_correspondence(None, set())
    assert sorted(f.portal_document_id for f in found) == sorted(x["letter_id"] for x in letters)
    assert all(Path(f.file_path).read_bytes().startswith(b"%PDF-") for f in found)
    assert httpx.get(f"{fresh_sandbox.url}/_sandbox/claimbridge/stats").json()["downloads_cut"] > 0
