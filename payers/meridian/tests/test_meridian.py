"""Meridian's quirks against its sandbox portal (the shared checks are in tests/conformance/)."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from pathlib import Path

import httpx
import pytest

from bots.errors import PortalError
from bots.findings import ClaimQuery, RecordsPacket
from tests.conformance.oracle import claim_differences

PAYER = "meridian"


def harness(server, path: str):
    """A read of the sandbox harness for this portal."""
    return httpx.get(f"{server.url}/_sandbox/{PAYER}/{path}").raise_for_status().json()


def packet_for(server, tmp_path: Path, packet_id: str = "PKT-1") -> RecordsPacket:
    """A records packet (a small real PDF) for a claim pended for records."""
    claim = next(c for c in server.states[PAYER].world.claims if c.outcome == "pended_records")
    pdf = tmp_path / f"{packet_id}.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% synthetic office notes\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
    return RecordsPacket(packet_id=packet_id, claim_number=claim.claim_number, file_path=str(pdf),
                         payer_claim_number=claim.payer_claim_number,
                         sha256=hashlib.sha256(pdf.read_bytes()).hexdigest())


def test_remembered_device_signs_in_again_without_a_code(sandbox, make_adapter):
    """Password + TOTP with "remember this device" (manifest trusted_device): the next sign-in needs no code."""
    adapter = make_adapter(sandbox, PAYER)
    adapter.login()
    assert adapter.session.events == ["credentials_submitted", "totp"]
    adapter.page.goto(adapter.session.url("logout"))
    assert adapter.is_logged_in() is False
    remembered = harness(sandbox, "stats")["counters"].get("device_remembered_logins", 0)
    adapter.login()
    assert adapter.session.events == ["credentials_submitted", "totp", "credentials_submitted"]  # no 2nd code
    assert harness(sandbox, "stats")["counters"]["device_remembered_logins"] == remembered + 1


def test_upload_flags_a_duplicate_and_refuses_a_non_pdf(fresh_sandbox, make_adapter, tmp_path):
    """The portal's duplicate warning is kept on the confirmation; a non-PDF is refused and nothing filed."""
    packet = packet_for(fresh_sandbox, tmp_path)
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    first, second = adapter.upload_records(packet), adapter.upload_records(packet)
    uploads = harness(fresh_sandbox, "uploads")
    assert uploads[0]["document_type"] == "Medical Records" and first.duplicate_flagged is False
    assert second.duplicate_flagged is True and uploads[1]["duplicate_of"] == first.confirmation_number
    assert "duplicate" in second.provenance.raw_text.lower() and Path(second.provenance.screenshot_path).exists()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a pdf")
    with pytest.raises(PortalError) as caught:
        adapter.upload_records(packet.model_copy(update={"packet_id": "PKT-2", "file_path": str(notes)}))
    assert type(caught.value) is PortalError and "Only PDF" in caught.value.message
    assert len(harness(fresh_sandbox, "uploads")) == 2


def test_find_submission_walks_the_history_pages(fresh_sandbox, make_adapter, tmp_path):
    """Ours is found on the history's second page by file name and claim; another claim's is not ours."""
    state, packet = fresh_sandbox.states[PAYER], packet_for(fresh_sandbox, tmp_path, "PKT-77")
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    sent = adapter.upload_records(packet)
    username = harness(fresh_sandbox, "accounts")[0]["username"]
    for n in range(12):  # later attachments push ours onto the second history page
        state.record_upload(packet.payer_claim_number, "Other", f"PKT-{n}.pdf", "0" * 64, 10, username=username)
    found = adapter.find_submission(packet)
    assert found is not None and found.reconciled and found.confirmation_number == sent.confirmation_number
    assert adapter.find_submission(packet.model_copy(update={"payer_claim_number": "NOPE123"})) is None



def inventory(server) -> dict[str, ClaimQuery]:
    """The practice's claims inventory as the bot gets it (ICN only where the practice has it)."""
    text = httpx.get(f"{server.url}/_sandbox/{PAYER}/inventory.csv").text
    return {row["claim_number"]: ClaimQuery(
        claim_number=row["claim_number"], payer_id=PAYER, member_id=row["member_id"],
        date_of_service=date.fromisoformat(row["date_of_service"]),
        payer_claim_number=row["payer_claim_number"] or None,
    ) for row in csv.DictReader(io.StringIO(text))}


def test_claim_status_is_read_from_the_fetched_pages_not_the_tab(fresh_sandbox, make_adapter, page):
    """With claims_from='html' a check fetches and parses the pages: nothing loads in the tab, same findings."""
    adapter = make_adapter(fresh_sandbox, PAYER)
    adapter.login()
    adapter.claims_from = "html"
    truth, queries = harness(fresh_sandbox, "oracle")["claims"], inventory(fresh_sandbox)
    by_icn = [n for n, q in queries.items() if q.payer_claim_number and truth[n]["finalized"]][:3]
    by_member = [n for n, q in queries.items() if not q.payer_claim_number][:3]
    assert len(by_icn) == 3 and len(by_member) == 3
    url, loads = page.url, []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    fetched = {}
    for number in by_icn + by_member:
        fetched[number] = adapter.check_claim_status(queries[number])
        assert claim_differences(fetched[number], truth[number]) == [], number
    assert loads == [] and page.url == url
    found = fetched[by_icn[0]]
    assert found.provenance.url.endswith(f"/{PAYER}/claims/{found.payer_claim_number}")
    assert found.provenance.raw_text == found.raw_status and found.provenance.screenshot_path is None
    adapter.claims_from = "page"  # the rendered path, still selectable, reads the same
    for number in by_icn + by_member:
        in_page = adapter.check_claim_status(queries[number])
        assert in_page.model_dump(exclude={"provenance"}) == fetched[number].model_dump(exclude={"provenance"})
    assert loads != []
