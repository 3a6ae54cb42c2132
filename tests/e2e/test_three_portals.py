"""End to end: three portal styles in one night, in parallel within per-payer limits; captcha and maintenance."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select

from bots.credentials import CredentialStore
from tests.e2e.checks import (
    check_claims_against_oracle,
    check_documents_and_authorizations,
    check_tasks_against_oracle,
)
from workqueue.models import Claim, Task

pytestmark = pytest.mark.e2e
PORTALS = ["claimbridge", "meridian", "northwind"]


def _overlap(a: dict, b: dict) -> bool:
    return a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]


def test_one_night_runs_three_portal_styles_in_parallel_and_matches_every_oracle(night_factory) -> None:
    night = night_factory(portals=PORTALS, claims=60)
    # A second ClaimBridge login: the manifest allows one session at a time, so the two must take turns.
    store = CredentialStore()
    extra = store.get("claimbridge", "main").model_copy(update={"account": "second"})
    store.put(extra)
    result = night.run()
    assert result["errors"] == [] and result["skipped"] == {}
    lanes = {(o["payer_id"], o["account"]): o for o in result["accounts"]}
    assert set(lanes) == {("claimbridge", "main"), ("claimbridge", "second"), ("meridian", "main"),
                          ("northwind", "main")}
    assert not _overlap(lanes[("claimbridge", "main")], lanes[("claimbridge", "second")])
    assert _overlap(lanes[("meridian", "main")], lanes[("northwind", "main")]), "payers should run in parallel"
    assert lanes[("claimbridge", "main")]["claims_checked"] + lanes[("claimbridge", "second")]["claims_checked"] == 60
    observed = datetime.now(UTC).date()
    for portal in PORTALS:
        oracle = night.oracle(portal)
        check_claims_against_oracle(night, oracle)
        check_tasks_against_oracle(night, oracle, observed)
    # Letters and authorizations of every payer (the check reads all payers' rows at once).
    merged = {"letters": [], "authorizations": []}
    for portal in PORTALS:
        oracle = night.oracle(portal)
        merged["letters"] += oracle["letters"]
        merged["authorizations"] += oracle["authorizations"]
    check_documents_and_authorizations(night, merged)
    with night.db() as session:
        unmapped = session.exec(select(Task).where(Task.kind == "unmapped_status")).all()
    assert sorted(t.payer_id for t in unmapped) == PORTALS  # one per payer and wording, none dropped


def test_captcha_and_maintenance_end_as_operator_tasks_without_wrong_data(night_factory) -> None:
    night = night_factory(portals=["claimbridge", "northwind"], claims=40)
    night.harness("claimbridge/captcha/6")  # a burst of searches brings up the captcha interstitial
    night.harness("northwind/maintenance/true")
    result = night.run(maintenance_wait_minutes=0)  # no waiting for the portal to come back tonight
    stopped = {o["payer_id"]: o["stopped_by"] for o in result["accounts"]}
    assert stopped == {"claimbridge": "CaptchaChallenge", "northwind": "MaintenanceWindow"}
    with night.db() as session:
        tasks = session.exec(select(Task).where(Task.owner == "bot-operators")).all()
        checked = {c.claim_number for c in session.exec(select(Claim).where(Claim.last_checked_at.is_not(None)))}
    assert sorted((t.kind, t.payer_id) for t in tasks if t.kind != "unmapped_status") == [
        ("captcha_challenge", "claimbridge"), ("portal_unavailable", "northwind")]
    # What was read before the captcha is right; nothing after it was invented.
    oracle = night.oracle("claimbridge")
    assert 0 < len(checked) <= 6
    check_claims_against_oracle(night, oracle, only=checked)
    assert all(c.startswith("C3") for c in checked), "northwind checked nothing while under maintenance"
    # The captcha was shown and never answered by the bot.
    counters = httpx.get(f"{night.server.url}/_sandbox/claimbridge/stats").json()["counters"]
    assert counters["captchas_shown"] >= 1 and counters.get("captcha_answers", 0) == 0

    # Next night, both portals are back: the deferred claims are checked and match the oracle.
    night.harness("claimbridge/captcha/-1")
    night.harness("northwind/maintenance/false")
    second = night.run()
    assert all(o["stopped_by"] is None for o in second["accounts"])
    for portal in ("claimbridge", "northwind"):
        check_claims_against_oracle(night, night.oracle(portal))
