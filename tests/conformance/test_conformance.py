"""One conformance suite that every registered payer must pass, with no per-payer test code."""

from __future__ import annotations

import ast
import io
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pypdf
import pytest
from fpdf import FPDF

from bots.adapter import PortalAdapter
from bots.errors import LoginFailed, PortalChanged
from bots.findings import ClaimQuery, RecordsPacket
from bots.manifest import CAPABILITIES, Manifest
from bots.quality import RULE_IDS, load_exemptions, missing_submission_lookup
from bots.registry import get_adapter, payer_dirs, registry
from bots.session import ensure_logged_in

FORBIDDEN_IMPORTS = ("workqueue", "flows", "prefect", "sqlmodel", "sqlalchemy", "sandbox")


def _folder(payer_id: str) -> Path:
    return get_adapter(payer_id).package_dir


def _cases(payer_id: str) -> dict:
    path = _folder(payer_id) / "cases.toml"
    assert path.exists(), f"payers/{payer_id}/cases.toml is missing"
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _portal(payer_id: str) -> str:
    portal = get_adapter(payer_id).manifest.sandbox_portal
    assert portal, f"payers/{payer_id}: conformance against a sandbox needs manifest.sandbox_portal"
    return portal


def _query(claim_number: str, expected: dict, inventory: dict) -> ClaimQuery:
    row = inventory[claim_number]
    return ClaimQuery(claim_number=claim_number, payer_id=row["payer_id"], member_id=row["member_id"],
                      date_of_service=date.fromisoformat(row["date_of_service"]),
                      payer_claim_number=row["payer_claim_number"] or None)


def _inventory(server, portal: str) -> dict[str, dict]:
    import csv

    text = httpx.get(f"{server.url}/_sandbox/{portal}/inventory.csv").text
    return {row["claim_number"]: row for row in csv.DictReader(io.StringIO(text))}


def _logged_in(make_adapter, server, payer_id: str, **kwargs) -> PortalAdapter:
    adapter = make_adapter(server, payer_id, **kwargs)
    ensure_logged_in(adapter)
    return adapter


# -- static checks -----------------------------------------------------------------------------------------
def test_manifest_valid_and_id_unique(payer_id: str) -> None:
    manifest = Manifest.load(_folder(payer_id) / "manifest.toml")
    assert manifest.id == payer_id == _folder(payer_id).name
    ids = [Manifest.load(folder / "manifest.toml").id for folder in payer_dirs()]
    assert ids.count(payer_id) == 1


def test_declared_capabilities_match_implemented_methods(payer_id: str) -> None:
    adapter = get_adapter(payer_id)
    assert "login" in adapter.manifest.capabilities
    assert set(adapter.manifest.capabilities) == adapter.implemented_capabilities()
    assert adapter.is_logged_in is not PortalAdapter.is_logged_in, "login needs is_logged_in too"
    assert set(adapter.manifest.capabilities) <= set(CAPABILITIES)


def test_uploading_adapters_can_find_their_submissions(payer_id: str) -> None:
    """Uploads exactly once: an adapter that uploads reads the portal's submission history too."""
    adapter = get_adapter(payer_id)
    assert not missing_submission_lookup(adapter), (
        f"payers/{payer_id} declares upload_records but does not implement find_submission")


def test_adapter_imports_only_bots(payer_id: str) -> None:
    folder = _folder(payer_id)
    for path in folder.rglob("*.py"):
        if "tests" in path.relative_to(folder).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN_IMPORTS, f"{path.name} imports {name}"
                if top == "payers":
                    assert name.split(".")[1:2] == [payer_id], f"{path.name} imports another payer: {name}"


def test_quality_exemptions_are_valid(payer_id: str) -> None:
    """quality.toml holds only `[exempt]` rule-id = "reason" for known rules; the level itself is derived."""
    exemptions = load_exemptions(_folder(payer_id) / "quality.toml")
    assert set(exemptions) <= RULE_IDS and all(reason.strip() for reason in exemptions.values())


# -- against the portal ----------------------------------------------------------------------------------
def test_good_login_works(payer_id: str, fresh_sandbox, make_adapter) -> None:
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    assert adapter.is_logged_in()


def test_bad_login_raises_login_failed_after_one_attempt(payer_id: str, fresh_sandbox, make_adapter) -> None:
    adapter = make_adapter(fresh_sandbox, payer_id, password="not-the-password")
    with pytest.raises(LoginFailed):
        ensure_logged_in(adapter)
    portal = _portal(payer_id)
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/stats").json()
    username = adapter.session.credential.username
    assert stats["login_attempts"] == {username: 1}
    assert stats["locked"] == []


def test_unknown_claim_is_not_found(payer_id: str, sandbox, make_adapter) -> None:
    adapter = _logged_in(make_adapter, sandbox, payer_id)
    query = ClaimQuery(claim_number="ZZ99999", payer_id=payer_id, member_id="ZZ000000000",
                       date_of_service=date(2026, 1, 15))
    finding = adapter.check_claim_status(query)
    assert finding.status_category == "D0"
    assert finding.reference_number, "a not-found answer must carry the portal's inquiry reference"
    assert finding.paid is None and finding.payer_claim_number is None


def test_changed_layout_raises_portal_changed(payer_id: str, fresh_sandbox, make_adapter) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()
    inventory = _inventory(fresh_sandbox, portal)
    claim_number = next(c for c, o in oracle["claims"].items() if o["status_category"] == "F1")
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    httpx.post(f"{fresh_sandbox.url}/_sandbox/{portal}/layout/2").raise_for_status()
    with pytest.raises(PortalChanged):
        adapter.check_claim_status(_query(claim_number, oracle["claims"][claim_number], inventory))


def _sample_claims(oracle: dict, cases: dict) -> list[str]:
    """One claim per canonical answer (category, unmapped wording, searchable by ICN or not)."""
    wanted = cases.get("claim_status", {}).get("sample", "one-per-category")
    assert wanted == "one-per-category", f"unknown sample {wanted!r}"
    chosen: dict[tuple, str] = {}
    for claim_number, expected in oracle["claims"].items():
        chosen.setdefault((expected["status_category"], expected["unmapped_wording"]), claim_number)
    return sorted(chosen.values())


def test_claim_status_matches_cases(payer_id: str, sandbox, make_adapter) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{sandbox.url}/_sandbox/{portal}/oracle").json()
    inventory = _inventory(sandbox, portal)
    adapter = _logged_in(make_adapter, sandbox, payer_id)
    for claim_number in _sample_claims(oracle, _cases(payer_id)):
        expected = oracle["claims"][claim_number]
        finding = adapter.check_claim_status(_query(claim_number, expected, inventory))
        assert finding.claim_number == claim_number
        want_category = None if expected["unmapped_wording"] else expected["status_category"]
        assert finding.status_category == want_category, claim_number
        assert finding.raw_status, claim_number
        assert finding.reference_number == expected["reference_number"], claim_number
        for money in ("paid", "allowed", "patient_responsibility"):
            want = expected[money]
            assert getattr(finding, money) == (Decimal(want) if want is not None else None), (claim_number, money)
        if expected["on_file"]:
            assert finding.payer_claim_number == expected["payer_claim_number"]
            assert finding.carc_codes == expected["carc_codes"], claim_number
            assert finding.rarc_codes == expected["rarc_codes"], claim_number


@pytest.mark.capability("download_correspondence")
def test_correspondence_matches_cases(payer_id: str, fresh_sandbox, make_adapter) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    letters = adapter.download_correspondence(None, set())
    assert sorted(f.portal_document_id for f in letters) == sorted(x["letter_id"] for x in oracle["letters"])
    for finding in letters[:3]:
        text = pypdf.PdfReader(finding.file_path).pages[0].extract_text()
        assert finding.portal_document_id in text
    assert adapter.download_correspondence(None, {f.portal_document_id for f in letters}) == []


@pytest.mark.capability("pull_authorizations")
def test_authorizations_match_cases(payer_id: str, sandbox, make_adapter) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{sandbox.url}/_sandbox/{portal}/oracle").json()
    adapter = _logged_in(make_adapter, sandbox, payer_id)
    found = {a.auth_number: a for a in adapter.pull_authorizations()}
    assert sorted(found) == sorted(a["auth_number"] for a in oracle["authorizations"])
    for expected in oracle["authorizations"]:
        auth = found[expected["auth_number"]]
        assert (auth.status, auth.member_id, auth.approved_units, auth.used_units) == (
            expected["status"], expected["member_id"], expected["approved_units"], expected["used_units"])
        assert auth.start_date == (date.fromisoformat(expected["start_date"]) if expected["start_date"] else None)
        assert auth.end_date == (date.fromisoformat(expected["end_date"]) if expected["end_date"] else None)
        assert sorted(auth.procedure_codes) == sorted(expected["procedure_codes"])


@pytest.mark.capability("upload_records")
def test_upload_matches_cases(payer_id: str, fresh_sandbox, make_adapter, tmp_path: Path) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()
    claim_number, expected = next((c, o) for c, o in oracle["claims"].items() if o["status_category"] == "P3")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Synthetic office notes for a conformance upload")
    packet_file = tmp_path / "packet.pdf"
    packet_file.write_bytes(bytes(pdf.output()))
    import hashlib

    packet = RecordsPacket(packet_id="conformance-1", claim_number=claim_number,
                           payer_claim_number=expected["payer_claim_number"], file_path=str(packet_file),
                           sha256=hashlib.sha256(packet_file.read_bytes()).hexdigest())
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    confirmation = adapter.upload_records(packet)
    uploads = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/uploads").json()
    assert [u["confirmation_number"] for u in uploads] == [confirmation.confirmation_number]
    assert uploads[0]["sha256"] == packet.sha256 and uploads[0]["claim_number"] == expected["payer_claim_number"]
    assert registry()[payer_id] is type(adapter)
    # The portal's own submission history finds it again with the same number; an unknown packet is absent.
    found = adapter.find_submission(packet)
    assert found is not None and found.reconciled
    assert found.confirmation_number == confirmation.confirmation_number
    assert adapter.find_submission(packet.model_copy(update={"packet_id": "conformance-unknown"})) is None
