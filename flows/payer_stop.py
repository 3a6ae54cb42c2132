"""A changed portal stops its payer on every worker: the stop goes through the work queue's database.

In one process the payer's lanes share a `threading.Event`. A night on a work pool runs each account in
a flow run of its own, on whichever worker took it, so the lane that meets a changed page also writes a
`payer_stop` row for the bot run, and every lane of that payer polls for it: a changed portal costs one
operator task and a few seconds of other lanes, not a night of PortalChanged failures on every worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from workqueue import runs

_log = logging.getLogger("payerbot.flows")
#: how often a lane looks whether another worker stopped its payer
POLL_S = 5.0


@contextmanager
def shared_payer_stop(run_id: int, payer_id: str, account: str, stop: threading.Event,
                      db: Callable[..., Any], *, poll_s: float = POLL_S) -> Iterator[threading.Event]:
    """While the lane works, mirror `stop` to and from the database (`db` runs one work-queue action)."""
    def published() -> bool:
        if stop.is_set():
            db(runs.record_payer_stop, run_id, payer_id, account)
            return True
        if db(runs.payer_stopped, run_id, payer_id):
            stop.set()
            return True
        return False

    done = threading.Event()

    def watch() -> None:
        while not done.wait(poll_s):
            try:
                if published():
                    return
            except Exception as error:  # a database hiccup: look again at the next poll
                _log.warning("%s: payer stop not shared (%s)", payer_id, type(error).__name__)

    published()  # stopped already (another worker, earlier tonight): the lane does not start
    watcher = threading.Thread(target=watch, name=f"payer-stop-{payer_id}-{account}", daemon=True)
    watcher.start()
    try:
        yield stop
    finally:
        done.set()
        watcher.join(timeout=10)
        if stop.is_set():
            db(runs.record_payer_stop, run_id, payer_id, account)
