"""A chaos night: every portal misbehaves at once; the night stays right, bounded and without duplicates."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from flows.cli import app
from tests.e2e.checks import check_claims_against_oracle, records_pdf
from workqueue.models import BotRun, Claim, Document, RecordsPacket, StatusFinding, Task

pytestmark = pytest.mark.e2e
cli = CliRunner()
PORTALS = ["claimbridge", "meridian", "northwind"]
# The example: 5xx answers and slow pages everywhere, Meridian ends sessions every 150 requests,
# ClaimBridge is down for maintenance, Northwind shipped a new layout.
SPEC = "errors=0.1,slow=0.05,slow_s=2,meridian.expire_every=150,claimbridge.maintenance=on,northwind.layout=2"



def test_a_chaos_night_checks_the_healthy_portal_right_and_reports_the_rest(night_factory, tmp_path) -> None:
    night = night_factory(portals=PORTALS, claims=50)  # enough for Meridian to end a session tonight
    # A records packet waiting for tonight, so the upload also runs under faults.
    night.run(["meridian"])
    with night.db() as session:
        task = session.exec(select(Task).where(Task.kind == "records_request").order_by(Task.id)).first()
    assert cli.invoke(app, ["tasks", "attach", str(task.id), str(records_pdf(tmp_path / "notes.pdf"))]).exit_code == 0
    assert cli.invoke(app, ["tasks", "queue-upload", str(task.id)]).exit_code == 0

    with night.db() as session:  # what tonight must check: every claim not finalized by night 1
        due = {c.claim_number for c in session.exec(select(Claim).where(Claim.payer_id == "meridian",
                                                                         Claim.finalized == False))}  # noqa: E712
    assert due

    night.faults(SPEC)
    started = datetime.now(UTC)
    result = night.run(force=True, maintenance_wait_minutes=0.5)
    lanes = {o["payer_id"]: o for o in result["accounts"]}

    # Meridian, the healthy portal: every claim checked tonight, and right.
    assert lanes["meridian"]["stopped_by"] is None and lanes["meridian"]["claims_checked"] == len(due)
    oracle = night.oracle("meridian")
    listed = cli.invoke(app, ["claims", "list", "--payer", "meridian", "--json"])
    assert listed.exit_code == 0, listed.output
    claims = {c["claim_number"]: c for c in json.loads(listed.output)}
    assert set(claims) == set(oracle["claims"])
    assert all(datetime.fromisoformat(claims[number]["last_checked_at"]) >= started for number in due)
    check_claims_against_oracle(night, oracle)
    assert lanes["meridian"]["uploads_done"] + lanes["meridian"]["uploads_reconciled"] == 1
    meridian = night.stats("meridian")
    assert meridian["errors_injected"] > 0 and meridian["sessions_ended"] >= 1  # the faults really happened

    # Northwind's new layout: exactly one portal_changed task, with the page's scrubbed HTML; the payer stopped.
    with night.db() as session:
        changed = session.exec(select(Task).where(Task.kind == "portal_changed")).all()
        unavailable = session.exec(select(Task).where(Task.kind == "portal_unavailable")).all()
        per_claim = Counter(session.exec(select(StatusFinding.claim_number)).all())
        documents = session.exec(select(Document.portal_document_id, Document.payer_id)).all()
        keys = session.exec(select(Task.dedupe_key)).all()
        packet = session.exec(select(RecordsPacket)).one()
        run = session.get(BotRun, result["run_id"])
    assert [t.payer_id for t in changed] == ["northwind"]
    assert any(e.get("page_html_path") for e in changed[0].evidence)
    assert lanes["northwind"]["stopped_by"] == "PortalChanged"

    # ClaimBridge stayed in maintenance: deferred, tried again, then reported once.
    assert lanes["claimbridge"]["deferred"] and lanes["claimbridge"]["claims_checked"] == 0
    assert [t.payer_id for t in unavailable] == ["claimbridge"]
    assert "maintenance" in unavailable[0].payer_said
    assert {"payer_id": "claimbridge", "account": "main", "error": "MaintenanceWindow"} in run.errors
    # The dashboard's bot success per payer reads the run's own counts: every due Meridian claim, no ClaimBridge one.
    assert run.counts["by_payer"]["meridian"]["claims_checked"] == len(due)
    assert run.counts["by_payer"]["claimbridge"]["claims_checked"] == 0

    # Nothing twice: findings (identical repeats are not stored), tasks, letters, the upload.
    assert {per_claim[number] for number in oracle["claims"]} == {1}  # tonight's answers equal night 1's
    assert len(keys) == len(set(keys)) and len(documents) == len(set(documents))
    uploads = httpx.get(f"{night.server.url}/_sandbox/meridian/uploads").json()
    assert len(uploads) == 1 and packet.status == "uploaded"
    assert packet.confirmation_number == uploads[0]["confirmation_number"]

    # Logins within each account's budget for the night (one fresh login + two re-logins).
    for portal in PORTALS:
        attempts = night.stats(portal)["login_attempts"]
        assert all(count <= 3 for count in attempts.values()), (portal, attempts)
        assert night.stats(portal)["locked"] == []
