"""One conformance suite that every registered payer must pass, with no per-payer test code."""

from __future__ import annotations

import ast
import hashlib
import io
from datetime import date, timedelta
from pathlib import Path

import httpx
import pypdf
import pytest
from fpdf import FPDF

from bots.adapter import PortalAdapter
from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    LoginFailed,
    MaintenanceWindow,
    MfaRequired,
    PortalChanged,
    PortalUnavailable,
    SessionExpired,
)
from bots.findings import ClaimQuery, RecordsPacket
from bots.manifest import CAPABILITIES, Manifest
from bots.quality import RULE_IDS, load_exemptions, missing_submission_lookup
from bots.registry import get_adapter, payer_dirs, registry
from bots.session import ensure_logged_in
from tests.conformance.oracle import authorization_differences, claim_differences

FORBIDDEN_IMPORTS = ("workqueue", "flows", "prefect", "sqlmodel", "sqlalchemy", "sandbox")


def _folder(payer_id: str) -> Path:
    return get_adapter(payer_id).package_dir


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
    adapter.downloads_at_once = adapter.manifest.downloads_per_session  # letters go as the night fetches them
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
    # a declared sign-in form gives both; an adapter that signs in by hand needs is_logged_in too
    assert adapter.login_form is not None or adapter.is_logged_in is not PortalAdapter.is_logged_in, \
        "login needs is_logged_in too"
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


def test_letter_wording_is_valid(payer_id: str) -> None:
    """The payer's letters.toml (if any) loads: every pattern compiles with one group, every key is known."""
    from workqueue.letters import load_letter_wording

    wording = load_letter_wording(_folder(payer_id))  # raises LetterWordingError naming the file and key
    assert wording.types, "letter types come from the shared defaults at least"


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
    # the evidence is the portal's own words and the reference it gave
    assert finding.raw_status in finding.provenance.raw_text and finding.reference_number in finding.provenance.raw_text


def test_changed_layout_raises_portal_changed(payer_id: str, fresh_sandbox, make_adapter) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()
    inventory = _inventory(fresh_sandbox, portal)
    claim_number = next(c for c, o in oracle["claims"].items() if o["status_category"] == "F1")
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    httpx.post(f"{fresh_sandbox.url}/_sandbox/{portal}/layout/2").raise_for_status()
    with pytest.raises(PortalChanged):
        adapter.check_claim_status(_query(claim_number, oracle["claims"][claim_number], inventory))


def _sample_claims(server, portal: str, inventory: dict) -> dict[str, str]:
    """claim number -> why: one claim per outcome searched by ICN, one by member + date, same-day pairs."""
    world = server.states[portal].world
    chosen: dict[str, str] = {}
    for claim in world.claims:
        way = "icn" if inventory[claim.claim_number]["payer_claim_number"] else "member"
        if f"{claim.outcome}/{way}" not in chosen.values():
            chosen[claim.claim_number] = f"{claim.outcome}/{way}"
    by_day: dict[tuple, list[str]] = {}
    for claim in world.claims:  # two claims, one member, one day: the search lists both
        by_day.setdefault((claim.member.member_id, claim.date_of_service), []).append(claim.claim_number)
    for pair in [numbers for numbers in by_day.values() if len(numbers) > 1][:2]:
        for number in pair:
            chosen.setdefault(number, "same-day")
    assert any(why.endswith("/icn") for why in chosen.values())
    assert any(why.endswith("/member") for why in chosen.values())
    return chosen


def test_claim_status_matches_cases(payer_id: str, sandbox, make_adapter) -> None:
    """Every outcome, by ICN and by member + date of service, equals the oracle in every field it knows."""
    portal = _portal(payer_id)
    oracle = httpx.get(f"{sandbox.url}/_sandbox/{portal}/oracle").json()
    inventory = _inventory(sandbox, portal)
    adapter = _logged_in(make_adapter, sandbox, payer_id)
    logins = httpx.get(f"{sandbox.url}/_sandbox/{portal}/stats").json()["counters"]["login_attempts"]
    problems: list[str] = []
    sample = _sample_claims(sandbox, portal, inventory)
    for n, (claim_number, why) in enumerate(sample.items()):
        if n == len(sample) // 2:  # the second half in a fresh tab of the same session, as long nights do
            old = adapter.page
            adapter.fresh_tab()
            assert old.is_closed() and adapter.page is not old
        expected = oracle["claims"][claim_number]
        finding = adapter.check_claim_status(_query(claim_number, expected, inventory))
        assert finding.claim_number == claim_number and finding.raw_status, claim_number
        problems += [f"[{why}] {problem}" for problem in claim_differences(finding, expected)]
        # the evidence is the portal's own words; no query string (it can carry member ids)
        assert finding.provenance.raw_text and finding.raw_status in finding.provenance.raw_text
        assert "?" not in finding.provenance.url
        if not expected["on_file"]:  # the not-on-file answer carries the search's reference
            assert finding.reference_number in finding.provenance.raw_text
    assert problems == []
    # the fresh tab signed nothing in: the login lives in the context
    assert httpx.get(f"{sandbox.url}/_sandbox/{portal}/stats").json()["counters"]["login_attempts"] == logins


def _login_problems(adapter: type[PortalAdapter]) -> dict[str, tuple]:
    """The sign-in problems a payer's portal can show (a refused code only where it asks for one)."""
    cases = {"captcha": ({"login_captcha": True}, CaptchaChallenge), "new-page": ({"login_layout": 2}, PortalChanged),
             "locked": ("locked", AccountLocked)}
    if adapter.manifest.mfa != "none":
        cases["mfa-refused"] = ({"mfa_refuse": True}, MfaRequired)
    return cases


@pytest.mark.per_payer_cases(("fault", "error"), _login_problems)
def test_login_problems_are_typed_errors_after_one_attempt(payer_id: str, fresh_sandbox, make_adapter,
                                                           fault, error) -> None:
    """A captcha at login, a refused code, an unknown sign-in page, a locked account: one attempt, typed."""
    portal = _portal(payer_id)
    username = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/accounts").json()[0]["username"]
    if fault == "locked":
        fresh_sandbox.states[portal].locked.add(username)
    else:
        httpx.post(f"{fresh_sandbox.url}/_sandbox/{portal}/faults", json=fault).raise_for_status()
    adapter = make_adapter(fresh_sandbox, payer_id)
    with pytest.raises(error) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is error and caught.value.during_login and caught.value.screenshot_path
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/stats").json()
    assert stats["login_attempts"] == {username: 1}


def test_maintenance_or_5xx_at_login_sends_no_password(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """The maintenance page is a MaintenanceWindow, a 5xx a plain PortalUnavailable: no login attempt counted."""
    portal = _portal(payer_id)
    faults = f"{fresh_sandbox.url}/_sandbox/{portal}/faults"
    httpx.post(faults, json={"maintenance": True}).raise_for_status()
    adapter = make_adapter(fresh_sandbox, payer_id)
    with pytest.raises(MaintenanceWindow):
        ensure_logged_in(adapter)
    httpx.post(faults, json={"maintenance": False, "errors": 1}).raise_for_status()
    with pytest.raises(PortalUnavailable) as caught:
        ensure_logged_in(adapter)
    assert type(caught.value) is PortalUnavailable and caught.value.transient
    assert "credentials_submitted" not in adapter.session.events
    assert httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/stats").json()["login_attempts"] == {}


def test_session_ended_mid_run_is_session_expired(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """The portal ending the session mid-run is SessionExpired (the runner signs in again once)."""
    portal = _portal(payer_id)
    inventory = _inventory(fresh_sandbox, portal)
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    httpx.post(f"{fresh_sandbox.url}/_sandbox/{portal}/session-idle/0").raise_for_status()
    claim_number = next(iter(inventory))
    with pytest.raises(SessionExpired):
        adapter.check_claim_status(_query(claim_number, {}, inventory))


@pytest.mark.capability("download_correspondence")
def test_correspondence_matches_cases(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """Every letter once, a whole PDF named by its hash, dated as the oracle says; known ids and `since` skip."""
    portal = _portal(payer_id)
    oracle = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    letters = adapter.download_correspondence(None, set())
    truth = {x["letter_id"]: x for x in oracle["letters"]}
    assert sorted(f.portal_document_id for f in letters) == sorted(truth)
    for finding in letters:
        path = Path(finding.file_path)
        assert path.parent == adapter.session.download_dir and path.name == f"{finding.sha256}.pdf"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == finding.sha256
        assert finding.letter_date.isoformat() == truth[finding.portal_document_id]["letter_date"]
    for finding in letters[:3]:
        assert finding.portal_document_id in pypdf.PdfReader(finding.file_path).pages[0].extract_text()
    assert adapter.download_correspondence(None, set(truth)) == []
    since = date.fromisoformat(oracle["today"]) - timedelta(days=4)
    recent = adapter.download_correspondence(since, set())
    assert sorted(f.portal_document_id for f in recent) == sorted(
        i for i, x in truth.items() if date.fromisoformat(x["letter_date"]) >= since)


@pytest.mark.capability("download_correspondence")
def test_cut_downloads_are_retried_and_stored_whole(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """A third of the downloads cut short: every letter still arrives whole, once; no browser copy is left."""
    portal = _portal(payer_id)
    letters = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()["letters"]
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    httpx.post(f"{fresh_sandbox.url}/_sandbox/{portal}/faults", json={"cut_downloads": 0.3}).raise_for_status()
    found = adapter.download_correspondence(None, set())
    assert sorted(f.portal_document_id for f in found) == sorted(x["letter_id"] for x in letters)
    for finding in found:
        data = Path(finding.file_path).read_bytes()
        assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == finding.sha256
    assert httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/stats").json()["downloads_cut"] > 0
    stored = sorted(p.name for p in adapter.session.download_dir.iterdir())
    assert stored == sorted({f"{f.sha256}.pdf" for f in found})


@pytest.mark.capability("download_correspondence")
def test_letters_over_the_download_cap_become_problems(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """Each letter over the cap is one download_too_large problem naming it; the step goes on, stores nothing."""
    portal = _portal(payer_id)
    oracle = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/oracle").json()
    since = date.fromisoformat(oracle["today"]) - timedelta(days=4)
    recent = sorted(x["letter_id"] for x in oracle["letters"] if date.fromisoformat(x["letter_date"]) >= since)
    assert recent, "the sandbox world has recent letters"
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    adapter.session.max_download_bytes = 1024  # smaller than any PDF the portal serves
    found = adapter.download_correspondence(since, set())
    assert all(f.kind == "portal_problem" and f.error_type == "DownloadTooLarge" for f in found)
    assert sorted(next(i for i in recent if f"letter {i} " in f.message) for f in found) == recent
    left = list(adapter.session.download_dir.iterdir()) if adapter.session.download_dir.exists() else []
    assert left == [], "nothing over the cap is kept, not even the browser's copy"


@pytest.mark.capability("pull_authorizations")
def test_authorizations_match_cases(payer_id: str, sandbox, make_adapter) -> None:
    portal = _portal(payer_id)
    oracle = httpx.get(f"{sandbox.url}/_sandbox/{portal}/oracle").json()
    adapter = _logged_in(make_adapter, sandbox, payer_id)
    found = {a.auth_number: a for a in adapter.pull_authorizations()}
    assert sorted(found) == sorted(a["auth_number"] for a in oracle["authorizations"])
    problems = [p for truth in oracle["authorizations"]
                for p in authorization_differences(found[truth["auth_number"]], truth)]
    assert problems == []


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
