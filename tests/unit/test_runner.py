"""The account runner's error policy, with a fake adapter (no browser): what stops, what continues."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from playwright.sync_api import Error as PlaywrightError

from bots.adapter import PortalAdapter
from bots.errors import PortalChanged, PortalUnavailable
from bots.findings import ClaimQuery, ClaimStatusFinding, Provenance
from bots.manifest import Manifest
from bots.runner import AccountRunner


class FakePage:
    url = "https://portal.example/claims/123?member=secret"

    def screenshot(self, **_kwargs):
        raise PlaywrightError("page closed")


class FakeAdapter(PortalAdapter):
    manifest = Manifest(id="fake", name="Fake", portal_url="https://portal.example/",
                        capabilities=["login", "check_claim_status"])

    def __init__(self, outcomes: list):
        self.session = SimpleNamespace(credential=SimpleNamespace(account="main"), events=[],
                                       evidence=SimpleNamespace(put_bytes=lambda data, suffix: ("", None)))
        self.page = FakePage()
        self.outcomes = outcomes
        self.calls = 0

    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return ClaimStatusFinding(claim_number=claim.claim_number, raw_status=outcome, status_category="F1",
                                  provenance=Provenance(payer_id="fake", account="main", url="https://x/"))


def _claim(n: int) -> ClaimQuery:
    return ClaimQuery(claim_number=f"C{n}", payer_id="fake", member_id="M1", date_of_service=date(2026, 1, 2))


def test_an_unexpected_browser_error_becomes_portal_changed_without_the_browser_message() -> None:
    adapter = FakeAdapter([PlaywrightError("Timeout waiting for text 'Jane Doe'")])
    with pytest.raises(PortalChanged) as caught:
        AccountRunner._check_one(adapter, _claim(1))
    assert "Jane Doe" not in str(caught.value)
    assert caught.value.url == "https://portal.example/claims/123"  # no query string


def test_transient_errors_are_retried_then_succeed(monkeypatch) -> None:
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda _s: None)
    adapter = FakeAdapter([PortalUnavailable("503"), PortalUnavailable("503"), "Paid"])
    finding = AccountRunner._check_one(adapter, _claim(1))
    assert finding.raw_status == "Paid" and adapter.calls == 3


def test_three_unrecognised_pages_in_a_row_stop_the_account() -> None:
    adapter = FakeAdapter([PortalChanged("x"), "Paid", PortalChanged("x"), PortalChanged("x"), PortalChanged("x"),
                           "Paid"])
    sink = SimpleNamespace(batches=[])
    sink.persist = lambda step, findings: sink.batches.append((step, list(findings)))
    outcome = SimpleNamespace(claims_checked=0, problems=0, stopped_by=None)
    work = SimpleNamespace(claims=[_claim(n) for n in range(6)], batch_size=2,
                           credential=SimpleNamespace(account="main"), payer_id="fake")
    AccountRunner._claims(SimpleNamespace(_check_one=AccountRunner._check_one), adapter, work, sink, outcome)
    assert outcome.stopped_by == "PortalChanged" and adapter.calls == 5
    assert outcome.claims_checked == 1 and outcome.problems == 4
    kinds = [f.kind for _step, batch in sink.batches for f in batch]
    assert kinds == ["portal_problem", "claim_status", "portal_problem", "portal_problem", "portal_problem"]
