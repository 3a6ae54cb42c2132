"""Meridian adapter against the sandbox portal in real Chromium, compared with the sandbox's oracle."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pyotp
import pytest
from pypdf import PdfReader

from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    LoginFailed,
    MaintenanceWindow,
    MfaRequired,
    PortalChanged,
    PortalError,
    PortalUnavailable,
    SessionExpired,
)
from bots.findings import ClaimQuery, ClaimStatusFinding, RecordsPacket
from bots.manifest import CAPABILITIES
from bots.registry import get_adapter
from bots.session import ensure_logged_in

PAYER = "meridian"


def harness(server, path: str, method: str = "GET"):
    """A call to the sandbox harness for this portal."""
    response = httpx.request(method, f"{server.url}/_sandbox/{PAYER}/{path}")
    response.raise_for_status()
    return response


def queries(server) -> dict[str, ClaimQuery]:
    """The practice's claims inventory, as the queries a nightly run would make."""
    rows = csv.DictReader(io.StringIO(harness(server, "inventory.csv").text))
    return {row["claim_number"]: ClaimQuery(
        claim_number=row["claim_number"], payer_id=PAYER, member_id=row["member_id"],
        date_of_service=date.fromisoformat(row["date_of_service"]),
        payer_claim_number=row["payer_claim_number"] or None, billed_amount=Decimal(row["billed_amount"]),
    ) for row in rows}


def logged_in(make_adapter, server):
    """An adapter that has logged in (password + TOTP)."""
    adapter = make_adapter(server, PAYER)
    adapter.login()
    return adapter


def money(value: Decimal | None) -> str | None:
    """An amount as the oracle writes it ("12.50"), None stays None."""
    return None if value is None else str(value)


def differences(finding: ClaimStatusFinding, truth: dict) -> list[str]:
    """Every field where the finding disagrees with the oracle."""
    got = {
        "status_category": finding.status_category,
        "payer_claim_number": finding.payer_claim_number,
        "reference_number": finding.reference_number,
        "billed": money(finding.billed), "allowed": money(finding.allowed), "paid": money(finding.paid),
        "patient_responsibility": money(finding.patient_responsibility),
        "adjudication_date": finding.adjudication_date and finding.adjudication_date.isoformat(),
        "payment_method": finding.payment_method, "check_number": finding.check_number,
        "payment_date": finding.payment_date and finding.payment_date.isoformat(),
        "pending_reason": finding.pending_reason, "crossover_payer": finding.crossover_payer,
        "carc_codes": finding.carc_codes, "rarc_codes": finding.rarc_codes,
        "adjustments": [[a.group_code, a.carc, str(a.amount)] for a in finding.adjustments],
    }
    if truth["on_file"]:
        got["procedure_codes"] = [line.procedure_code for line in finding.service_lines]
        got["units"] = [line.units for line in finding.service_lines]
    return [f"{finding.claim_number}.{key}: got {value!r}, oracle {truth[key]!r}"
            for key, value in got.items() if value != truth[key]]


def test_manifest_and_status_map_agree_with_the_adapter():
    """Manifest capabilities match the code; the status map leaves the undocumented wording out."""
    adapter = get_adapter(PAYER)
    assert adapter.implemented_capabilities() == set(adapter.manifest.capabilities) == set(CAPABILITIES)
    assert adapter.manifest.mfa == "totp" and adapter.manifest.max_sessions == 2
    assert adapter.status_map.category("Paid - Crossed Over") == "F1"
    assert adapter.status_map.category("No claims match your search criteria.") == "D0"
    # the portal's undocumented wording must stay unmapped: the oracle expects an operator task
    assert adapter.status_map.category("Suspended - COB Verification") is None


def test_login_with_totp_then_session_is_live(sandbox, make_adapter):
    """Password + TOTP logs in; the remembered device skips the code next time."""
    before = harness(sandbox, "stats").json()["counters"].get("totp_verifications", 0)
    adapter = make_adapter(sandbox, PAYER)
    assert adapter.is_logged_in() is False
    adapter.login()
    assert adapter.session.events == ["credentials_submitted", "totp"]
    assert adapter.is_logged_in() is True
    assert harness(sandbox, "stats").json()["counters"]["totp_verifications"] == before + 1
    # The device is now remembered: logging in again from this context needs no code.
    adapter.page.goto(adapter.session.url("logout"))
    assert adapter.is_logged_in() is False
    remembered = harness(sandbox, "stats").json()["counters"].get("device_remembered_logins", 0)
    adapter.login()
    assert adapter.session.events == ["credentials_submitted", "totp", "credentials_submitted"]  # no 2nd code
    assert harness(sandbox, "stats").json()["counters"]["device_remembered_logins"] == remembered + 1
    assert adapter.is_logged_in() is True


def test_wrong_password_fails_once_and_is_never_retried(fresh_sandbox, make_adapter):
    """A refused password is one LoginFailed and exactly one attempt at the portal."""
    adapter = make_adapter(fresh_sandbox, PAYER, password="Wrong-Password-1!")
    with pytest.raises(LoginFailed) as caught:
        adapter.login()
    assert "Wrong-Password" not in str(caught.value) and caught.value.screenshot_path
    username = harness(fresh_sandbox, "accounts").json()[0]["username"]
    stats = harness(fresh_sandbox, "stats").json()
    assert stats["login_attempts"] == {username: 1}
    assert stats["locked"] == []
    assert adapter.session.events == ["credentials_submitted"]  # the password went once, nothing more


def test_claim_status_for_every_outcome_matches_the_oracle(sandbox, make_adapter):
    """Every outcome, searched by ICN and by member + DOS, plus same-day pairs, field by field."""
    world = sandbox.states[PAYER].world
    truth = harness(sandbox, "oracle").json()["claims"]
    inventory = queries(sandbox)
    chosen: dict[str, str] = {}  # claim number -> why
    for claim in world.claims:  # one claim per outcome searched by ICN, one searched by member + DOS
        way = "icn" if inventory[claim.claim_number].payer_claim_number else "member"
        if f"{claim.outcome}/{way}" not in chosen.values():
            chosen[claim.claim_number] = f"{claim.outcome}/{way}"
    for a, b in ((20, 21), (40, 41), (60, 61)):  # two claims, one member, one day
        for i in (a, b):
            chosen.setdefault(world.claims[i].claim_number, f"same-day/{world.claims[i].outcome}")
    outcomes = {why.split("/")[0] for why in chosen.values()}
    assert {c.outcome for c in world.claims} <= outcomes | {"same-day"}
    assert any(why.endswith("/icn") for why in chosen.values())
    assert any(why.endswith("/member") for why in chosen.values())

    adapter = logged_in(make_adapter, sandbox)
    problems: list[str] = []
    findings = {}
    for claim_number, why in chosen.items():
        finding = adapter.check_claim_status(inventory[claim_number])
        findings[claim_number] = finding
        problems += [f"[{why}] {problem}" for problem in differences(finding, truth[claim_number])]
        assert finding.provenance.raw_text.startswith(finding.raw_status)  # not on file: + the reference
        assert "?" not in finding.provenance.url
    assert problems == []

    unlisted = next(c for c in world.claims if c.outcome == "unlisted_wording").claim_number
    assert truth[unlisted]["unmapped_wording"] is True
    assert findings[unlisted].status_category is None
    assert findings[unlisted].raw_status == "Suspended - COB Verification"
    same_day_missing = world.claims[21]
    assert same_day_missing.outcome == "not_found"  # seed 7: the other visit that day is on file
    assert findings[same_day_missing.claim_number].status_category == "D0"
    paid = next(n for n, why in chosen.items() if why == "paid/icn")
    lines = world.claim(paid).lines
    assert [(line.billed, line.paid) for line in findings[paid].service_lines] == \
           [(line.billed, line.paid) for line in lines]


def test_layout_change_raises_portal_changed(fresh_sandbox, make_adapter):
    """After the layout switch the adapter raises PortalChanged instead of returning data."""
    world = fresh_sandbox.states[PAYER].world
    inventory = queries(fresh_sandbox)
    adapter = logged_in(make_adapter, fresh_sandbox)
    on_file = next(c for c in world.claims if c.outcome == "paid")
    missing = next(c for c in world.claims if c.outcome == "not_found")
    assert adapter.check_claim_status(inventory[on_file.claim_number]).status_category == "F1"
    harness(fresh_sandbox, "layout/2", "POST")
    for claim in (on_file, missing):
        with pytest.raises(PortalChanged):
            adapter.check_claim_status(inventory[claim.claim_number])


def test_maintenance_raises_portal_unavailable(fresh_sandbox, make_adapter):
    """The maintenance page is a transient PortalUnavailable, mid-run and at login."""
    world = fresh_sandbox.states[PAYER].world
    adapter = logged_in(make_adapter, fresh_sandbox)
    harness(fresh_sandbox, "maintenance/true", "POST")
    with pytest.raises(PortalUnavailable) as caught:
        adapter.check_claim_status(queries(fresh_sandbox)[world.claims[0].claim_number])
    assert caught.value.transient
    with pytest.raises(PortalUnavailable):
        adapter.login()


def test_session_timeout_mid_run_raises_session_expired(fresh_sandbox, make_adapter):
    """A redirect to the login page mid-run is SessionExpired."""
    adapter = logged_in(make_adapter, fresh_sandbox)
    harness(fresh_sandbox, "session-idle/0", "POST")
    with pytest.raises(SessionExpired):
        adapter.check_claim_status(next(iter(queries(fresh_sandbox).values())))


def test_download_correspondence_gets_every_letter_once(fresh_sandbox, make_adapter):
    """Every visible letter once, as a hashed PDF; known ids are skipped; the date filter works."""
    letters = harness(fresh_sandbox, "oracle").json()["letters"]
    adapter = logged_in(make_adapter, fresh_sandbox)
    found = adapter.download_correspondence(None, set())
    assert sorted(f.portal_document_id for f in found) == sorted(x["letter_id"] for x in letters)
    assert len(letters) > 20  # more than one page
    by_id = {x["letter_id"]: x for x in letters}
    download_dir = adapter.session.download_dir
    for finding in found:
        path = Path(finding.file_path)
        data = path.read_bytes()
        assert path.parent == download_dir and path.name == f"{finding.sha256}.pdf"
        assert hashlib.sha256(data).hexdigest() == finding.sha256
        assert finding.portal_document_id in PdfReader(path).pages[0].extract_text()
        assert finding.letter_date.isoformat() == by_id[finding.portal_document_id]["letter_date"]
        assert finding.suggested_file_name
    assert adapter.download_correspondence(None, {x["letter_id"] for x in letters}) == []

    since = date.fromisoformat(harness(fresh_sandbox, "oracle").json()["today"]) - timedelta(days=4)
    recent = adapter.download_correspondence(since, set())
    assert sorted(f.portal_document_id for f in recent) == \
           sorted(x["letter_id"] for x in letters if date.fromisoformat(x["letter_date"]) >= since)
    assert 0 < len(recent) < len(letters)


def test_upload_records_confirms_flags_duplicates_and_refuses_non_pdf(fresh_sandbox, make_adapter, tmp_path):
    """Upload confirmation matches the portal's record; duplicates flagged; non-PDF refused, nothing filed."""
    world = fresh_sandbox.states[PAYER].world
    claim = next(c for c in world.claims if c.outcome == "pended_records")
    pdf = tmp_path / "records.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% synthetic office notes\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    packet = RecordsPacket(packet_id="PKT-1", claim_number=claim.claim_number,
                           payer_claim_number=claim.payer_claim_number, file_path=str(pdf), sha256=sha)
    adapter = logged_in(make_adapter, fresh_sandbox)

    first = adapter.upload_records(packet)
    uploads = harness(fresh_sandbox, "uploads").json()
    assert [u["confirmation_number"] for u in uploads] == [first.confirmation_number]
    assert uploads[0]["claim_number"] == claim.payer_claim_number and uploads[0]["sha256"] == sha
    assert uploads[0]["document_type"] == "Medical Records"
    assert first.duplicate_flagged is False and first.packet_id == "PKT-1"
    assert first.provenance.screenshot_sha256 and Path(first.provenance.screenshot_path).exists()

    second = adapter.upload_records(packet)
    uploads = harness(fresh_sandbox, "uploads").json()
    assert second.duplicate_flagged is True
    assert uploads[1]["confirmation_number"] == second.confirmation_number
    assert uploads[1]["duplicate_of"] == first.confirmation_number

    notes = tmp_path / "notes.txt"
    notes.write_text("not a pdf")
    bad = packet.model_copy(update={"packet_id": "PKT-2", "file_path": str(notes)})
    with pytest.raises(PortalError) as caught:
        adapter.upload_records(bad)
    assert type(caught.value) is PortalError and "Only PDF" in caught.value.message
    assert len(harness(fresh_sandbox, "uploads").json()) == 2


def test_pull_authorizations_matches_the_oracle(sandbox, make_adapter):
    """Every authorization across the pages equals the oracle's, field by field."""
    truth = harness(sandbox, "oracle").json()["authorizations"]
    adapter = logged_in(make_adapter, sandbox)
    found = adapter.pull_authorizations()
    assert len(truth) > 10  # more than one page
    got = [{
        "auth_number": a.auth_number, "member_id": a.member_id, "service": a.service,
        "procedure_codes": a.procedure_codes, "provider": a.provider, "facility": a.facility,
        "status": a.status, "approved_units": a.approved_units, "used_units": a.used_units,
        "requested_date": a.requested_date.isoformat(), "start_date": a.start_date and a.start_date.isoformat(),
        "end_date": a.end_date and a.end_date.isoformat(),
    } for a in found]
    assert got == truth
    assert {a.raw_status for a in found} <= {"Approved", "Pending Review", "Denied", "Partially Approved"}


def test_portal_refuses_forms_without_the_session_token(sandbox):
    """The portal itself: a POST with a wrong CSRF token is refused with 403 (what real portals do)."""
    account = harness(sandbox, "accounts").json()[0]
    base = sandbox.portal_url(PAYER)
    with httpx.Client(base_url=base, follow_redirects=True) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("login").text)[1]
        page = client.post("login", data={"csrf_token": token, "userid": account["username"],
                                          "password": account["password"]})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        home = client.post("mfa", data={"csrf_token": token, "code": pyotp.TOTP(account["totp_seed"]).now()})
        assert "Log out" in home.text
        refused = client.post("claims/search", data={"csrf_token": "forged", "search_type": "icn", "icn": "X"})
        assert refused.status_code == 403 and "Invalid or expired request token." in refused.text


def set_faults(server, **values) -> dict:
    """Switch sandbox faults for this portal (POST /_sandbox/meridian/faults)."""
    response = httpx.post(f"{server.url}/_sandbox/{PAYER}/faults", json=values)
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize(("fault", "error"), [
    ({"login_captcha": True}, CaptchaChallenge),
    ({"mfa_refuse": True}, MfaRequired),
    ({"login_layout": 2}, PortalChanged),
    ("locked", AccountLocked),
])
def test_every_login_outcome_is_a_typed_error_after_one_attempt(fresh_sandbox, make_adapter, fault, error):
    """Captcha at login, refused code, an unknown sign-in page, a locked account: one attempt, a typed error."""
    username = harness(fresh_sandbox, "accounts").json()[0]["username"]
    if fault == "locked":
        fresh_sandbox.states[PAYER].locked.add(username)
    else:
        set_faults(fresh_sandbox, **fault)
    adapter = make_adapter(fresh_sandbox, PAYER)
    with pytest.raises(error) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is error and caught.value.screenshot_path
    assert "credentials_submitted" in adapter.session.events
    assert harness(fresh_sandbox, "stats").json()["login_attempts"] == {username: 1}


def test_maintenance_at_login_is_a_maintenance_window_and_5xx_is_unavailable(fresh_sandbox, make_adapter):
    """Neither posts the credentials: no login attempt is counted."""
    set_faults(fresh_sandbox, maintenance=True)
    adapter = make_adapter(fresh_sandbox, PAYER)
    with pytest.raises(MaintenanceWindow):
        ensure_logged_in(adapter)
    set_faults(fresh_sandbox, maintenance=False, errors=1)
    with pytest.raises(PortalUnavailable) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is PortalUnavailable and caught.value.transient
    assert "credentials_submitted" not in adapter.session.events
    assert harness(fresh_sandbox, "stats").json()["login_attempts"] == {}


def test_5xx_after_a_form_post_is_portal_unavailable(fresh_sandbox, make_adapter):
    """A 5xx answering a submitted search is transient, never PortalChanged."""
    world = fresh_sandbox.states[PAYER].world
    adapter = logged_in(make_adapter, fresh_sandbox)
    adapter.goto(adapter.session.url("claims/search"))
    set_faults(fresh_sandbox, errors=1)
    with pytest.raises(PortalUnavailable) as caught:
        adapter.check_claim_status(queries(fresh_sandbox)[world.claims[0].claim_number])
    assert type(caught.value) is PortalUnavailable


def test_cut_downloads_are_retried_and_each_letter_stored_once(fresh_sandbox, make_adapter, tmp_path):
    """Half the downloads cut short: every letter still arrives whole, once, and no browser copy is left."""
    letters = harness(fresh_sandbox, "oracle").json()["letters"]
    adapter = logged_in(make_adapter, fresh_sandbox)
    set_faults(fresh_sandbox, cut_downloads=0.3)
    found = adapter.download_correspondence(None, set())
    assert sorted(f.portal_document_id for f in found) == sorted(x["letter_id"] for x in letters)
    for finding in found:
        data = Path(finding.file_path).read_bytes()
        assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == finding.sha256
    stats = harness(fresh_sandbox, "stats").json()
    assert stats["downloads_cut"] > 0
    stored = list((tmp_path / "downloads").iterdir())
    assert sorted(p.name for p in stored) == sorted({f"{f.sha256}.pdf" for f in found})


def test_find_submission_reads_the_attachment_history(fresh_sandbox, make_adapter, tmp_path):
    """After an upload the history has it with the same confirmation number; an unknown packet is None."""
    state = fresh_sandbox.states[PAYER]
    claim = next(c for c in state.world.claims if c.outcome == "pended_records")
    pdf = tmp_path / "records.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% synthetic office notes\n%%EOF\n")
    packet = RecordsPacket(packet_id="PKT-77", claim_number=claim.claim_number,
                           payer_claim_number=claim.payer_claim_number, file_path=str(pdf),
                           sha256=hashlib.sha256(pdf.read_bytes()).hexdigest())
    adapter = logged_in(make_adapter, fresh_sandbox)
    assert adapter.find_submission(packet) is None  # nothing sent yet
    sent = adapter.upload_records(packet)
    assert harness(fresh_sandbox, "uploads").json()[0]["file_name"] == "PKT-77.pdf"
    username = harness(fresh_sandbox, "accounts").json()[0]["username"]
    for n in range(12):  # later attachments push ours onto the second history page
        state.record_upload(claim.payer_claim_number, "Other", f"PKT-{n}.pdf", "0" * 64, 10, username=username)

    found = adapter.find_submission(packet)
    assert found is not None and found.reconciled is True
    assert found.confirmation_number == sent.confirmation_number and found.packet_id == "PKT-77"
    assert found.provenance.screenshot_path and Path(found.provenance.screenshot_path).exists()
    assert adapter.find_submission(packet.model_copy(update={"packet_id": "PKT-404"})) is None
    other_claim = packet.model_copy(update={"payer_claim_number": "NOPE123"})
    assert adapter.find_submission(other_claim) is None
