"""End to end: two client practices with their own accounts on one payer, in one installation.

The sandbox portal shows each login only its own practice's claims (another practice's claim looks
unknown), so a claim checked with the wrong account would not match the oracle.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bots.credentials import Credential, CredentialStore
from sandbox.server import SandboxServer
from tests.e2e.checks import check_claims_against_oracle
from tests.e2e.conftest import Night
from workqueue.models import Claim, Task

pytestmark = pytest.mark.e2e
PRACTICES = ("harbor", "lakeview")


def test_each_practice_is_checked_with_its_own_account_and_seen_only_by_its_users(payerbot_home: Path) -> None:
    from flows.cli import app
    from flows.demo import fetch_inventory
    from workqueue.db import get_engine, init_db, session_scope
    from workqueue.inventory import import_claims

    with SandboxServer(seed=5, claims=36, portals=["meridian"], practices=PRACTICES) as server:
        night = Night(server=server, home=payerbot_home)
        init_db(get_engine())
        with session_scope(get_engine()) as session:
            import_claims(fetch_inventory(server, payerbot_home / "inventory.csv"), session)
        logins = httpx.get(f"{server.url}/_sandbox/meridian/accounts").json()
        assert [login["practice"] for login in logins] == list(PRACTICES)
        store = CredentialStore()
        for login in logins:
            store.put(Credential(payer_id="meridian", account=f"{login['practice']}-main", practice=login["practice"],
                                 username=login["username"], password=login["password"],
                                 totp_seed=login["totp_seed"], portal_url=server.portal_url("meridian")))

        result = night.run(["meridian"])
        assert result["errors"] == [] and result["skipped"] == {}
        assert sorted(a["account"] for a in result["accounts"]) == ["harbor-main", "lakeview-main"]
        oracle = night.oracle("meridian")
        check_claims_against_oracle(night, oracle)  # every claim found, so each with its practice's own login

        user_of = {login["username"]: login["practice"] for login in logins}
        lookups = httpx.get(f"{server.url}/_sandbox/meridian/lookups").json()
        assert lookups, "the portal served claim details"
        for lookup in lookups:
            assert user_of[lookup["username"]] == oracle["claims"][lookup["claim_number"]]["practice"]
        assert [n for n, times in Counter(x["claim_number"] for x in lookups).items() if times > 1] == []

    with night.db() as session:
        claims = {c.claim_number: c for c in session.exec(select(Claim))}
        tasks = session.exec(select(Task)).all()
    assert {c.practice for c in claims.values()} == set(PRACTICES)
    assert all(claims[t.claim_number].practice == t.practice for t in tasks if t.claim_number)

    # A biller of one practice sees none of the other's claims in the terminal.
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "hana", "--role", "biller", "--practice", "harbor",
                                "--password-stdin"], input="synthetic-password-1\n")
    assert added.exit_code == 0, added.output
    shown = runner.invoke(app, ["claims", "list", "--json"], env={"PAYERBOT_USER": "hana"})
    assert shown.exit_code == 0, shown.output
    listed = {row["claim_number"] for row in json.loads(shown.output)}
    assert listed == {n for n, c in claims.items() if c.practice == "harbor"} and listed
