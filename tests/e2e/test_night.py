"""End to end: nights against the Meridian sandbox portal, checked against the portal's oracle."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from tests.e2e.checks import (
    check_claims_against_oracle,
    check_documents_and_authorizations,
    check_tasks_against_oracle,
    table_counts,
)
from workqueue.models import Document, Task, TaskHistory

pytestmark = pytest.mark.e2e
def test_nights_against_meridian_match_the_oracle(night_factory) -> None:
    night = night_factory(portals=["meridian"])
    observed = datetime.now(UTC).date()

    # Night 1: everything is new.
    first = night.run()
    assert first["errors"] == [] and first["skipped"] == {}
    oracle = night.oracle("meridian")
    check_claims_against_oracle(night, oracle)
    check_documents_and_authorizations(night, oracle)
    check_tasks_against_oracle(night, oracle, observed)
    assert night.stats("meridian")["counters"]["totp_verifications"] == 1
    after_first = table_counts(night)

    # Night 2, re-checking every open claim: nothing new, and the saved session means no TOTP step.
    second = night.run(force=True)
    assert second["errors"] == []
    assert second["accounts"][0]["claims_checked"] > 0
    assert "session_reused" in second["accounts"][0]["events"] and "totp" not in second["accounts"][0]["events"]
    assert night.stats("meridian")["counters"]["totp_verifications"] == 1
    assert night.stats("meridian")["login_attempts"] == {"harbor.billing": 1}
    assert table_counts(night) == after_first

    # Night 3: new letters arrive on the portal; exactly those are picked up.
    released = night.harness("meridian/release-letters")["released"]
    assert released
    night.run()
    oracle = night.oracle("meridian")
    with night.db() as session:
        new_documents = session.exec(select(Document.portal_document_id)).all()
    assert sorted(set(new_documents) - set(released)) == sorted(
        letter["letter_id"] for letter in oracle["letters"] if letter["letter_id"] not in released)
    assert len(new_documents) == after_first["Document"] + len(released)
    check_documents_and_authorizations(night, oracle)
    check_tasks_against_oracle(night, oracle, observed)

    # Night 4: the payer pays every claim pended for records; their tasks close, saying why.
    settled = night.harness("meridian/settle-pended")["settled"]
    assert settled
    night.run(force=True)
    oracle = night.oracle("meridian")
    check_claims_against_oracle(night, oracle)
    with night.db() as session:
        records = session.exec(select(Task).where(Task.kind == "records_request",
                                                  Task.claim_number.in_(settled))).all()
        assert records and all(t.status == "done" for t in records)
        for task in records:
            notes = [h.note or "" for h in session.exec(select(TaskHistory).where(TaskHistory.task_id == task.id))]
            assert any("F1" in note for note in notes), notes
    check_tasks_against_oracle(night, oracle, observed)
