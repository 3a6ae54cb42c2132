"""A night killed mid-run is resumed by the next run without duplicates, and ends equal to the oracle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlmodel import func, select

from tests.e2e.checks import check_claims_against_oracle, check_tasks_against_oracle
from workqueue.models import Document, StatusFinding, Task

pytestmark = pytest.mark.e2e


def test_a_night_killed_after_its_first_batches_resumes_without_duplicates(night_factory, prefect_api) -> None:
    night = night_factory(portals=["meridian"], claims=120)
    process = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "nightly", "--payer", "meridian"],
                               env={**os.environ, "PREFECT_API_URL": prefect_api}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        stored = 0
        while stored < 30:  # at least one batch of claim findings is in the database
            assert time.monotonic() < deadline, "the first run never stored a batch"
            assert process.poll() is None, "the first run ended before it could be interrupted"
            time.sleep(0.5)
            with night.db() as session:
                stored = session.exec(select(func.count()).select_from(StatusFinding)).one()
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole process group: Python, driver, Chromium
        process.wait(timeout=30)
    with night.db() as session:
        interrupted_at = session.exec(select(func.count()).select_from(StatusFinding)).one()
    assert 30 <= interrupted_at < 120

    resumed = night.run()
    assert resumed["errors"] == []
    assert resumed["accounts"][0]["claims_checked"] == 120 - interrupted_at  # only what was left
    oracle = night.oracle("meridian")
    check_claims_against_oracle(night, oracle)
    check_tasks_against_oracle(night, oracle, datetime.now(UTC).date())
    with night.db() as session:
        per_claim = Counter(session.exec(select(StatusFinding.claim_number)).all())
        documents = session.exec(select(Document.portal_document_id)).all()
        keys = session.exec(select(Task.dedupe_key)).all()
    assert set(per_claim.values()) == {1}
    assert len(documents) == len(set(documents)) == len(oracle["letters"])
    assert len(keys) == len(set(keys))
