"""Shared pytest fixtures: the sandbox over real HTTP, quiet Chromium, isolated data and secrets folders.

Lives at the repo root so the tests under `payers/<id>/tests/` (tests that live with each site) get them too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Page

from bots.adapter import PortalAdapter, PortalSession
from bots.browser import launch_options
from bots.credentials import Credential
from bots.evidence import EvidenceStore
from sandbox.server import SandboxServer

os.environ.setdefault("DO_NOT_TRACK", "1")
# One Prefect state folder for every test run: its first use costs ~23 s of migrations, later ones ~10 s.
os.environ.setdefault("PREFECT_HOME", str(Path(__file__).parent / "var" / "prefect-test"))


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """Every sandbox portal on one 127.0.0.1 port, full-size world, shared by read-only tests."""
    with SandboxServer(seed=7) as server:
        yield server


@pytest.fixture
def fresh_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of its own for a test that changes portal state (uploads, letters, switches)."""
    with SandboxServer(seed=11, claims=60) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args(playwright) -> dict:
    """pytest-playwright launches the same quiet Chromium the bots use (system build where needed)."""
    return launch_options(playwright)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "accept_downloads": True}


@pytest.fixture
def payerbot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder and secrets folder for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("PAYERBOT_HOME", str(home))
    monkeypatch.setenv("PAYERBOT_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.delenv("PAYERBOT_DATABASE_URL", raising=False)
    return home


def sandbox_credential(server: SandboxServer, payer_id: str, *, password: str | None = None,
                       portal: str | None = None) -> Credential:
    """The sandbox portal's demo account as a Credential (optionally with a wrong password)."""
    portal = portal or payer_id
    account = httpx.get(f"{server.url}/_sandbox/{portal}/accounts").json()[0]
    return Credential(payer_id=payer_id, account="main", username=account["username"],
                      password=password or account["password"], totp_seed=account["totp_seed"],
                      portal_url=server.portal_url(portal))


class SandboxCodes:
    """One-time code provider reading the sandbox's mailbox endpoint (a real one reads e-mail or SMS)."""

    def __init__(self, server: SandboxServer, payer_id: str):
        self.url = f"{server.url}/_sandbox/{payer_id}/mailbox"

    def latest_code(self, credential: Credential, *, after: float) -> str | None:
        return httpx.get(f"{self.url}/{credential.username}").json()["code"]


@pytest.fixture
def make_adapter(page: Page, tmp_path: Path) -> Callable[..., PortalAdapter]:
    """Build a payer's adapter on pytest-playwright's page, pointed at a sandbox portal."""

    def build(server: SandboxServer, payer_id: str, *, password: str | None = None) -> PortalAdapter:
        from bots.registry import get_adapter

        adapter_cls = get_adapter(payer_id)
        portal = adapter_cls.manifest.sandbox_portal or payer_id  # a new payer may reuse a portal's sandbox
        credential = sandbox_credential(server, payer_id, password=password, portal=portal)
        session = PortalSession(page=page, context=page.context, credential=credential,
                                base_url=server.portal_url(portal), evidence=EvidenceStore(tmp_path / "evidence"),
                                one_time_codes=SandboxCodes(server, portal), download_dir=tmp_path / "downloads")
        return adapter_cls(session)

    return build


def totp_now(seed: str) -> str:
    """The current TOTP code for a seed (tests that log in by hand)."""
    return pyotp.TOTP(seed).now()
