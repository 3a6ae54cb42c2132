"""flows.assign: a practice's claims, packets and letters go only through that practice's own accounts."""

from __future__ import annotations

from datetime import date

from bots.credentials import Credential
from bots.findings import ClaimQuery, RecordsPacket
from flows.assign import assign_payer


def _credential(account: str, practice: str = "default") -> Credential:
    return Credential(payer_id="meridian", account=account, username=f"u-{account}", password="p",
                      practice=practice)


def _claim(n: int, practice: str = "default") -> ClaimQuery:
    return ClaimQuery(claim_number=f"C{n}", payer_id="meridian", member_id="M1", date_of_service=date(2026, 1, 2),
                      practice=practice)


def _packet(packet_id: str) -> RecordsPacket:
    return RecordsPacket(packet_id=packet_id, claim_number="C1", file_path="/x.pdf", sha256="0" * 64)


def _by_account(shares) -> dict[str, list[str]]:
    return {s.credential.account: [c.claim_number for c in s.claims] for s in shares}


def test_two_practices_on_one_payer_each_use_only_their_own_accounts():
    credentials = [_credential("main"), _credential("lake-1", "lakeview"), _credential("lake-2", "lakeview")]
    claims = [_claim(1), _claim(2, "lakeview"), _claim(3), _claim(4, "lakeview"), _claim(5, "lakeview")]
    shares, skipped = assign_payer("meridian", credentials, claims)
    assert _by_account(shares) == {"lake-1": ["C2", "C5"], "lake-2": ["C4"], "main": ["C1", "C3"]}
    assert skipped == {}
    # Letters and authorizations: once per practice, through its first account.
    assert {s.credential.account: s.correspondence for s in shares} == {"lake-1": True, "lake-2": False,
                                                                         "main": True}


def test_a_practice_without_its_own_account_is_skipped_not_given_to_another():
    shares, skipped = assign_payer("meridian", [_credential("main")], [_claim(1), _claim(2, "lakeview")])
    assert _by_account(shares) == {"main": ["C1"]}
    assert skipped == {"meridian@lakeview": "no credentials stored for practice lakeview"}


def test_packets_go_to_the_first_account_of_their_practice():
    credentials = [_credential("main"), _credential("lake", "lakeview")]
    shares, skipped = assign_payer(
        "meridian", credentials, [], uploads=[_packet("P1"), _packet("P2")], reconcile=[_packet("P3")],
        practice_of_packet={"P1": "lakeview", "P2": "default", "P3": "lakeview", "P9": "riverside"})
    assert {s.credential.account: ([p.packet_id for p in s.uploads], [p.packet_id for p in s.reconcile])
            for s in shares} == {"lake": (["P1"], ["P3"]), "main": (["P2"], [])}
    assert skipped == {}
    _, skipped = assign_payer("meridian", [_credential("main")], [], uploads=[_packet("P1")],
                              practice_of_packet={"P1": "lakeview"})
    assert skipped == {"meridian@lakeview": "no credentials stored for practice lakeview"}


def test_blocked_accounts_are_left_out_and_their_practice_is_not_reported_as_without_credentials():
    credentials = [_credential("main"), _credential("lake", "lakeview")]
    shares, skipped = assign_payer("meridian", credentials, [_claim(1), _claim(2, "lakeview")],
                                   blocked=frozenset({"lake"}))
    assert _by_account(shares) == {"main": ["C1"]} and skipped == {}


def test_letters_since_is_each_practices_own():
    credentials = [_credential("main"), _credential("lake", "lakeview")]
    shares, _ = assign_payer("meridian", credentials, [], correspondence_since={"default": date(2026, 2, 1)})
    assert {s.credential.account: s.correspondence_since for s in shares} == {"lake": None,
                                                                               "main": date(2026, 2, 1)}


def test_one_practice_splits_as_before_and_old_credentials_are_the_default_practice():
    old = Credential.model_validate({"payer_id": "meridian", "account": "a", "username": "u", "password": "p"})
    assert old.practice == "default"
    shares, _ = assign_payer("meridian", [old, _credential("b")], [_claim(n) for n in range(1, 6)])
    assert _by_account(shares) == {"a": ["C1", "C3", "C5"], "b": ["C2", "C4"]}
