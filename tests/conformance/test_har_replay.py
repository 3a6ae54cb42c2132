"""Conformance cases replayed offline from each payer's recorded HAR: no sandbox server, no network.

Every payer whose folder has `cases/har_cases.toml` (written by scripts/record_har.py) is replayed:
each listed claim must give exactly the answers in its `expect` table, which came from the sandbox
oracle or from the operator's reading of the real portal, never from the adapter.
"""

from __future__ import annotations

import base64
import json
import tomllib
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright

from bots.adapter import PortalAdapter, PortalSession
from bots.browser import launch_options
from bots.credentials import Credential
from bots.errors import PortalChanged, PortalUnavailable
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery
from bots.har import har_context, make_replayable, scrub_har
from bots.registry import registry

EXPECT_KEYS = {"status_category", "reference_number", "paid", "allowed", "patient_responsibility",
               "payer_claim_number", "carc_codes", "rarc_codes"}
SECRET_HEADERS = {"cookie", "set-cookie", "authorization"}


def _cases_file(payer_id: str) -> Path:
    return registry()[payer_id].package_dir / "cases" / "har_cases.toml"


def _load(payer_id: str) -> dict:
    with _cases_file(payer_id).open("rb") as handle:
        cases = tomllib.load(handle)
    assert cases["source"] == "har", payer_id
    assert cases["claim_status"], f"{payer_id}: a HAR case file lists no claims"
    return cases


def _har_path(payer_id: str) -> Path:
    return registry()[payer_id].package_dir / _load(payer_id)["har"]


HAR_PAYERS = sorted(pid for pid in registry() if _cases_file(pid).exists())
HAR_CASES = [(pid, case["claim_number"]) for pid in HAR_PAYERS for case in _load(pid)["claim_status"]]


@pytest.fixture(scope="module")
def replay_browser(playwright: Playwright) -> Iterator[Browser]:
    """The same quiet Chromium the bots use; nothing else is started (no sandbox server)."""
    browser = playwright.chromium.launch(**launch_options(playwright))
    yield browser
    browser.close()


class Replay:
    """An adapter on a HAR-served context, plus the requests the context could not serve."""

    def __init__(self, browser: Browser, payer_id: str, work: Path):
        cases = _load(payer_id)
        self.context: BrowserContext = har_context(browser, _har_path(payer_id), base_url=cases["base_url"])
        self.failed: list[str] = []
        self.context.on("requestfailed", self._failed)
        page = self.context.new_page()
        # A replay never logs in: the recording started after the login, so the credential is a dummy.
        credential = Credential(payer_id=payer_id, account="replay", username="provider.user",
                                password="never-used-in-a-replay", portal_url=cases["base_url"])
        session = PortalSession(page=page, context=self.context, credential=credential,
                                base_url=cases["base_url"], evidence=EvidenceStore(work / "evidence"),
                                download_dir=work / "downloads")
        self.adapter: PortalAdapter = registry()[payer_id](session)

    def _failed(self, request) -> None:
        # `not_found="abort"` fails a request with net::ERR_FAILED; the replay of a recorded redirect
        # cancels the original navigation request (net::ERR_ABORTED), which is not a miss.
        if "ERR_FAILED" in (request.failure or ""):
            self.failed.append(f"{request.method} {request.url.split('?')[0]}")


@pytest.fixture
def replay(replay_browser: Browser, tmp_path: Path) -> Iterator[Callable[[str], Replay]]:
    """Build Replays; their contexts are closed after the test."""
    made: list[Replay] = []

    def build(payer_id: str) -> Replay:
        made.append(Replay(replay_browser, payer_id, tmp_path))
        return made[-1]

    yield build
    for item in made:
        item.context.close()


@pytest.mark.parametrize(("har_payer", "claim_number"), HAR_CASES)
def test_har_case_matches_expectations(har_payer: str, claim_number: str, replay) -> None:
    case = next(c for c in _load(har_payer)["claim_status"] if c["claim_number"] == claim_number)
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"unknown expect keys {set(expect) - EXPECT_KEYS}"
    assert "reference_number" in expect, "every answer carries the portal's reference"
    run = replay(har_payer)
    # The recording starts on a logged-in page: the saved session must be recognised, offline too.
    assert run.adapter.is_logged_in()
    query = ClaimQuery(claim_number=claim_number, payer_id=har_payer, member_id=case["member_id"],
                       date_of_service=case["date_of_service"],
                       payer_claim_number=case.get("payer_claim_number"))
    finding = run.adapter.check_claim_status(query)
    assert finding.claim_number == claim_number
    assert finding.raw_status
    # A key left out of `expect` means the portal shows none: checked as None (or no codes), not skipped.
    assert finding.status_category == expect.get("status_category")
    assert finding.reference_number == expect["reference_number"]
    assert finding.payer_claim_number == expect.get("payer_claim_number")
    for money in ("paid", "allowed", "patient_responsibility"):
        want = expect.get(money)
        assert getattr(finding, money) == (Decimal(want) if want is not None else None), money
    assert finding.carc_codes == expect.get("carc_codes", [])
    assert finding.rarc_codes == expect.get("rarc_codes", [])
    assert run.failed == [], "the adapter needed requests the recording lacks"


@pytest.mark.parametrize("har_payer", HAR_PAYERS)
def test_unrecorded_request_aborts_with_a_typed_error(har_payer: str, replay) -> None:
    run = replay(har_payer)
    assert run.adapter.is_logged_in()
    query = ClaimQuery(claim_number="ZZ99999", payer_id=har_payer, member_id="ZZ000000000",
                       date_of_service=_load(har_payer)["claim_status"][0]["date_of_service"],
                       payer_claim_number="ZZ00000000000")
    with pytest.raises((PortalUnavailable, PortalChanged)):
        run.adapter.check_claim_status(query)
    assert run.failed, "the unrecorded search must have been aborted, not answered"
    # A page the recording never visited is aborted too: the replay never falls through to the network.
    with pytest.raises(PortalUnavailable):
        run.adapter.goto("never-recorded/page")


@pytest.mark.parametrize("har_payer", HAR_PAYERS)
def test_recorded_har_holds_no_secrets(har_payer: str) -> None:
    from sandbox.world import PROFILES, World

    text = _har_path(har_payer).read_text(encoding="utf-8")
    har = json.loads(text)
    for entry in har["log"]["entries"]:
        for part in (entry["request"], entry["response"]):
            assert not {h["name"].lower() for h in part["headers"]} & SECRET_HEADERS, part.get("url")
            assert part.get("cookies", []) == []
    cases = _load(har_payer)
    portal = registry()[har_payer].manifest.sandbox_portal
    if portal in PROFILES:
        profile = PROFILES[portal]
        secrets = [profile.password, profile.username] + ([profile.totp_seed] if profile.totp_seed else [])
        for value in secrets:
            assert value.casefold() not in text.casefold(), "a login secret or the user name is in the HAR"
    if "sandbox_seed" in cases:
        # Sandbox patients stand in for real ones: none of their ids or names may survive scrubbing.
        world = World(PROFILES[portal], seed=cases["sandbox_seed"])
        recorded = {c["claim_number"] for c in cases["claim_status"]}
        patients = [c.member for c in world.claims if c.claim_number in recorded]
        assert len(patients) == len(recorded)
        for member in patients:
            assert member.member_id not in text
            assert f"{member.last_name.upper()}, {member.first_name.upper()}" not in text
        assert "127.0.0.1" not in text, "the recording host must be replaced by one that never resolves"


def _tiny_har(tmp_path: Path) -> Path:
    pdf = b"%PDF-1.4 member MRD123456789 DOE, JANE"
    har = {"log": {"version": "1.2", "entries": [{
        "request": {"method": "POST", "url": "https://portal.example/claims?member=MRD123456789",
                    "headers": [{"name": "Cookie", "value": "SESSION=s3cr3t-cookie"},
                                {"name": "Authorization", "value": "Bearer t0ken-value"},
                                {"name": "Referer", "value": "https://portal.example/m/MRD123456789"}],
                    "cookies": [{"name": "SESSION", "value": "s3cr3t-cookie"}],
                    "postData": {"mimeType": "application/x-www-form-urlencoded",
                                 "text": "member_id=MRD123456789&name=DOE%2C+JANE"}},
        "response": {"status": 200,
                     "headers": [{"name": "Set-Cookie", "value": "SESSION=s3cr3t-cookie; Path=/"},
                                 {"name": "Content-Length", "value": "99"},
                                 {"name": "Content-Type", "value": "text/html"}],
                     "cookies": [{"name": "SESSION", "value": "s3cr3t-cookie"}],
                     "content": {"size": 50, "mimeType": "text/html",
                                 "text": "<td>DOE, JANE</td><td>MRD123456789</td>"}},
    }, {
        "request": {"method": "GET", "url": "https://portal.example/letter.pdf", "headers": [],
                    "cookies": []},
        "response": {"status": 200, "headers": [], "cookies": [],
                     "content": {"size": len(pdf), "mimeType": "application/pdf", "encoding": "base64",
                                 "text": base64.b64encode(pdf).decode()}},
    }]}}
    path = tmp_path / "raw.har"
    path.write_text(json.dumps(har))
    return path


def test_scrub_har_removes_cookies_and_replaces_values(tmp_path: Path) -> None:
    out = tmp_path / "clean.har"
    scrub_har(_tiny_har(tmp_path), out, {"MRD123456789": "MRD000000001", "DOE, JANE": "PATIENT, TEST"})
    text = out.read_text()
    for gone in ("s3cr3t-cookie", "t0ken-value", "MRD123456789", "DOE, JANE", "DOE%2C+JANE"):
        assert gone not in text, gone
    first, second = json.loads(text)["log"]["entries"]
    request, response = first["request"], first["response"]
    assert [h["name"] for h in request["headers"]] == ["Referer"]
    assert request["headers"][0]["value"] == "https://portal.example/m/MRD000000001"
    assert request["url"] == "https://portal.example/claims?member=MRD000000001"
    assert request["postData"]["text"] == "member_id=MRD000000001&name=PATIENT%2C+TEST"
    assert request["cookies"] == [] and response["cookies"] == []
    assert [h["name"] for h in response["headers"]] == ["Content-Type"]  # stale Content-Length dropped
    assert response["content"]["text"] == "<td>PATIENT, TEST</td><td>MRD000000001</td>"
    assert response["content"]["size"] == len(response["content"]["text"])
    body = base64.b64decode(second["response"]["content"]["text"])
    assert body == b"%PDF-1.4 member MRD000000001 PATIENT, TEST"
    assert second["response"]["content"]["size"] == len(body)


def test_make_replayable_pins_shared_redirect_targets(tmp_path: Path) -> None:
    def entry(method: str, url: str, *, post: str | None = None, status: int = 200,
              location: str | None = None, body: str = "") -> dict:
        request = {"method": method, "url": url, "headers": [], "cookies": []}
        if post is not None:
            request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": post}
        headers = [{"name": "Location", "value": location}] if location else []
        return {"request": request, "response": {"status": status, "headers": headers, "cookies": [],
                                                 "redirectURL": location or "",
                                                 "content": {"size": len(body), "mimeType": "text/html",
                                                             "text": body}}}

    base = "https://portal.example"
    entries = []
    for icn in ("A1", "B2"):
        entries += [entry("GET", f"{base}/search", body="form"), entry("GET", f"{base}/site.css", body="css"),
                    entry("POST", f"{base}/search", post=f"icn={icn}", status=303, location="/results"),
                    entry("GET", f"{base}/results", body=f"results for {icn}")]
    path = tmp_path / "prg.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    assert make_replayable(path) == (2, 2)  # the second form and stylesheet dropped; two results pinned
    kept = json.loads(path.read_text())["log"]["entries"]
    answers = {e["request"]["url"]: e["response"]["content"]["text"]
               for e in kept if e["request"]["method"] == "GET"}
    assert answers[f"{base}/results?har-replay=1"] == "results for A1"
    assert answers[f"{base}/results?har-replay=2"] == "results for B2"
    locations = [e["response"]["headers"][0]["value"] for e in kept if e["request"]["method"] == "POST"]
    assert locations == ["/results?har-replay=1", "/results?har-replay=2"]
