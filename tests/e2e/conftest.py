"""A night against the sandbox: real portals over HTTP, real Chromium, the real Prefect flow, a real DB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from bots.credentials import CredentialStore
from sandbox.server import SandboxServer


@dataclass
class Night:
    """One practice's payerbot install pointed at a sandbox."""

    server: SandboxServer
    home: Path

    def oracle(self, portal: str) -> dict:
        return httpx.get(f"{self.server.url}/_sandbox/{portal}/oracle").json()

    def stats(self, portal: str) -> dict:
        return httpx.get(f"{self.server.url}/_sandbox/{portal}/stats").json()

    def harness(self, path: str) -> dict:
        response = httpx.post(f"{self.server.url}/_sandbox/{path}")
        response.raise_for_status()
        return response.json()

    def run(self, payers: list[str] | None = None, *, force: bool = False,
            maintenance_wait_minutes: float | None = None) -> dict:
        from flows.nightly import nightly

        return nightly(payer_ids=payers or sorted(self.server.states), force=force,
                       maintenance_wait_minutes=maintenance_wait_minutes)

    def faults(self, spec: str) -> dict:
        response = httpx.post(f"{self.server.url}/_sandbox/faults", json={"spec": spec})
        response.raise_for_status()
        return response.json()

    @contextmanager
    def db(self) -> Iterator[Session]:
        from workqueue.db import get_engine, session_scope

        with session_scope(get_engine()) as session:
            yield session


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """The Prefect API of this test process's flows, for the nights a test starts as `payerbot` subprocesses.

    A subprocess without PREFECT_API_URL starts a temporary Prefect server of its own (7-9 s before the night
    begins); pointed at this process's one, it starts at once, as a night does against a real Prefect server.
    Killing the subprocess's process group still kills the whole night (Python, driver, Chromium).
    """
    from flows.env import configure_prefect

    configure_prefect()  # this machine's Prefect settings, in case nothing imported `flows` yet
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return PREFECT_API_URL.value()
    server = SubprocessASGIServer()  # the one Prefect's client starts for this process's flows: started once
    server.start()
    return server.api_url


@pytest.fixture
def night_factory(payerbot_home: Path) -> Iterator[Callable[..., Night]]:
    """Start a sandbox, import its claims inventory and store its demo credentials (encrypted)."""
    servers: list[SandboxServer] = []

    def start(*, portals: list[str], claims: int = 220, seed: int = 7, store_credentials: bool = True) -> Night:
        from flows.demo import fetch_inventory, store_sandbox_credentials
        from workqueue.db import get_engine, init_db, session_scope
        from workqueue.inventory import import_claims

        server = SandboxServer(seed=seed, claims=claims, portals=portals).__enter__()
        servers.append(server)
        init_db(get_engine())
        inventory = fetch_inventory(server, payerbot_home / "inventory.csv")
        with session_scope(get_engine()) as session:
            import_claims(inventory, session)
        if store_credentials:
            store_sandbox_credentials(server, CredentialStore())
        return Night(server=server, home=payerbot_home)

    yield start
    for server in servers:
        server.__exit__(None, None, None)
