"""A changed portal stops its payer's lanes on other workers through the database (flows.payer_stop)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from flows.payer_stop import shared_payer_stop
from workqueue import runs
from workqueue.db import get_engine, init_db, session_scope


def _db(home: Path):
    home.mkdir(parents=True, exist_ok=True)
    engine = get_engine(f"sqlite:///{home / 'stops.db'}")
    init_db(engine)

    def db(action, *args):
        with session_scope(engine) as session:
            return action(session, *args)

    return db


def test_a_stop_on_one_worker_reaches_the_payers_lane_on_another(home: Path) -> None:
    db = _db(home)
    found_it, other_worker, other_payer = threading.Event(), threading.Event(), threading.Event()
    with shared_payer_stop(7, "meridian", "main", found_it, db, poll_s=0.05), \
            shared_payer_stop(7, "meridian", "second", other_worker, db, poll_s=0.05), \
            shared_payer_stop(7, "northwind", "main", other_payer, db, poll_s=0.05):
        found_it.set()  # the lane met a changed page (its runner sets the flag)
        assert other_worker.wait(5), "the payer's lane on the other worker never heard of the stop"
        time.sleep(0.2)
        assert not other_payer.is_set()  # another payer goes on
    assert db(runs.payer_stopped, 7, "meridian") and not db(runs.payer_stopped, 8, "meridian")
    assert not db(runs.payer_stopped, 7, "northwind")


def test_a_lane_starting_after_the_stop_is_stopped_before_it_begins(home: Path) -> None:
    db = _db(home)
    db(runs.record_payer_stop, 9, "claimbridge", "main")
    db(runs.record_payer_stop, 9, "claimbridge", "main")  # a second note changes nothing
    late = threading.Event()
    with shared_payer_stop(9, "claimbridge", "late", late, db, poll_s=60):
        assert late.is_set()
