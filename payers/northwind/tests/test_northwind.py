"""Northwind Mutual's quirks in real Chromium: e-mailed code, "Load more" result cards, the idle modal.

Everything every payer must do (login faults, claims, letters and authorizations against the oracle,
not found, layout change, maintenance, session expiry) is checked by tests/conformance.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import httpx

from bots.findings import ClaimQuery
from sandbox.server import SandboxServer
from sandbox.world import search_reference
from tests.conformance.oracle import claim_differences

PAYER = "northwind"


def harness(server: SandboxServer, path: str) -> dict:
    """GET a sandbox harness endpoint for this portal."""
    return httpx.get(f"{server.url}/_sandbox/{PAYER}/{path}").json()


def counters(server: SandboxServer) -> dict:
    """The portal's request counters (searches, pages loaded, codes sent, keepalives)."""
    return harness(server, "stats")["counters"]


def inventory(server: SandboxServer) -> dict[str, ClaimQuery]:
    """The practice's claims inventory as the bot gets it (ICN only where the practice has it)."""
    text = httpx.get(f"{server.url}/_sandbox/{PAYER}/inventory.csv").text
    return {row["claim_number"]: ClaimQuery(
        claim_number=row["claim_number"], payer_id=PAYER, member_id=row["member_id"],
        date_of_service=date.fromisoformat(row["date_of_service"]),
        payer_claim_number=row["payer_claim_number"] or None,
    ) for row in csv.DictReader(io.StringIO(text))}


def test_login_with_emailed_code_needs_no_human(fresh_sandbox, make_adapter, page) -> None:
    adapter = make_adapter(fresh_sandbox, PAYER)
    assert adapter.is_logged_in() is False
    adapter.login()  # the code arrives in the account's mailbox; the code reader hands it over
    assert adapter.is_logged_in() is True
    assert adapter.session.events == ["credentials_submitted", "one_time_code"]
    assert (counters(fresh_sandbox)["codes_sent"], counters(fresh_sandbox)["codes_verified"]) == (1, 1)
    assert sum(harness(fresh_sandbox, "stats")["login_attempts"].values()) == 1
    cookie = next(c for c in page.context.cookies() if c["name"] == "NWSESSION")
    assert cookie["httpOnly"] and cookie["path"] == "/northwind/"


def test_load_more_until_the_claim_appears(fresh_sandbox, make_adapter) -> None:
    world = fresh_sandbox.states[PAYER].world
    group = [c for c in world.claims if c.on_file][:12]
    for claim in group[1:]:  # twelve claims for one member on one day: three pages of five
        claim.member, claim.date_of_service = group[0].member, group[0].date_of_service
    target = max(group, key=lambda c: c.claim_number)
    query = inventory(fresh_sandbox)[target.claim_number].model_copy(update={"payer_claim_number": None})
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    finding = adapter.check_claim_status(query)
    assert claim_differences(finding, harness(fresh_sandbox, "oracle")["claims"][target.claim_number]) == []
    assert counters(fresh_sandbox)["claim_pages_loaded"] == 2
    # A claim the payer never received, for the same member and day: every page is read, then D0.
    missing = adapter.check_claim_status(query.model_copy(update={"claim_number": "C2NOSUCH"}))
    assert missing.status_category == "D0" and missing.payer_claim_number is None
    assert missing.reference_number == search_reference(PAYER, query.member_id, query.date_of_service)
    assert counters(fresh_sandbox)["claim_pages_loaded"] == 4


def test_idle_modal_mid_run_does_not_break_claim_checks(fresh_sandbox, make_adapter, page) -> None:
    """The idle modal over the page: the kit closes it for the page steps; the JSON path never needs the page."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    httpx.post(f"{fresh_sandbox.url}/{PAYER}/api/_test/idle-warning/1").raise_for_status()
    assert adapter.is_logged_in()  # reload: the SPA reads the new warning time at start-up
    page.wait_for_timeout(1_500)  # idle: the modal now covers the page before the run starts
    modal = page.locator('[data-testid="session-timeout-modal"]')
    assert modal.is_visible()
    assert "keepalives" not in counters(fresh_sandbox)
    truth, queries = harness(fresh_sandbox, "oracle")["claims"], inventory(fresh_sandbox)
    finalized = [n for n, t in truth.items() if t["finalized"]][:4]
    # The rendered search (the DOM path, still selectable): the modal blocks every click until the kit
    # answers "Stay signed in", which the portal counts as a keepalive.
    adapter.claims_from = "page"
    for claim_number in finalized:
        assert claim_differences(adapter.check_claim_status(queries[claim_number]), truth[claim_number]) == []
    assert counters(fresh_sandbox)["keepalives"] >= 1
    # The JSON path (the default) under the modal again: right answers, and the page is left as it was.
    page.wait_for_timeout(1_500)
    assert modal.is_visible()
    keepalives = counters(fresh_sandbox)["keepalives"]
    adapter.claims_from = "api"
    for claim_number in finalized:
        assert claim_differences(adapter.check_claim_status(queries[claim_number]), truth[claim_number]) == []
    assert modal.is_visible() and counters(fresh_sandbox)["keepalives"] == keepalives


def test_claim_status_reads_the_portals_json_not_its_pages(fresh_sandbox, make_adapter, page) -> None:
    """By default a claim check is two API answers (search, detail): no page loads, same finding as the page."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    truth, queries = harness(fresh_sandbox, "oracle")["claims"], inventory(fresh_sandbox)
    claim_number = next(n for n, t in truth.items() if t["finalized"] and queries[n].payer_claim_number)
    url = page.url
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    found = adapter.check_claim_status(queries[claim_number])
    assert claim_differences(found, truth[claim_number]) == [] and loads == [] and page.url == url
    assert found.provenance.url.endswith(f"/{PAYER}/api/claims/{found.payer_claim_number}")
    assert found.provenance.raw_text == found.raw_status  # the portal's own status words
    assert found.provenance.screenshot_path is None  # an API answer has no page to screenshot
    adapter.claims_from = "page"
    in_page = adapter.check_claim_status(queries[claim_number])
    assert found.model_dump(exclude={"provenance"}) == in_page.model_dump(exclude={"provenance"})


def test_pages_of_one_session_check_claims_side_by_side(fresh_sandbox, make_adapter) -> None:
    """Three pages of the one logged-in session check at once: oracle answers, one session, each claim once."""
    from bots.session_pages import check_side_by_side

    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    truth, queries = harness(fresh_sandbox, "oracle")["claims"], inventory(fresh_sandbox)
    claims = [queries[n] for n in sorted(truth) if truth[n]["on_file"]][:9]
    httpx.post(f"{fresh_sandbox.url}/_sandbox/{PAYER}/reset_stats")
    fresh_sandbox.states[PAYER].faults.latency_ms = 50  # a real portal's wait, so the pages overlap
    results = check_side_by_side(adapter, claims, 3)
    assert sorted(results) == sorted(c.claim_number for c in claims)
    for number, found in results.items():
        assert not isinstance(found, BaseException), (number, found)
        assert claim_differences(found, truth[number]) == [], number
    stats = harness(fresh_sandbox, "stats")
    assert sum(stats["login_attempts"].values()) == 0  # counted since the reset: nobody signed in again
    assert stats["sessions_in_use_peak"] == 1 and stats["live_sessions"] == 1  # one session, one login
    assert stats["requests_of_one_session_in_flight_peak"] >= 2  # its pages were in flight together
    assert (stats["claims_looked_up"], stats["claims_looked_up_twice"]) == (len(claims), 0)
