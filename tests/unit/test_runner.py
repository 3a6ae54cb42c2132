"""The account runner's error policy, with a fake adapter (no browser): what stops, what continues."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from playwright.sync_api import Error as PlaywrightError

from bots.adapter import PortalAdapter
from bots.errors import MaintenanceWindow, PortalChanged, PortalUnavailable, SessionExpired, SessionUnstable
from bots.findings import ClaimQuery, ClaimStatusFinding, Provenance, RecordsPacket, UploadConfirmation
from bots.manifest import Manifest
from bots.runner import AccountOutcome, AccountRunner, AccountWork
from bots.session import LoginBudget


class FakePage:
    url = "https://portal.example/claims/123?member=secret"

    def screenshot(self, **_kwargs):
        raise PlaywrightError("page closed")

    def content(self):
        raise PlaywrightError("page closed")


class FakeAdapter(PortalAdapter):
    manifest = Manifest(id="fake", name="Fake", portal_url="https://portal.example/",
                        capabilities=["login", "check_claim_status", "upload_records"])

    def __init__(self, outcomes: list, *, history: dict | None = None, logged_in: bool = True):
        self.session = SimpleNamespace(credential=SimpleNamespace(account="main"), events=[],
                                       evidence=SimpleNamespace(put_bytes=lambda data, suffix: ("", None)))
        self.page = FakePage()
        self.outcomes = outcomes
        self.calls = 0
        self.logins = 0
        self.logged_in = logged_in
        self.history = history if history is not None else {}  # packet id -> confirmation the portal holds
        self.submitted: list[str] = []

    def is_logged_in(self) -> bool:
        return self.logged_in

    def login(self) -> None:
        self.credentials_submitted()
        self.logins += 1
        self.logged_in = True

    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, SessionExpired):
            self.logged_in = False
        if isinstance(outcome, BaseException):
            raise outcome
        return ClaimStatusFinding(claim_number=claim.claim_number, raw_status=outcome, status_category="F1",
                                  provenance=Provenance(payer_id="fake", account="main", url="https://x/"))

    def upload_records(self, packet: RecordsPacket) -> UploadConfirmation:
        self.submitted.append(packet.packet_id)
        outcome = self.outcomes.pop(0)
        if outcome == "accepted-then-error":  # the portal filed it, then the confirmation page failed
            self.history[packet.packet_id] = f"U-{len(self.submitted)}"
            raise PortalUnavailable("HTTP 502 after submit")
        if isinstance(outcome, BaseException):
            raise outcome
        self.history[packet.packet_id] = outcome
        return _confirmation(packet, outcome)

    def find_submission(self, packet: RecordsPacket) -> UploadConfirmation | None:
        number = self.history.get(packet.packet_id)
        return _confirmation(packet, number, reconciled=True) if number else None


def _confirmation(packet: RecordsPacket, number: str, reconciled: bool = False) -> UploadConfirmation:
    return UploadConfirmation(packet_id=packet.packet_id, claim_number=packet.claim_number,
                              confirmation_number=number, reconciled=reconciled,
                              provenance=Provenance(payer_id="fake", account="main", url="https://x/"))


def _claim(n: int) -> ClaimQuery:
    return ClaimQuery(claim_number=f"C{n}", payer_id="fake", member_id="M1", date_of_service=date(2026, 1, 2))


def _packet(n: int) -> RecordsPacket:
    return RecordsPacket(packet_id=f"PKT-{n}", claim_number=f"C{n}", file_path="/tmp/x.pdf", sha256="0" * 64)


class Sink:
    """Collects what the runner hands over, as the flow's sink would store it."""

    def __init__(self):
        self.batches: list[tuple[str, list]] = []
        self.uploading: list[str] = []
        self.unconfirmed: list[str] = []
        self.logins = 0

    def persist(self, step, findings):
        self.batches.append((step, list(findings)))

    def mark_uploading(self, ids):
        self.uploading += ids

    def mark_unconfirmed(self, ids):
        self.unconfirmed += ids

    def record_login(self, payer_id, account):
        self.logins += 1

    def kinds(self) -> list[str]:
        return [f.kind for _step, batch in self.batches for f in batch]


def _runner(relogins: int = 2, used: int = 1) -> AccountRunner:
    runner = AccountRunner(None, FakeAdapter, store=None, evidence=None, download_dir=None)
    runner.budget = LoginBudget(used=used, relogins=relogins)
    return runner


def _work(**kw) -> AccountWork:
    return AccountWork(payer_id="fake", credential=SimpleNamespace(account="main"), **kw)


def _outcome() -> AccountOutcome:
    return AccountOutcome(payer_id="fake", account="main")


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda _s: None)


def test_an_unexpected_browser_error_becomes_portal_changed_without_the_browser_message() -> None:
    adapter = FakeAdapter([PlaywrightError("Timeout waiting for text 'Jane Doe'")])
    with pytest.raises(PortalChanged) as caught:
        _runner()._step(adapter, adapter.check_claim_status, _claim(1))
    assert "Jane Doe" not in str(caught.value)
    assert caught.value.url == "https://portal.example/claims/123"  # no query string


def test_transient_errors_are_retried_then_succeed() -> None:
    adapter = FakeAdapter([PortalUnavailable("503"), PortalUnavailable("503"), "Paid"])
    finding = _runner()._step(adapter, adapter.check_claim_status, _claim(1))
    assert finding.raw_status == "Paid" and adapter.calls == 3


def test_a_maintenance_page_is_not_retried_on_the_spot() -> None:
    adapter = FakeAdapter([MaintenanceWindow("down for maintenance"), "Paid"])
    with pytest.raises(MaintenanceWindow):
        _runner()._step(adapter, adapter.check_claim_status, _claim(1))
    assert adapter.calls == 1


def test_three_unrecognised_pages_in_a_row_stop_the_account_and_the_payer() -> None:
    adapter = FakeAdapter([PortalChanged("x"), "Paid", PortalChanged("x"), PortalChanged("x"), PortalChanged("x"),
                           "Paid"])
    sink, outcome, runner = Sink(), _outcome(), _runner()
    runner._claims(adapter, _work(claims=[_claim(n) for n in range(6)], batch_size=2), sink, outcome)
    assert outcome.stopped_by == "PortalChanged" and adapter.calls == 5
    assert outcome.claims_checked == 1 and outcome.problems == 4
    assert sink.kinds() == ["portal_problem", "claim_status", "portal_problem", "portal_problem", "portal_problem"]
    assert runner.stop_payer.is_set()  # the payer's other lanes stop too


def test_a_lost_lease_stops_the_account_before_its_next_claim_or_upload() -> None:
    adapter = FakeAdapter(["Paid", "Paid", "Paid", "U-1"])
    sink, outcome, runner = Sink(), _outcome(), _runner()
    original = adapter.check_claim_status

    def check_then_lose(claim):  # the renewer found another run holding the account after the second check
        if adapter.calls == 1:
            runner.lease_lost.set()
        return original(claim)

    adapter.check_claim_status = check_then_lose
    runner._claims(adapter, _work(claims=[_claim(n) for n in range(3)], batch_size=5), sink, outcome)
    assert outcome.stopped_by == "LeaseLost" and adapter.calls == 2 and outcome.claims_checked == 2
    runner._uploads(adapter, [_packet(1)], _work(), sink, outcome)
    assert adapter.submitted == [] and sink.uploading == []


def test_a_claim_that_keeps_failing_transiently_gets_a_second_pass_at_the_end() -> None:
    adapter = FakeAdapter([PortalUnavailable("503")] * 5 + ["Paid", "Paid"])
    sink, outcome = Sink(), _outcome()
    _runner()._claims(adapter, _work(claims=[_claim(1), _claim(2)], batch_size=5), sink, outcome)
    checked = [f.claim_number for _s, batch in sink.batches for f in batch if f.kind == "claim_status"]
    assert checked == ["C2", "C1"] and outcome.problems == 0 and outcome.stopped_by is None


def test_an_ended_session_is_logged_in_again_within_the_budget() -> None:
    adapter = FakeAdapter([SessionExpired("x"), "Paid", SessionExpired("x"), "Paid", SessionExpired("x"), "Paid"])
    sink, outcome, runner = Sink(), _outcome(), _runner(relogins=2, used=1)
    with pytest.raises(SessionUnstable):
        runner._claims(adapter, _work(claims=[_claim(n) for n in range(3)], batch_size=5), sink, outcome)
    # one fresh login (already spent) + two re-logins; the third expiry stops the account
    assert adapter.logins == 2 and runner.budget.used == 3
    assert [f.claim_number for _s, batch in sink.batches for f in batch] == ["C0", "C1"]


def test_an_upload_the_portal_filed_before_an_error_is_confirmed_from_its_history_not_resent() -> None:
    adapter = FakeAdapter(["accepted-then-error"])
    sink, outcome = Sink(), _outcome()
    _runner()._uploads(adapter, [_packet(1)], _work(), sink, outcome)
    assert adapter.submitted == ["PKT-1"]
    [(_step, [found])] = sink.batches
    assert found.reconciled and found.confirmation_number == "U-1" and outcome.uploads_reconciled == 1


def test_an_upload_that_failed_before_the_portal_filed_it_goes_once_more() -> None:
    adapter = FakeAdapter([PortalUnavailable("502"), "U-9"])
    sink, outcome = Sink(), _outcome()
    _runner()._uploads(adapter, [_packet(1)], _work(), sink, outcome)
    assert adapter.submitted == ["PKT-1", "PKT-1"]
    [(_step, [confirmation])] = sink.batches
    assert confirmation.confirmation_number == "U-9" and not confirmation.reconciled


def test_unknown_outcomes_are_reconciled_before_anything_is_sent() -> None:
    adapter = FakeAdapter(["U-5"], history={"PKT-1": "U-1"})
    sink, outcome = Sink(), _outcome()
    runner = _runner()
    pending = runner._reconcile(adapter, _work(reconcile=[_packet(1), _packet(2)]), sink, outcome)
    assert [p.packet_id for p in pending] == ["PKT-2"] and adapter.submitted == []
    runner._uploads(adapter, pending, _work(), sink, outcome)
    assert adapter.submitted == ["PKT-2"]  # PKT-1 was already on the portal: never sent again
    assert [(f.packet_id, f.confirmation_number, f.reconciled) for _s, b in sink.batches for f in b] == \
        [("PKT-1", "U-1", True), ("PKT-2", "U-5", False)]


def test_a_long_night_swaps_its_tab_every_fresh_tab_every_claims_and_checks_every_claim(monkeypatch) -> None:
    swaps: list[int] = []
    monkeypatch.setattr(FakeAdapter, "manifest", FakeAdapter.manifest.model_copy(update={"fresh_tab_every": 4}))
    monkeypatch.setattr(FakeAdapter, "fresh_tab", lambda self: swaps.append(self.calls), raising=False)
    adapter, sink, outcome = FakeAdapter(["Paid"] * 10), Sink(), _outcome()
    runner = _runner()
    runner._claims(adapter, _work(claims=[_claim(n) for n in range(10)], batch_size=2), sink, outcome)
    assert swaps == [4, 8]  # after the batches that reached 4 checks, never mid-batch
    assert outcome.claims_checked == 10 and sink.kinds() == ["claim_status"] * 10


def _found(number: str) -> ClaimStatusFinding:
    return ClaimStatusFinding(claim_number=number, raw_status="Paid", status_category="F1",
                              provenance=Provenance(payer_id="fake", account="main", url="https://x/"))


def _side_by_side(monkeypatch, ready: dict) -> list:
    """The session's other pages answer with `ready`; returns the batches they were given."""
    given: list = []
    monkeypatch.setattr(FakeAdapter, "manifest", FakeAdapter.manifest.model_copy(update={"pages_per_session": 3}))
    monkeypatch.setattr("bots.runner.side_by_side", lambda adapter, pages: pages == 3)
    monkeypatch.setattr("bots.runner.check_side_by_side",
                        lambda adapter, claims, pages: given.append([c.claim_number for c in claims]) or dict(ready))
    return given


def test_the_lane_checks_itself_only_what_the_sessions_pages_could_not_finish(monkeypatch) -> None:
    given = _side_by_side(monkeypatch, {"C0": _found("C0"), "C1": SessionExpired("x"),
                                        "C2": PortalChanged("odd page"), "C3": _found("C3")})
    adapter, sink, outcome = FakeAdapter(["Paid", "Paid"]), Sink(), _outcome()
    _runner()._claims(adapter, _work(claims=[_claim(n) for n in range(5)], batch_size=5), sink, outcome)
    # C1's ended session and C4 (no answer) are checked by the lane; C2's changed page stands as a problem.
    assert given == [["C0", "C1", "C2", "C3", "C4"]]
    assert adapter.calls == 2
    checked = [f.claim_number for _s, batch in sink.batches for f in batch if f.kind == "claim_status"]
    assert sorted(checked) == ["C0", "C1", "C3", "C4"] and outcome.problems == 1


def test_checks_the_pages_made_are_kept_when_the_account_stops(monkeypatch) -> None:
    _side_by_side(monkeypatch, {"C0": _found("C0"), "C1": MaintenanceWindow("down"), "C2": _found("C2")})
    adapter, sink, outcome = FakeAdapter([]), Sink(), _outcome()
    with pytest.raises(MaintenanceWindow):
        _runner()._claims(adapter, _work(claims=[_claim(n) for n in range(3)], batch_size=5), sink, outcome)
    assert adapter.calls == 0  # nothing looked up again
    assert sorted(f.claim_number for _s, batch in sink.batches for f in batch) == ["C0", "C2"]
    assert outcome.claims_checked == 2


def test_a_lane_whose_payer_was_stopped_tonight_does_not_sign_in() -> None:
    runner = _runner()
    runner.stop_payer.set()
    outcome = runner.run(_work(claims=[_claim(1)]), Sink())  # no browser: opening a session would fail
    assert outcome.stopped_by == "PortalChanged" and outcome.logins == 0 and outcome.claims_checked == 0
