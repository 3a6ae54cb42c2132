"""A lane whose claim checks only fetch holds no tab while they run; a sign-in brings one back, then it goes again.

Real Chromium against the sandbox over HTTP, through `AccountRunner` (the night's lane), checked against the
oracle: the tab is parked for every batch of fetched checks (the session keeps no renderer), a session the
portal ends mid-batch is signed in again in a new tab within the budget, and the next batch parks it again.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import httpx
import pytest

from benchmarks._common import MemorySink
from bots.credentials import Credential, CredentialStore
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery
from bots.registry import get_adapter
from bots.runner import AccountRunner, AccountWork
from tests.conformance.oracle import claim_differences

PAYERS = ["meridian", "northwind", "claimbridge"]


class TabCountingSink(MemorySink):
    """Keeps the findings and, at every persisted claim batch, how many tabs the lane's context holds.

    After the first batch the portal ends the lane's session (as an idle time-out would).
    """

    def __init__(self, browser, before: set, portal_state) -> None:
        super().__init__()
        self.browser, self.before, self.portal_state = browser, before, portal_state
        self.tabs_at_batch: list[int] = []

    def persist(self, step: str, findings: list) -> None:
        super().persist(step, findings)
        if step == "claim_status":
            (context,) = [c for c in self.browser.contexts if c not in self.before]
            self.tabs_at_batch.append(len(context.pages))
            if len(self.tabs_at_batch) == 1:
                for token in list(self.portal_state.sessions):
                    self.portal_state.end_session(token)


def _claims(server, portal: str, count: int) -> tuple[list[ClaimQuery], dict]:
    oracle = httpx.get(f"{server.url}/_sandbox/{portal}/oracle").json()["claims"]
    rows = csv.DictReader(io.StringIO(httpx.get(f"{server.url}/_sandbox/{portal}/inventory.csv").text))
    claims = [ClaimQuery(claim_number=r["claim_number"], payer_id=portal, member_id=r["member_id"],
                         date_of_service=date.fromisoformat(r["date_of_service"]),
                         payer_claim_number=r["payer_claim_number"] or None) for r in rows]
    return claims[:count], oracle


@pytest.mark.parametrize("portal", PAYERS)
def test_fetched_checks_run_without_a_tab_and_a_sign_in_reopens_it(portal: str, fresh_sandbox, browser,
                                                                     tmp_path: Path) -> None:
    adapter_cls = get_adapter(portal)
    assert getattr(adapter_cls, "claims_from", "page") != "page"  # this payer's checks fetch by default
    account = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/accounts").json()[0]
    credential = Credential(payer_id=portal, account="main", username=account["username"],
                            password=account["password"], totp_seed=account["totp_seed"] or None,
                            portal_url=fresh_sandbox.portal_url(portal),
                            options={"one_time_code_url": f"{fresh_sandbox.url}/_sandbox/{portal}/mailbox"})
    claims, oracle = _claims(fresh_sandbox, portal, 12)
    # The portal ends the session in the second batch: the lane signs in again (a tab), the third batch parks it.
    sink = TabCountingSink(browser, set(browser.contexts), fresh_sandbox.states[portal])
    runner = AccountRunner(browser, adapter_cls, store=CredentialStore(tmp_path / "secrets"),
                           evidence=EvidenceStore(tmp_path / "evidence"), download_dir=tmp_path / "downloads")
    outcome = runner.run(AccountWork(payer_id=portal, credential=credential, claims=claims, batch_size=4), sink)

    assert outcome.stopped_by is None and outcome.claims_checked == len(claims)
    found = {f.claim_number: f for f in sink.findings if f.kind == "claim_status"}
    assert sorted(found) == sorted(c.claim_number for c in claims)
    for number, finding in found.items():
        assert claim_differences(finding, oracle[number]) == [], number
    assert outcome.logins == 2 and outcome.events.count("login") == 2  # signed in again once, after the end
    # no tab while the first batch fetched; the sign-in's tab at the end of the second; parked again in the third
    assert sink.tabs_at_batch == [0, 1, 0]
