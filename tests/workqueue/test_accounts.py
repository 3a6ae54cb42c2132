"""Portal accounts: the lease one live run holds, runs that died, tonight's logins, blocks and their history."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from workqueue.accounts import (
    account_history,
    acquire_lease,
    block_account,
    blocked_accounts,
    clear_account,
    interrupt_dead_runs,
    logins_tonight,
    night_of,
    record_login,
    release_lease,
    renew_lease,
    this_holder,
)
from workqueue.models import BotRun, PortalAccount
from workqueue.runs import start_run


def _dead_holder() -> str:
    """The holder string of a process that has already ended on this host."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{this_holder().rpartition(':')[0]}:{process.pid}"


def test_a_second_run_cannot_take_an_account_a_live_run_holds(session: Session) -> None:
    assert acquire_lease(session, "meridian", "main", run_id=1, seconds=60) is None
    refused = acquire_lease(session, "meridian", "main", run_id=2, seconds=60, holder="otherhost:1")
    assert refused is not None and refused.run_id == 1 and "held by live run 1" in str(refused)
    assert acquire_lease(session, "meridian", "other", run_id=2, seconds=60) is None  # other accounts are free
    assert renew_lease(session, "meridian", "main", run_id=1, seconds=60)
    assert not renew_lease(session, "meridian", "main", run_id=2, seconds=60)
    release_lease(session, "meridian", "main", run_id=1)
    session.commit()
    assert acquire_lease(session, "meridian", "main", run_id=2, seconds=60) is None


def test_a_lease_expires_when_it_is_not_renewed_or_its_process_died(session: Session) -> None:
    assert acquire_lease(session, "meridian", "main", run_id=1, seconds=-1, holder="otherhost:1") is None
    assert acquire_lease(session, "meridian", "main", run_id=2, seconds=60, holder="otherhost:2") is None  # expired
    assert acquire_lease(session, "northwind", "main", run_id=2, seconds=600, holder=_dead_holder()) is None
    assert acquire_lease(session, "northwind", "main", run_id=3, seconds=60) is None  # its process is gone
    row = session.get(PortalAccount, ("northwind", "main"))
    session.refresh(row)
    assert row.lease_run_id == 3


def test_runs_whose_process_died_are_marked_interrupted(session: Session) -> None:
    dead = start_run(session, flow_run_id=None, payer_ids=["meridian"], holder=_dead_holder())
    alive = start_run(session, flow_run_id=None, payer_ids=["meridian"], holder=this_holder())
    quiet = start_run(session, flow_run_id=None, payer_ids=["meridian"], holder="otherhost:7")
    session.get(BotRun, quiet).heartbeat_at = datetime.now(UTC) - timedelta(hours=1)
    session.commit()
    assert acquire_lease(session, "meridian", "main", run_id=dead, seconds=600) is None
    assert sorted(interrupt_dead_runs(session, stale_after_s=600)) == sorted([dead, quiet])
    statuses = {r.id: r.status for r in session.exec(select(BotRun))}
    assert statuses == {dead: "interrupted", alive: "running", quiet: "interrupted"}
    assert session.get(PortalAccount, ("meridian", "main")).lease_run_id is None  # its lease went with it


def test_logins_count_per_night_and_start_again_the_next(session: Session) -> None:
    evening = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert night_of(evening) == night_of(evening + timedelta(hours=8))  # 23:00 and 07:00 UTC: one US night
    assert record_login(session, "meridian", "main", evening) == 1
    assert record_login(session, "meridian", "main", evening + timedelta(hours=3)) == 2
    assert logins_tonight(session, "meridian", "main", evening + timedelta(hours=4)) == 2
    assert logins_tonight(session, "meridian", "main", evening + timedelta(days=1)) == 0
    assert record_login(session, "meridian", "main", evening + timedelta(days=1)) == 1


def test_a_block_is_cleared_only_with_a_note_and_both_are_in_history(session: Session) -> None:
    assert block_account(session, "meridian", "main", kind="mfa_required", reason="MfaRequired: code refused")
    assert not block_account(session, "meridian", "main", kind="login_failed", reason="again")  # still the first
    assert set(blocked_accounts(session)) == {("meridian", "main")}
    with pytest.raises(ValueError, match="--note"):
        clear_account(session, "meridian", "main", actor="ops", note=" ")
    clear_account(session, "meridian", "main", actor="ops", note="new seed stored")
    with pytest.raises(LookupError, match="not blocked"):
        clear_account(session, "meridian", "main", actor="ops", note="twice")
    assert blocked_accounts(session) == {}
    assert [(h.action, h.actor) for h in account_history(session, "meridian", "main")] == [
        ("blocked", "bot"), ("cleared", "ops")]


def test_a_lane_whose_lease_was_taken_over_is_told_to_stop(session: Session, monkeypatch) -> None:
    """The renewer finds another run holding the account (this one stalled past its lease): `lost` is set."""
    from types import SimpleNamespace

    from flows import nightly

    monkeypatch.setattr(nightly, "load_rules", lambda: SimpleNamespace(night=SimpleNamespace(lease_seconds=1.5)))
    monkeypatch.setattr(nightly, "get_engine", lambda: session.get_bind())
    work = SimpleNamespace(payer_id="meridian", credential=SimpleNamespace(account="main"))
    with nightly._account_lease(work, run_id=1) as (refused, lost):
        assert refused is None and not lost.is_set()
        row = session.get(PortalAccount, ("meridian", "main"))
        row.lease_run_id, row.lease_holder = 2, "otherhost:2"  # what a second run's acquire leaves behind
        session.add(row)
        session.commit()
        assert lost.wait(5), "the renewer noticed within a renewal interval"
    session.refresh(row)
    assert row.lease_run_id == 2, "the lane that lost the lease does not release the new holder's lease"
