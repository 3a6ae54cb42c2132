"""End to end: the clearinghouse's files in the inbox, then a night that visits the portal only where they can't answer.

The sandbox writes the 835 and 277 for its own claims (real X12); the night imports them first, so the
claims the 835 settled are never looked up on the portal (its lookup log says so), the ones the 277 says are
pending or asked for records are, and the worklist is the oracle's.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from tests.e2e.checks import check_claims_against_oracle, check_tasks_against_oracle
from workqueue.models import StatusFinding

pytestmark = pytest.mark.e2e


def test_a_night_after_an_835_checks_on_the_portal_only_the_claims_it_did_not_settle(night_factory,
                                                                                   payerbot_home: Path) -> None:
    night = night_factory(portals=["meridian"], claims=40, seed=11)
    edi = f"{night.server.url}/_sandbox/meridian/edi"
    remitted = set(httpx.get(f"{edi}/835/claims", params={"claims": "half"}).json())
    pending = set(httpx.get(f"{edi}/277/claims", params={"claims": "all"}).json())
    assert remitted and pending
    inbox = payerbot_home / "edi" / "inbox"
    inbox.mkdir(parents=True)
    era = httpx.get(f"{edi}/835", params={"claims": "half"}).text
    (inbox / "era.835").write_text(era)
    (inbox / "status.277").write_text(httpx.get(f"{edi}/277", params={"claims": "all"}).text)
    (inbox / "cut.835").write_text(era[: len(era) // 2])  # a download cut short: refused, nothing from it

    result = night.run(["meridian"])

    assert result["errors"] == []
    assert (result["edi"]["edi_files_imported"], result["edi"]["edi_files_rejected"]) == (2, 1)
    assert result["edi"]["visits_saved"] == len(remitted)
    assert (payerbot_home / "edi" / "rejected" / "cut.835.reason.txt").read_text().startswith("cut.835: ")
    oracle = night.oracle("meridian")
    looked_up = {entry["claim_number"] for entry in httpx.get(f"{night.server.url}/_sandbox/meridian/lookups").json()}
    on_file = {n for n, claim in oracle["claims"].items() if claim["on_file"]}
    assert looked_up == on_file - remitted  # the other half, pending ones included, and nothing twice
    assert pending <= looked_up
    assert result["accounts"][0]["claims_checked"] == len(oracle["claims"]) - len(remitted)
    check_claims_against_oracle(night, oracle)  # the 835's claims from the file, the others from the portal
    check_tasks_against_oracle(night, oracle, date.today())
    with night.db() as session:
        from_files = {f.claim_number for f in session.exec(select(StatusFinding)) if f.edi_file_id is not None}
    assert remitted | pending == from_files
