"""The night process killed (SIGKILL, whole process group) at three bad moments; each re-run ends with no duplicates.

1. right after the portal accepted an upload, before the database heard of it;
2. in the middle of a letter download;
3. in the middle of a batch of claim checks.
The next run marks the dead one interrupted, reconciles the upload against the portal's own history, and
the sandbox's upload record shows the packet accepted exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bots.evidence import from_stored
from flows.cli import app
from tests.e2e.checks import check_claims_against_oracle, check_tasks_against_oracle, records_pdf
from workqueue.models import BotRun, Document, RecordsPacket, StatusFinding, Task

pytestmark = pytest.mark.e2e
cli = CliRunner()



def _kill_when(condition: Callable[[], bool], what: str, prefect_api: str,
               meanwhile: Callable[[], None] | None = None) -> None:
    """Start `payerbot run nightly` in its own process group; SIGKILL the whole group once `condition` holds.

    The night uses the test process's Prefect API (`prefect_api`). `meanwhile` runs after the condition
    holds and before the kill, while the night is still live.
    """
    process = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "nightly", "--payer", "meridian",
                                "--force"], env={**os.environ, "PREFECT_API_URL": prefect_api},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not condition():
            assert time.monotonic() < deadline, f"never reached: {what}"
            assert process.poll() is None, f"the run ended before {what}"
            time.sleep(0.2)
        if meanwhile is not None:
            meanwhile()
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # Python, the Playwright driver and Chromium alike
        process.wait(timeout=30)


def test_a_night_killed_at_three_points_resumes_with_everything_once(night_factory, prefect_api, tmp_path) -> None:
    night = night_factory(portals=["meridian"], claims=60)
    sandbox = f"{night.server.url}/_sandbox/meridian"
    night.run()
    with night.db() as session:
        task = session.exec(select(Task).where(Task.kind == "records_request").order_by(Task.id)).first()
        letters_before = len(session.exec(select(Document)).all())
    assert cli.invoke(app, ["tasks", "attach", str(task.id), str(records_pdf(tmp_path / "notes.pdf"))]).exit_code == 0
    assert cli.invoke(app, ["tasks", "queue-upload", str(task.id)]).exit_code == 0
    released = len(night.harness("meridian/release-letters")["released"])
    assert released > 0  # new letters tonight, so the night downloads some

    # 1. The portal files the upload, then holds its confirmation page: killed in between.
    httpx.post(f"{sandbox}/faults", json={"hold_upload_s": 60}).raise_for_status()
    _kill_when(lambda: len(httpx.get(f"{sandbox}/uploads").json()) == 1, "the portal accepted the upload",
               prefect_api)
    with night.db() as session:
        packet = session.exec(select(RecordsPacket)).one()
    assert packet.status == "uploading" and packet.confirmation_number is None  # the database never heard

    # 2. The next run reconciles the packet first, then is killed while a letter download hangs.
    httpx.post(f"{sandbox}/faults", json={"hold_upload_s": 0, "hold_download_s": 60}).raise_for_status()
    downloads = night.stats("meridian")["downloads_started"]
    second: dict = {}
    _kill_when(lambda: night.stats("meridian")["downloads_started"] > downloads, "a letter download started",
               prefect_api, meanwhile=lambda: second.update(night.run(force=True)))
    # A second run started while the first is live does not touch the account it holds, and says so.
    assert second["accounts"] == [] and "held by live run" in second["skipped"]["meridian/main"]
    assert second["interrupted"] == []  # the live run is not taken for a dead one
    with night.db() as session:
        packet = session.exec(select(RecordsPacket)).one()
    uploads = httpx.get(f"{sandbox}/uploads").json()
    assert len(uploads) == 1, "the packet was sent again instead of being looked up"
    assert (packet.status, packet.confirmation_number) == ("uploaded", uploads[0]["confirmation_number"])

    # 3. Killed in the middle of a batch of claim checks.
    httpx.post(f"{sandbox}/faults", json={"hold_download_s": 0}).raise_for_status()
    searches = night.stats("meridian")["counters"].get("searches", 0)
    _kill_when(lambda: night.stats("meridian")["counters"].get("searches", 0) >= searches + 10,
               "ten claim searches", prefect_api)

    final = night.run(force=True)
    # each run marked the one killed before it; this one marks the last
    assert final["errors"] == [] and len(final["interrupted"]) == 1
    runs = json.loads(cli.invoke(app, ["runs", "--json", "--limit", "5"]).output)
    assert [r["status"] for r in runs] == ["completed", "interrupted", "completed", "interrupted", "interrupted"]

    oracle = night.oracle("meridian")
    check_claims_against_oracle(night, oracle)
    check_tasks_against_oracle(night, oracle, datetime.now(UTC).date())
    with night.db() as session:
        per_claim = Counter(session.exec(select(StatusFinding.claim_number)).all())
        documents = session.exec(select(Document)).all()
        keys = session.exec(select(Task.dedupe_key)).all()
        packet = session.exec(select(RecordsPacket)).one()
        statuses = [r.status for r in session.exec(select(BotRun).order_by(BotRun.id))]
    assert set(per_claim.values()) == {1}
    ids = [d.portal_document_id for d in documents]
    assert len(ids) == len(set(ids)) == len(oracle["letters"]) == letters_before + released
    assert all(from_stored(d.stored_path).is_file() for d in documents)
    assert len(keys) == len(set(keys))
    # night 1, the three killed runs and the one that ran beside the second; then this one
    assert statuses == ["completed", "interrupted", "interrupted", "completed", "interrupted", "completed"]
    uploads = httpx.get(f"{sandbox}/uploads").json()
    assert len(uploads) == 1 and packet.confirmation_number == uploads[0]["confirmation_number"]
    # Each letter on disk once, and no half-written file left by the killed download.
    pdfs = [p for p in night.home.rglob("*") if p.is_file() and p.suffix in (".pdf", ".part", ".tmp")
            and "packets" not in p.parts]
    assert sorted(p.suffix for p in pdfs) == [".pdf"] * len(documents)
