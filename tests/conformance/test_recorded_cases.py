"""Recorded cases replayed offline: every payer with `cases/cases.toml` (from `payerbot payer record`).

No sandbox server and no network: each case is served from the payer's scrubbed HAR in recorded order
(bots.replay) with short waits, and must give exactly the findings the operator confirmed. Every wording
in the payer's status map must be backed by a recorded, confirmed case that expects its category.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright

from bots.adapter import PortalAdapter, PortalSession
from bots.browser import launch_options
from bots.credentials import Credential
from bots.errors import PortalChanged, PortalUnavailable
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery
from bots.parsing import clean_text
from bots.recording import (
    NOT_FOUND_CLAIM,
    capability_items,
    claim_query_of,
    differences,
    finding_fields,
    load_cases,
    packet_for,
)
from bots.registry import registry
from bots.replay import case_entries, load_har, replay_context

SECRET_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization"}
#: a replay answers at once: a selector that matches nothing fails within this, not a portal-sized wait
REPLAY_TIMEOUT_MS = 1_500


def _folder(payer_id: str) -> Path:
    return registry()[payer_id].package_dir


def _recorded(payer_id: str) -> bool:
    return (_folder(payer_id) / "cases" / "cases.toml").is_file()


@cache  # one pytest process checks one state of the files; parsing them once per case would dominate
def _cases(payer_id: str) -> dict:
    return load_cases(_folder(payer_id))


@cache
def _entries(payer_id: str) -> list[dict]:
    return load_har(_har(payer_id))


def _case(payer_id: str, case_id: str) -> dict:
    return next(case for case in _cases(payer_id)["case"] if case["id"] == case_id)


def _har(payer_id: str) -> Path:
    return _folder(payer_id) / "cases" / _cases(payer_id)["har"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per (payer, recorded case), or per payer; `--payer` chooses the payers as in the suite."""
    chosen = metafunc.config.getoption("--payer") or sorted(registry())
    payers = [pid for pid in chosen if pid in registry() and _recorded(pid)]
    if "har_case" in metafunc.fixturenames:
        pairs = [(pid, case["id"]) for pid in payers for case in _cases(pid).get("case", [])]
        if pairs:  # none: the conformance conftest deselects the unparametrised item
            metafunc.parametrize(("har_payer", "har_case"), pairs, ids=[f"{p}-{c}" for p, c in pairs])
    elif "har_payer" in metafunc.fixturenames:
        if metafunc.function.__name__ == "test_sandbox_recording_agrees_with_oracle":
            # only recordings of a sandbox portal have an oracle; a real portal's have the operator's word
            payers = [pid for pid in payers if "sandbox" in _cases(pid)]
        if payers:
            metafunc.parametrize("har_payer", payers)


@pytest.fixture(scope="module")
def replay_browser(playwright: Playwright) -> Iterator[Browser]:
    """The same quiet Chromium the bots use; nothing else is started (no sandbox server)."""
    browser = playwright.chromium.launch(**launch_options(playwright))
    yield browser
    browser.close()


class Replay:
    """An adapter on a context served by the recording, and the replay that serves it."""

    def __init__(self, browser: Browser, payer_id: str, entries: list[dict], fallback: list[dict], work: Path):
        base_url = _cases(payer_id)["base_url"]
        self.context: BrowserContext
        self.context, self.replay = replay_context(browser, entries, base_url=base_url, fallback=fallback,
                                                   timeout_ms=REPLAY_TIMEOUT_MS)
        # A replay never logs in: the recording started after the login, so the credential is a dummy.
        credential = Credential(payer_id=payer_id, account="replay", username="provider.user",
                                password="never-used-in-a-replay", portal_url=base_url)
        session = PortalSession(page=self.context.new_page(), context=self.context, credential=credential,
                                base_url=base_url, evidence=EvidenceStore(work / "evidence"),
                                download_dir=work / "downloads", fetch=self.replay.fetch)
        self.adapter: PortalAdapter = registry()[payer_id](session)
        # Recorded answers arrive at once: the kit's waits need not allow for a slow portal either,
        # so a selector the page lacks fails within a second or two, not after a time-out per case.
        self.adapter.wait_ms = REPLAY_TIMEOUT_MS

    @property
    def misses(self) -> list[str]:
        """Requests the recording could not answer (aborted)."""
        return self.replay.misses


@pytest.fixture
def replay(replay_browser: Browser, tmp_path: Path) -> Iterator[Callable[[str, str], Replay]]:
    """Build a Replay of one recorded case (its own entries first, the whole recording for cached GETs)."""
    made: list[Replay] = []

    def build(payer_id: str, case_id: str) -> Replay:
        entries = _entries(payer_id)
        made.append(Replay(replay_browser, payer_id, case_entries(entries, case_id), entries, tmp_path))
        return made[-1]

    yield build
    for item in made:
        item.context.close()


def _call(adapter: PortalAdapter, case: dict, payer_id: str, work: Path) -> dict:
    """Run the case's capability with its stored query; the findings as cases.toml stores them."""
    capability, query = case["capability"], case["query"]
    if capability == "check_claim_status":
        return finding_fields(adapter.check_claim_status(claim_query_of(case, payer_id)))
    if capability == "download_correspondence":
        found = adapter.download_correspondence(query.get("since"), set())
    elif capability == "pull_authorizations":
        found = adapter.pull_authorizations()
    elif capability == "upload_records":
        return finding_fields(adapter.upload_records(packet_for(case, work)))
    elif capability == "find_submission":
        submission = adapter.find_submission(packet_for(case, work))
        return finding_fields(submission) if submission is not None else {"found": False}
    else:
        raise AssertionError(f"unknown capability {capability!r} in a recorded case")
    return {capability_items(capability): [finding_fields(item) for item in found]}


def test_har_case_matches_expectations(har_payer: str, har_case: str, replay, tmp_path: Path) -> None:
    case = _case(har_payer, har_case)
    assert case.get("confirmed") is True, (
        f"{har_case}: the operator did not confirm this expectation; fix it in cases/cases.toml by hand")
    assert case["capability"] in [*registry()[har_payer].manifest.capabilities, "find_submission"]
    run = replay(har_payer, har_case)
    # Every recorded case starts on a logged-in page: the saved session must be recognised offline too.
    assert run.adapter.is_logged_in()
    problems = differences(case["expect"], _call(run.adapter, case, har_payer, tmp_path), case.get("volatile", []))
    assert problems == [], f"{har_case}: {problems}"
    assert run.misses == [], "the adapter needed requests the recording lacks"


def test_status_map_covered_by_recorded_cases(har_payer: str) -> None:
    """Every mapped wording is the raw status of a confirmed case expecting its category (a swap fails)."""
    with (_folder(har_payer) / "status_map.toml").open("rb") as handle:
        phrases: dict[str, str] = tomllib.load(handle).get("statuses", {})
    seen = {(clean_text(case["expect"]["raw_status"]).casefold(), case["expect"].get("status_category"))
            for case in _cases(har_payer).get("case", [])
            if case["capability"] == "check_claim_status" and case.get("confirmed") is True}
    uncovered = [f"{wording!r} = {category}" for wording, category in phrases.items()
                 if (clean_text(wording).casefold(), category) not in seen]
    assert uncovered == [], (f"status_map.toml entries with no recorded, confirmed case showing that wording "
                             f"with that category (record one with `payerbot payer record`): {uncovered}")


def test_unrecorded_request_aborts_with_a_typed_error(har_payer: str, replay) -> None:
    claim_cases = [c for c in _cases(har_payer).get("case", []) if c["capability"] == "check_claim_status"]
    assert claim_cases, f"{har_payer}: a recording holds no claim-status case"
    case = claim_cases[0]
    run = replay(har_payer, case["id"])
    assert run.adapter.is_logged_in()
    query = ClaimQuery(claim_number="ZZ88888", payer_id=har_payer, member_id="ZZ111111111",
                       date_of_service=case["query"]["date_of_service"], payer_claim_number="ZZ11111111111")
    with pytest.raises((PortalUnavailable, PortalChanged)):
        run.adapter.check_claim_status(query)
    assert run.misses, "the unrecorded search must have been aborted, not answered"
    # A page the recording never visited is aborted too: the replay never falls through to the network.
    with pytest.raises(PortalUnavailable):
        run.adapter.goto("never-recorded/page")


def test_recorded_har_holds_no_secrets(har_payer: str) -> None:
    text = _har(har_payer).read_text(encoding="utf-8")
    har = json.loads(text)
    for entry in har["log"]["entries"]:
        for part in (entry["request"], entry["response"]):
            assert not {h["name"].lower() for h in part["headers"]} & SECRET_HEADERS, entry["request"]["url"]
            assert part.get("cookies", []) == []
    cases = _cases(har_payer)
    if "sandbox" not in cases:
        return
    # A recording of a sandbox portal: its login and its (synthetic) patients stand in for real ones.
    from sandbox.world import PROFILES, World

    origin = cases["sandbox"]
    profile = PROFILES[origin["portal"]]
    for value in [profile.password, profile.username] + ([profile.totp_seed] if profile.totp_seed else []):
        assert value.casefold() not in text.casefold(), "a login secret or the user name is in the HAR"
    world = World(profile, seed=origin["seed"], today=origin["today"])
    recorded = {c["query"].get("claim_number") for c in cases["case"]} - {NOT_FOUND_CLAIM, None}
    members = [c.member for c in world.claims if c.claim_number in recorded]
    assert len(members) == len(recorded)
    for member in members:
        assert member.member_id not in text
        assert f"{member.last_name.upper()}, {member.first_name.upper()}" not in text
    assert "127.0.0.1" not in text, "the recording host must be replaced by one that never resolves"


def test_sandbox_recording_agrees_with_oracle(har_payer: str) -> None:
    """A recording of a sandbox portal: the confirmed expectations are what its oracle says."""
    cases = _cases(har_payer)
    from sandbox.world import PROFILES, World

    origin = cases["sandbox"]
    oracle = World(PROFILES[origin["portal"]], seed=origin["seed"], today=origin["today"]).oracle()
    for case in cases["case"]:
        expect, query = case["expect"], case["query"]
        if case["capability"] == "check_claim_status" and query["claim_number"] != NOT_FOUND_CLAIM:
            assert oracle_differences(oracle["claims"][query["claim_number"]], expect) == [], case["id"]
        elif case["capability"] == "check_claim_status":
            assert expect["status_category"] == "D0" and expect["reference_number"], case["id"]
        elif case["capability"] == "download_correspondence":
            since = query.get("since")
            want = [x["letter_id"] for x in oracle["letters"]
                    if since is None or x["letter_date"] >= since.isoformat()]
            assert sorted(x["portal_document_id"] for x in expect["letters"]) == sorted(want)
        elif case["capability"] == "pull_authorizations":
            found = {a["auth_number"]: a for a in expect["authorizations"]}
            assert sorted(found) == sorted(a["auth_number"] for a in oracle["authorizations"])
            for want in oracle["authorizations"]:
                got = found[want["auth_number"]]
                assert (got["status"], got.get("approved_units"), got.get("used_units")) == (
                    want["status"], want["approved_units"], want["used_units"]), want["auth_number"]


def oracle_differences(oracle_claim: dict, expect: dict) -> list[str]:
    """Fields where a claim-status expectation differs from the sandbox oracle's canonical answer."""
    want = {
        "status_category": None if oracle_claim["unmapped_wording"] else oracle_claim["status_category"],
        "reference_number": oracle_claim["reference_number"],
        "allowed": oracle_claim["allowed"], "paid": oracle_claim["paid"],
        "patient_responsibility": oracle_claim["patient_responsibility"],
        "carc_codes": oracle_claim["carc_codes"] if oracle_claim["on_file"] else [],
        "rarc_codes": oracle_claim["rarc_codes"] if oracle_claim["on_file"] else [],
        "payer_claim_number": oracle_claim["payer_claim_number"] if oracle_claim["on_file"] else None,
        "check_number": oracle_claim["check_number"],
    }
    if oracle_claim["on_file"]:
        want["billed"] = oracle_claim["billed"]
        for name in ("adjudication_date", "payment_date"):
            want[name] = oracle_claim[name]
    return [f"{name}: oracle {value!r}, expected {_text(expect.get(name))!r}"
            for name, value in want.items() if _text(expect.get(name, [] if name.endswith("codes") else None))
            != value]


def _text(value: object) -> object:
    """Dates as ISO text (the oracle's form); everything else unchanged."""
    return value.isoformat() if hasattr(value, "isoformat") else value
