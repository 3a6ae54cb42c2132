"""The cluster night's pieces that need no server: parameters carry no secrets, deployments, the CLI's guard."""

from __future__ import annotations

import json
from datetime import date

from typer.testing import CliRunner

from bots.credentials import Credential
from bots.findings import ClaimQuery, RecordsPacket
from bots.runner import AccountWork
from flows.cluster import account_parameters, limit_name
from flows.deployments import cluster_night_deployment

PASSWORD, SEED, MEMBER, LAST_NAME = "Synthetic-Pass-41!", "JBSWY3DPEHPK3PXP", "MBR-99417", "Quillfeather"


def test_account_run_parameters_are_identifiers_never_secrets_or_patient_data() -> None:
    credential = Credential(payer_id="meridian", account="acct-2", username="front.desk@example.test",
                            password=PASSWORD, totp_seed=SEED)
    claim = ClaimQuery(claim_number="PCN-1001", payer_id="meridian", member_id=MEMBER, date_of_service=date(2026, 2, 3),
                       patient_last_name=LAST_NAME, patient_dob=date(1961, 5, 6))
    packet = RecordsPacket(packet_id="pkt-7", claim_number="PCN-1001", file_path="/data/pkt-7.pdf", sha256="ab" * 32)
    work = AccountWork(payer_id="meridian", credential=credential, claims=[claim], uploads=[packet],
                       correspondence=True, correspondence_since=date(2026, 1, 15))
    parameters = account_parameters(work, run_id=12, maintenance_wait_s=60)
    assert parameters == {"payer_id": "meridian", "account": "acct-2", "run_id": 12, "claim_numbers": ["PCN-1001"],
                          "upload_ids": ["pkt-7"], "reconcile_ids": [], "correspondence": True,
                          "correspondence_since": "2026-01-15", "maintenance_wait_s": 60}
    stored = json.dumps(parameters)  # what Prefect keeps in its database
    for secret in (PASSWORD, SEED, MEMBER, LAST_NAME, "1961", "front.desk", "/data/"):
        assert secret not in stored


def test_cluster_night_deployment_carries_the_cron_and_each_payer_has_its_own_limit() -> None:
    deployment = cluster_night_deployment("30 2 * * *", ["northwind"])
    assert deployment.name == "payerbot-cluster-night"
    assert [s.schedule.cron for s in deployment.schedules] == ["30 2 * * *"]
    assert deployment.parameters == {"payer_ids": ["northwind"], "force": False}
    assert limit_name("claimbridge") == "payer-claimbridge" != limit_name("meridian")


def test_schedule_cluster_refuses_to_start_without_a_prefect_server(monkeypatch) -> None:
    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    served: list = []
    monkeypatch.setattr("flows.deployments.serve_nightly", lambda *a, **k: served.append((a, k)))
    refused = CliRunner().invoke(app, ["schedule", "--cluster"])
    assert refused.exit_code == 2 and "PREFECT_API_URL" in refused.output and served == []
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    accepted = CliRunner().invoke(app, ["schedule", "--cluster", "--pool", "night-pool", "--cron", "5 1 * * *"])
    assert accepted.exit_code == 0, accepted.output
    assert served == [(("5 1 * * *", None), {"cluster": True, "work_pool": "night-pool"})]
