"""Northwind Mutual adapter against the sandbox SPA in real Chromium, checked against the sandbox oracle."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, timedelta
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
    MfaRequired,
    PortalChanged,
    PortalUnavailable,
)
from bots.findings import ClaimQuery, ClaimStatusFinding
from bots.session import ensure_logged_in
from sandbox.server import SandboxServer
from sandbox.world import search_reference

PAYER = "northwind"
UNLISTED = "On hold \u2013 other insurance"


def harness(server: SandboxServer, path: str) -> dict:
    """GET a sandbox harness endpoint for this portal."""
    return httpx.get(f"{server.url}/_sandbox/{PAYER}/{path}").json()


def switch(server: SandboxServer, path: str) -> None:
    """POST a harness (or sandbox-only portal) switch."""
    httpx.post(f"{server.url}/{path}").raise_for_status()


def inventory(server: SandboxServer) -> dict[str, ClaimQuery]:
    """The practice's claims inventory as the bot gets it (ICN only where the practice has it)."""
    text = httpx.get(f"{server.url}/_sandbox/{PAYER}/inventory.csv").text
    return {row["claim_number"]: ClaimQuery(
        claim_number=row["claim_number"], payer_id=PAYER, member_id=row["member_id"],
        date_of_service=date.fromisoformat(row["date_of_service"]),
        payer_claim_number=row["payer_claim_number"] or None, billed_amount=Decimal(row["billed_amount"]),
    ) for row in csv.DictReader(io.StringIO(text))}


def logged_in(make_adapter, server: SandboxServer, **options):
    """A fresh adapter, logged in through the e-mailed code."""
    adapter = make_adapter(server, PAYER, **options)
    adapter.login()
    return adapter


def _s(value) -> str | None:
    return None if value is None else str(value)


def assert_matches_oracle(finding: ClaimStatusFinding, truth: dict) -> None:
    """Every field a perfect bot must read, compared with the oracle."""
    assert finding.status_category == truth["status_category"]
    assert finding.reference_number == truth["reference_number"]
    if not truth["on_file"]:
        return
    assert finding.payer_claim_number == truth["payer_claim_number"]
    for name in ("billed", "allowed", "paid", "patient_responsibility"):
        assert _s(getattr(finding, name)) == truth[name], name
    assert _s(finding.adjudication_date and finding.adjudication_date.isoformat()) == truth["adjudication_date"]
    assert _s(finding.payment_date and finding.payment_date.isoformat()) == truth["payment_date"]
    assert finding.payment_method == truth["payment_method"]
    assert finding.check_number == truth["check_number"]
    assert finding.pending_reason == truth["pending_reason"]
    assert finding.crossover_payer == truth["crossover_payer"]
    assert finding.carc_codes == truth["carc_codes"]
    assert finding.rarc_codes == truth["rarc_codes"]
    assert [[a.group_code, a.carc, str(a.amount)] for a in finding.adjustments] == truth["adjustments"]
    assert [line.procedure_code for line in finding.service_lines] == truth["procedure_codes"]
    assert [line.units for line in finding.service_lines] == truth["units"]
    assert all(line.service_date == date.fromisoformat(truth["date_of_service"]) for line in finding.service_lines)


def test_manifest_and_capabilities_agree() -> None:
    from bots.registry import get_adapter

    adapter = get_adapter(PAYER)
    assert set(adapter.manifest.capabilities) == adapter.implemented_capabilities()
    assert "upload_records" not in adapter.manifest.capabilities
    assert adapter.status_map.category(UNLISTED) is None
    assert adapter.status_map.category("Paid \u2013 sent to secondary") == "F1"


def test_login_with_emailed_code_needs_no_human(fresh_sandbox, make_adapter, page) -> None:
    adapter = make_adapter(fresh_sandbox, PAYER)
    assert adapter.is_logged_in() is False
    adapter.login()
    assert adapter.is_logged_in() is True
    assert adapter.session.events == ["credentials_submitted", "one_time_code"]
    stats = harness(fresh_sandbox, "stats")
    assert stats["counters"]["codes_verified"] == 1
    assert stats["counters"]["codes_sent"] == 1
    assert sum(stats["login_attempts"].values()) == 1
    cookie = next(c for c in page.context.cookies() if c["name"] == "NWSESSION")
    assert cookie["httpOnly"] and cookie["path"] == "/northwind/"


def test_wrong_password_fails_once_and_is_not_retried(fresh_sandbox, make_adapter) -> None:
    adapter = make_adapter(fresh_sandbox, PAYER, password="not-the-password")
    with pytest.raises(LoginFailed) as caught:
        adapter.login()
    assert "not-the-password" not in str(caught.value)
    stats = harness(fresh_sandbox, "stats")
    assert sum(stats["login_attempts"].values()) == 1
    assert "codes_sent" not in stats["counters"]


def test_locked_account_and_missing_code_reader(fresh_sandbox, make_adapter) -> None:
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.session.one_time_codes = None
    with pytest.raises(MfaRequired):
        adapter.login()  # the password was right; nobody can read the e-mailed code
    state = fresh_sandbox.states[PAYER]
    state.locked.add(state.profile.username)
    with pytest.raises(AccountLocked):
        adapter.login()


def test_one_claim_of_every_outcome_matches_oracle(sandbox, make_adapter) -> None:
    truth = harness(sandbox, "oracle")["claims"]
    queries = inventory(sandbox)
    world = sandbox.states[PAYER].world
    chosen: dict[str, str] = {}
    for claim in world.claims:
        chosen.setdefault(claim.outcome, claim.claim_number)
    # Same member, same day: the member + date search lists both and the bot must pick by account.
    paired = [world.claims[20].claim_number, world.claims[21].claim_number]
    assert world.claims[20].member is world.claims[21].member
    assert len(chosen) == 16
    adapter = logged_in(make_adapter, sandbox)
    for claim_number in [*chosen.values(), *paired]:
        finding = adapter.check_claim_status(queries[claim_number])
        assert finding.claim_number == claim_number
        assert_matches_oracle(finding, truth[claim_number])
    unlisted = adapter.check_claim_status(queries[chosen["unlisted_wording"]])
    assert unlisted.raw_status == UNLISTED and unlisted.status_category is None
    assert truth[chosen["unlisted_wording"]]["unmapped_wording"] is True
    missing = adapter.check_claim_status(queries[chosen["not_found"]])
    assert missing.status_category == "D0" and missing.reference_number.startswith("SR")
    assert queries[chosen["crossover"]] and truth[chosen["crossover"]]["crossover_payer"]
    assert any(queries[n].payer_claim_number for n in chosen.values())  # both search paths were used
    assert any(queries[n].payer_claim_number is None for n in chosen.values())


def test_load_more_until_the_claim_appears(fresh_sandbox, make_adapter) -> None:
    world = fresh_sandbox.states[PAYER].world
    group = [c for c in world.claims if c.on_file][:12]
    for claim in group[1:]:  # twelve claims for one member on one day: three pages of five
        claim.member, claim.date_of_service = group[0].member, group[0].date_of_service
    target = max(group, key=lambda c: c.claim_number)
    query = inventory(fresh_sandbox)[target.claim_number].model_copy(update={"payer_claim_number": None})
    adapter = logged_in(make_adapter, fresh_sandbox)
    finding = adapter.check_claim_status(query)
    assert_matches_oracle(finding, harness(fresh_sandbox, "oracle")["claims"][target.claim_number])
    assert harness(fresh_sandbox, "stats")["counters"]["claim_pages_loaded"] == 2
    # A claim the payer never received, for the same member and day: every page is read, then D0.
    absent = query.model_copy(update={"claim_number": "C2NOSUCH"})
    missing = adapter.check_claim_status(absent)
    assert missing.status_category == "D0" and missing.payer_claim_number is None
    assert missing.reference_number == search_reference(PAYER, query.member_id, query.date_of_service)
    assert harness(fresh_sandbox, "stats")["counters"]["claim_pages_loaded"] == 4


def test_idle_modal_mid_run_does_not_break_claim_checks(fresh_sandbox, make_adapter, page) -> None:
    adapter = logged_in(make_adapter, fresh_sandbox)
    switch(fresh_sandbox, f"{PAYER}/api/_test/idle-warning/1")
    assert adapter.is_logged_in()  # reload: the SPA reads the new warning time at start-up
    page.wait_for_timeout(1_500)  # idle: the modal now covers the page before the run starts
    assert page.locator('[data-testid="session-timeout-modal"]').is_visible()
    assert "keepalives" not in harness(fresh_sandbox, "stats")["counters"]
    truth = harness(fresh_sandbox, "oracle")["claims"]
    queries = inventory(fresh_sandbox)
    numbers = [n for n, t in truth.items() if t["finalized"]][:4]
    for claim_number in numbers:
        assert_matches_oracle(adapter.check_claim_status(queries[claim_number]), truth[claim_number])
    assert harness(fresh_sandbox, "stats")["counters"]["keepalives"] >= 1


def test_redesigned_layout_is_portal_changed(fresh_sandbox, make_adapter, page) -> None:
    adapter = logged_in(make_adapter, fresh_sandbox)
    switch(fresh_sandbox, f"_sandbox/{PAYER}/layout/2")
    with pytest.raises(PortalChanged):
        adapter.is_logged_in()
    # The portal still works (the redesign renders its pages), only under new test ids.
    assert page.locator('form[data-testid^="nw2-"]').count() == 1
    assert page.locator('[data-testid="login-form"]').count() == 0


def test_maintenance_is_portal_unavailable(fresh_sandbox, make_adapter) -> None:
    adapter = logged_in(make_adapter, fresh_sandbox)
    claim = next(iter(inventory(fresh_sandbox).values()))
    switch(fresh_sandbox, f"_sandbox/{PAYER}/maintenance/true")
    with pytest.raises(PortalUnavailable):
        adapter.check_claim_status(claim)  # the form renders; the search API answers 503
    with pytest.raises(PortalUnavailable):
        adapter.is_logged_in()


def test_session_expiry_mid_run_is_session_expired(fresh_sandbox, make_adapter) -> None:
    from bots.errors import SessionExpired

    adapter = logged_in(make_adapter, fresh_sandbox)
    fresh_sandbox.states[PAYER].sessions.clear()  # the portal forgets the session
    with pytest.raises(SessionExpired):
        adapter.check_claim_status(next(iter(inventory(fresh_sandbox).values())))


def test_documents_downloaded_exactly_once(fresh_sandbox, make_adapter) -> None:
    oracle = harness(fresh_sandbox, "oracle")
    since = date.fromisoformat(oracle["today"]) - timedelta(days=7)
    expected = {x["letter_id"]: x for x in oracle["letters"] if x["letter_date"] >= since.isoformat()}
    assert len(expected) > 10  # more than one page: "Load more" is needed
    adapter = logged_in(make_adapter, fresh_sandbox)
    first = adapter.download_correspondence(since, set())
    assert sorted(f.portal_document_id for f in first) == sorted(expected)
    for finding in first:
        data = Path(finding.file_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == finding.sha256 == Path(finding.file_path).stem
        text = "".join(p.extract_text() for p in PdfReader(finding.file_path).pages)
        assert finding.portal_document_id in text
        assert finding.letter_date.isoformat() == expected[finding.portal_document_id]["letter_date"]
    assert harness(fresh_sandbox, "stats")["counters"]["documents_downloaded"] == len(expected)
    known = {f.portal_document_id for f in first}
    assert adapter.download_correspondence(since, known) == []
    released = httpx.post(f"{fresh_sandbox.url}/_sandbox/{PAYER}/release-letters").json()["released"]
    later = adapter.download_correspondence(since, known)
    assert sorted(f.portal_document_id for f in later) == sorted(released)
    assert harness(fresh_sandbox, "stats")["counters"]["documents_downloaded"] == len(expected) + len(released)


def test_authorizations_match_oracle(sandbox, make_adapter) -> None:
    truth = {a["auth_number"]: a for a in harness(sandbox, "oracle")["authorizations"]}
    found = logged_in(make_adapter, sandbox).pull_authorizations()
    assert sorted(f.auth_number for f in found) == sorted(truth)
    for finding in found:
        t = truth[finding.auth_number]
        assert finding.status == t["status"]
        assert (finding.member_id, finding.service, finding.procedure_codes) == (
            t["member_id"], t["service"], t["procedure_codes"])
        assert (finding.provider, finding.facility) == (t["provider"], t["facility"])
        assert (finding.approved_units, finding.used_units) == (t["approved_units"], t["used_units"])
        assert _s(finding.requested_date and finding.requested_date.isoformat()) == t["requested_date"]
        assert _s(finding.start_date and finding.start_date.isoformat()) == t["start_date"]
        assert _s(finding.end_date and finding.end_date.isoformat()) == t["end_date"]


def set_faults(server: SandboxServer, **values) -> None:
    httpx.post(f"{server.url}/_sandbox/{PAYER}/faults", json=values).raise_for_status()


@pytest.mark.parametrize(("fault", "error"), [
    ({"login_captcha": True}, CaptchaChallenge),
    ({"mfa_refuse": True}, MfaRequired),
    ({"login_layout": 2}, PortalChanged),
    ("locked", AccountLocked),
])
def test_every_login_outcome_is_a_typed_error_after_one_attempt(fresh_sandbox, make_adapter, fault, error):
    state = fresh_sandbox.states[PAYER]
    if fault == "locked":
        state.locked.add(state.profile.username)
    else:
        set_faults(fresh_sandbox, **fault)
    adapter = make_adapter(fresh_sandbox, PAYER)
    with pytest.raises(error) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is error
    assert "credentials_submitted" in adapter.session.events
    assert harness(fresh_sandbox, "stats")["login_attempts"] == {state.profile.username: 1}


def test_maintenance_is_a_maintenance_window_and_5xx_is_unavailable(fresh_sandbox, make_adapter) -> None:
    set_faults(fresh_sandbox, maintenance=True)
    adapter = make_adapter(fresh_sandbox, PAYER)
    with pytest.raises(MaintenanceWindow):
        ensure_logged_in(adapter)
    set_faults(fresh_sandbox, maintenance=False, errors=1)
    with pytest.raises(PortalUnavailable) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is PortalUnavailable
    assert harness(fresh_sandbox, "stats")["login_attempts"] == {}


def test_cut_downloads_are_retried_and_stored_whole(fresh_sandbox, make_adapter) -> None:
    letters = harness(fresh_sandbox, "oracle")["letters"]
    adapter = logged_in(make_adapter, fresh_sandbox)
    set_faults(fresh_sandbox, cut_downloads=0.3)
    found = adapter.download_correspondence(None, set())
    assert sorted(f.portal_document_id for f in found) == sorted(x["letter_id"] for x in letters)
    assert all(Path(f.file_path).read_bytes().startswith(b"%PDF-") for f in found)
    assert harness(fresh_sandbox, "stats")["downloads_cut"] > 0
