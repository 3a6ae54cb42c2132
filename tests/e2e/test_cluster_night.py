"""End to end: `scripts/cluster-night` runs a night across two Prefect workers on PostgreSQL, checked from outside.

The script starts its own Prefect server, workers, browsers and sandbox and stops them; this test gives it a
fresh PostgreSQL schema (on `./run test`'s server, or a throw-away one), then reads what the night left there
and compares it with the oracle of a sandbox of the same seed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from flows.cluster_local import own_schema, postgres_server
from sandbox.server import SandboxServer
from tests.e2e.checks import check_claims_against_oracle
from workqueue.models import BotRun, StatusFinding

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster-night"
SEED, CLAIMS, PER_PORTAL = 7, 8, 2
# Each portal's first account downloads every letter and authorization: 6 authorizations (every status the
# world draws) make ~9 letters instead of the default 30 and 30, and the night's longest account shorter.
AUTHORIZATIONS = 6
SUMMARY = re.compile(r"^cluster night: (\d+) workers, (\d+) accounts, (\d+) claims checked, (\d+) checked twice, "
                     r"sessions within limits: (yes|no)$")


class _Queue:
    """The work queue the night wrote (what tests.e2e.checks reads through `db()`)."""

    def __init__(self, url: str):
        from workqueue.db import get_engine

        self.engine = get_engine(url)

    @contextmanager
    def db(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session


def _oracles() -> dict[str, dict]:
    """Each portal's oracle, from a sandbox of the script's seed and size (the worlds are deterministic)."""
    with SandboxServer(seed=SEED, claims=CLAIMS, authorizations=AUTHORIZATIONS,
                       accounts_per_practice=PER_PORTAL) as server:
        return {portal: httpx.get(f"{server.url}/_sandbox/{portal}/oracle").json() for portal in server.states}


def test_two_workers_share_one_night_within_every_payer_session_cap(tmp_path: Path) -> None:
    with ExitStack() as stack:
        base = os.environ.get("PAYERBOT_TEST_POSTGRES_URL") or stack.enter_context(postgres_server())
        url = stack.enter_context(own_schema(base))
        # The script sets its own data, secrets and Prefect folders and server; the rest of the environment stays.
        done = subprocess.run([str(SCRIPT), "--claims", str(CLAIMS), "--seed", str(SEED),
                               "--authorizations", str(AUTHORIZATIONS), "--database-url", url],
                              env=os.environ | {"PAYERBOT_PYTHON": sys.executable}, capture_output=True, text=True,
                              timeout=420, cwd=tmp_path)
        lines = done.stdout.strip().splitlines()
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        summary = SUMMARY.match(lines[-1])
        assert summary, lines[-5:]
        workers, accounts, checked, twice, within = summary.groups()

        oracles = _oracles()
        on_file = sum(1 for o in oracles.values() for c in o["claims"].values() if c["on_file"])
        assert (int(workers), int(accounts)) == (2, PER_PORTAL * len(oracles))
        assert int(checked) == on_file and on_file > 0
        assert (int(twice), within) == (0, "yes")
        worked = {m[1]: m[2].split(", ") for line in lines if (m := re.match(r"^(worker-\d+): (.+)$", line))}
        assert sorted(worked) == ["worker-1", "worker-2"], lines
        assert all(w != ["(none)"] for w in worked.values()), "both workers worked at least one account"
        assert sorted(a for w in worked.values() for a in w) == sorted(
            f"{portal}/acct-{n}" for portal in oracles for n in range(1, PER_PORTAL + 1))

        queue = _Queue(url)
        for oracle in oracles.values():
            check_claims_against_oracle(queue, oracle)  # a finding for every claim, each matching the payer's truth
        with queue.db() as session:
            found = {f.claim_number for f in session.exec(select(StatusFinding))}
            runs = session.exec(select(BotRun)).all()
        assert found == {n for o in oracles.values() for n in o["claims"]}
        assert [(r.status, r.errors) for r in runs] == [("completed", [])]
        queue.engine.dispose()
