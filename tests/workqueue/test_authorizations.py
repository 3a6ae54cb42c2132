"""Authorization rules: denied, long-pended, expiring, units low, claims outside the authorization."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bots.findings import AuthorizationFinding
from tests.workqueue.conftest import NOW, add_claim, prov
from workqueue.models import Authorization, AuthorizationHistory
from workqueue.persist import persist_findings
from workqueue.tasks import list_tasks

TODAY = NOW.date()


def auth(when=NOW, **kw) -> AuthorizationFinding:
    values = dict(auth_number="MHPA1234567", member_id="MRD123456789", service="Physical therapy",
                  procedure_codes=["97110", "97140", "97530"], raw_status="Approved", status="approved",
                  approved_units=12, used_units=2, start_date=TODAY - timedelta(days=30),
                  end_date=TODAY + timedelta(days=60), requested_date=TODAY - timedelta(days=32))
    values.update(kw)
    return AuthorizationFinding(provenance=prov(when=when), **values)


def kinds(session) -> set[str]:
    return {t.kind for t in list_tasks(session)}


def test_healthy_authorization_raises_nothing(session):
    persist_findings(session, [auth()])
    assert kinds(session) == set()


def test_denied(session):
    persist_findings(session, [auth(status="denied", raw_status="Denied", approved_units=0, used_units=0,
                                    decision_date=TODAY - timedelta(days=1))])
    [task] = list_tasks(session)
    assert (task.kind, task.owner, task.reference_number) == ("auth_denied", "auth-team", "MHPA1234567")
    assert task.deadline == TODAY - timedelta(days=1) + timedelta(days=30)


@pytest.mark.parametrize(("days", "raised"), [(7, False), (8, True)])
def test_pending_longer_than_the_limit(session, days, raised):
    persist_findings(session, [auth(status="pended", raw_status="Pending review", approved_units=0, used_units=0,
                                    start_date=None, end_date=None, requested_date=TODAY - timedelta(days=days))])
    assert kinds(session) == ({"auth_pending"} if raised else set())


@pytest.mark.parametrize(("ends_in", "used", "raised"), [(14, 2, True), (15, 2, False), (-1, 2, False),
                                                         (5, 12, False)])
def test_expiring_with_units_left(session, ends_in, used, raised):
    persist_findings(session, [auth(end_date=TODAY + timedelta(days=ends_in), used_units=used)])
    assert ("auth_expiring" in kinds(session)) is raised
    if raised:
        assert list_tasks(session, kind="auth_expiring")[0].deadline == TODAY + timedelta(days=ends_in)


@pytest.mark.parametrize(("used", "raised"), [(9, False), (10, True)])  # 0.8 * 12 = 9.6
def test_units_low(session, used, raised):
    persist_findings(session, [auth(used_units=used)])
    assert ("auth_units_low" in kinds(session)) is raised


def test_claims_outside_the_authorization(session):
    common = dict(auth_number="MHPA1234567")
    add_claim(session, "C1", date_of_service=TODAY - timedelta(days=10), procedure_codes="97110", units="2", **common)
    add_claim(session, "C2", date_of_service=TODAY + timedelta(days=65), procedure_codes="97110", units="1", **common)
    add_claim(session, "C3", date_of_service=TODAY - timedelta(days=5), procedure_codes="99204", units="1", **common)
    add_claim(session, "C4", date_of_service=TODAY - timedelta(days=5), procedure_codes="97110;97140",
              units="8;5", **common)
    persist_findings(session, [auth()])
    mismatched = {t.claim_number: t for t in list_tasks(session, kind="auth_mismatch")}
    assert set(mismatched) == {"C2", "C3", "C4"}
    assert all(t.reference_number == "MHPA1234567" for t in mismatched.values())


def test_condition_gone_closes_task_and_history_is_field_level(session):
    persist_findings(session, [auth(used_units=11)])
    assert kinds(session) == {"auth_units_low"}
    persist_findings(session, [auth(when=NOW + timedelta(days=1), approved_units=24, used_units=11,
                                    raw_status="Approved (extended)")])
    assert kinds(session) == set()
    assert list_tasks(session, status="done")[0].kind == "auth_units_low"
    row = session.exec(select(Authorization)).one()
    changes = {h.field: (h.old, h.new) for h in session.exec(select(AuthorizationHistory)).all()}
    assert changes == {"approved_units": ("12", "24"), "raw_status": ("Approved", "Approved (extended)")}
    assert row.approved_units == 24
