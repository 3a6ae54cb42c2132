"""End to end: the loop between billers and bots (uploads), login failures, and what must never leak."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bots.credentials import Credential, CredentialStore
from bots.evidence import from_stored
from flows.cli import app
from tests.e2e.checks import records_pdf
from workqueue.models import BotRun, RecordsPacket, StatusFinding, Task
from workqueue.tasks import task_as_dict

pytestmark = pytest.mark.e2e
cli = CliRunner()



def _records_task(night) -> Task:
    with night.db() as session:
        return session.exec(select(Task).where(Task.kind == "records_request", Task.status == "open")
                            .order_by(Task.id)).first()


def test_queued_packet_is_uploaded_once_and_the_task_waits_on_the_payer(night_factory, tmp_path: Path) -> None:
    night = night_factory(portals=["meridian"], claims=60, seed=11)
    night.run()
    task = _records_task(night)
    assert task is not None
    result = cli.invoke(app, ["tasks", "attach", str(task.id), str(records_pdf(tmp_path / "notes.pdf"))])
    assert result.exit_code == 0, result.output
    result = cli.invoke(app, ["tasks", "queue-upload", str(task.id)])
    assert result.exit_code == 0, result.output

    night.run()
    night.run(force=True)  # a re-run must not upload the packet again
    uploads = httpx.get(f"{night.server.url}/_sandbox/meridian/uploads").json()
    assert len(uploads) == 1
    with night.db() as session:
        stored = session.get(Task, task.id)
        packet = session.exec(select(RecordsPacket).where(RecordsPacket.task_id == task.id)).one()
        answer = task_as_dict(stored, session)
        claim_icn = session.exec(select(StatusFinding.finding).where(
            StatusFinding.claim_number == task.claim_number)).first()["payer_claim_number"]
    assert uploads[0]["claim_number"] == claim_icn and uploads[0]["sha256"] == packet.sha256
    assert uploads[0]["duplicate_of"] is None
    assert stored.status == "waiting_on_payer"
    assert answer["uploaded_document"]["confirmation_number"] == uploads[0]["confirmation_number"]
    assert stored.follow_up_date == datetime.now(UTC).date() + timedelta(days=14)
    assert any(uploads[0]["confirmation_number"] in str(item) for item in stored.evidence)
    # The seven questions a biller asks of a portal finding all have answers.
    for key in ("payer_said", "action", "owner", "deadline", "reference_number", "uploaded_document",
                "next_check_date"):
        assert answer[key], key


def test_a_failing_upload_is_retried_nightly_then_escalated(night_factory, tmp_path: Path) -> None:
    night = night_factory(portals=["meridian"], claims=60, seed=11)
    night.run()
    task = _records_task(night)
    assert cli.invoke(app, ["tasks", "attach", str(task.id), str(records_pdf(tmp_path / "notes.pdf"))]).exit_code == 0
    assert cli.invoke(app, ["tasks", "queue-upload", str(task.id)]).exit_code == 0
    with night.db() as session:
        packet = session.exec(select(RecordsPacket).where(RecordsPacket.task_id == task.id)).one()
    # The stored packet gets damaged: the portal refuses it as "not a PDF" every night.
    from_stored(packet.stored_path).write_bytes(b"this is not a pdf any more")
    for attempt in (1, 2, 3):
        night.run()
        with night.db() as session:
            packet = session.get(RecordsPacket, packet.packet_id)
            assert packet.attempts == attempt
    with night.db() as session:
        escalated = session.exec(select(Task).where(Task.kind == "upload_failed")).all()
    assert packet.status == "failed" and len(escalated) == 1
    assert escalated[0].owner == "bot-operators"
    assert httpx.get(f"{night.server.url}/_sandbox/meridian/uploads").json() == []


def test_wrong_password_fails_once_raises_one_operator_task_and_is_not_retried(night_factory) -> None:
    night = night_factory(portals=["meridian"], claims=20, store_credentials=False)
    account = httpx.get(f"{night.server.url}/_sandbox/meridian/accounts").json()[0]
    CredentialStore().put(Credential(payer_id="meridian", account="main", username=account["username"],
                                     password="Wrong-Password-1", totp_seed=account["totp_seed"],
                                     portal_url=night.server.portal_url("meridian")))
    first = night.run()
    assert first["accounts"][0]["stopped_by"] == "LoginFailed"
    assert first["accounts"][0]["claims_checked"] == 0
    second = night.run()
    assert list(second["skipped"]) == ["meridian/main"] and second["accounts"] == []
    assert "login_failed" in second["skipped"]["meridian/main"]
    health = cli.invoke(app, ["runs", "--json"])
    assert health.exit_code == 0, health.output
    runs = json.loads(health.output)
    assert [r["status"] for r in runs] == ["completed", "failed"]
    assert runs[1]["errors"] == [{"payer_id": "meridian", "account": "main", "error": "LoginFailed"}]
    stats = night.stats("meridian")
    assert stats["login_attempts"] == {account["username"]: 1} and stats["locked"] == []
    with night.db() as session:
        tasks = session.exec(select(Task)).all()
    assert [t.kind for t in tasks] == ["login_failed"]
    assert tasks[0].owner == "bot-operators" and tasks[0].deadline and tasks[0].reference_number
    screenshot = next(item.get("screenshot_path") for item in tasks[0].evidence if item.get("screenshot_path"))
    assert from_stored(screenshot).is_file()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (self.format(record) if record.exc_info else ""))


def test_no_secret_or_patient_data_in_logs_artifacts_or_errors(night_factory) -> None:
    night = night_factory(portals=["meridian"], claims=40, seed=5)
    collector = _Collect()
    loggers = [logging.getLogger(), logging.getLogger("prefect"), logging.getLogger("payerbot")]
    for logger in loggers:
        logger.addHandler(collector)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        night.run()
        night.harness("meridian/layout/2")  # every claim page now fails: typed errors, screenshots, messages
        night.run(force=True)
    finally:
        logging.getLogger().setLevel(previous)
        for logger in loggers:
            logger.removeHandler(collector)
    world = night.server.states["meridian"].world
    profile = world.profile
    credential = CredentialStore().get("meridian", "main")
    cookies = [c["value"] for c in CredentialStore().load_session(credential)["cookies"] if len(c["value"]) > 6]
    forbidden = {profile.password, profile.totp_seed, *cookies}
    for claim in world.claims:
        forbidden |= {claim.member.member_id, f"{claim.member.first_name} {claim.member.last_name}",
                      claim.member.last_name, claim.member.dob.isoformat(), claim.member.dob.strftime("%m/%d/%Y")}
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        artifacts = [str(a.data) for a in client.read_artifacts() if a.key == "nightly-summary"]
    with night.db() as session:
        runs = [str(r.counts) + str(r.errors) for r in session.exec(select(BotRun))]
        problems = [f"{t.title} {t.payer_said} {t.action}" for t in session.exec(select(Task))
                    if t.owner == "bot-operators"]
    assert artifacts and problems and collector.lines
    assert any("PortalChanged" in p or "changed" in p.lower() for p in problems)
    haystacks = {"logs": "\n".join(collector.lines), "artifacts": "\n".join(artifacts),
                 "bot runs": "\n".join(runs), "operator tasks": "\n".join(problems)}
    for where, text in haystacks.items():
        leaked = sorted(value for value in forbidden if value and value in text)
        assert leaked == [], f"{where} leak {len(leaked)} protected values"


def test_a_packet_for_a_portal_without_uploads_goes_back_to_the_records_team_at_once(night_factory,
                                                                                   tmp_path: Path) -> None:
    night = night_factory(portals=["northwind"], claims=40)
    night.run()
    task = _records_task(night)
    assert task is not None and task.payer_id == "northwind"
    assert cli.invoke(app, ["tasks", "attach", str(task.id), str(records_pdf(tmp_path / "notes.pdf"))]).exit_code == 0
    assert cli.invoke(app, ["tasks", "queue-upload", str(task.id)]).exit_code == 0
    night.run()
    with night.db() as session:
        packet = session.exec(select(RecordsPacket).where(RecordsPacket.task_id == task.id)).one()
        manual = session.exec(select(Task).where(Task.kind == "manual_upload_needed")).all()
    assert packet.status == "failed" and packet.attempts == 1
    assert len(manual) == 1 and manual[0].owner == "records-team" and manual[0].claim_number == task.claim_number
    assert "fax" in manual[0].payer_said
