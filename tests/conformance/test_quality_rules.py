"""Conformance tests that prove the quality rules no other conformance test covers (see bots/quality.py).

site-tests (the folder has its own portal tests), session-reuse (a saved session is recognised in a new
browser context without a second login) and transient-errors (maintenance and 5xx are PortalUnavailable,
a captcha at sign-in is CaptchaChallenge), run for every payer like the rest of the suite.
"""

from __future__ import annotations

import ast
import csv
import io
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx
import pytest

from bots.adapter import PortalAdapter
from bots.errors import CaptchaChallenge, PortalUnavailable
from bots.findings import ClaimQuery
from bots.registry import get_adapter, registry
from bots.session import ensure_logged_in


def _portal(payer_id: str) -> str:
    """The sandbox portal a payer's conformance runs against."""
    portal = get_adapter(payer_id).manifest.sandbox_portal
    assert portal, f"{payer_id}: conformance against a sandbox needs manifest.sandbox_portal"
    return portal


def _harness(server, portal: str, path: str, **json: object) -> dict:
    """POST one sandbox switch (or fault settings) and return its answer."""
    response = httpx.post(f"{server.url}/_sandbox/{portal}/{path}", json=json or None)
    response.raise_for_status()
    return response.json()


def _queries(server, payer_id: str, portal: str) -> list[ClaimQuery]:
    """Search keys for the portal's claims, from its inventory (what the work queue would pass)."""
    text = httpx.get(f"{server.url}/_sandbox/{portal}/inventory.csv").text
    return [ClaimQuery(claim_number=row["claim_number"], payer_id=payer_id, member_id=row["member_id"],
                       date_of_service=date.fromisoformat(row["date_of_service"]),
                       payer_claim_number=row["payer_claim_number"] or None)
            for row in csv.DictReader(io.StringIO(text))]


def _logged_in(make_adapter, server, payer_id: str) -> PortalAdapter:
    """An adapter with a live portal session."""
    adapter = make_adapter(server, payer_id)
    ensure_logged_in(adapter)
    return adapter


def _portal_site_tests(folder: Path) -> list[str]:
    """Names of the folder's own tests that work a portal: a test taking no fixture cannot open one."""
    return [node.name for path in sorted((folder / "tests").glob("test_*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and node.args.args]


# Like the HAR replay, generated only for payers that have such tests: a payer without them is not failed,
# it just does not prove the site-tests rule (the scaffold's one manifest check takes no fixture).
SITE_PAYERS = sorted(pid for pid, cls in registry().items() if _portal_site_tests(cls.package_dir))


@pytest.mark.parametrize("site_payer", SITE_PAYERS)
def test_payer_folder_has_site_tests(site_payer: str) -> None:
    """The payer's own portal tests import and collect cleanly (they run with the rest of the test suite)."""
    folder = get_adapter(site_payer).package_dir
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                str(folder / "tests")], capture_output=True, text=True, timeout=120, check=False)
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert any(f"::{name}" in collected.stdout for name in _portal_site_tests(folder)), collected.stdout[-2000:]


def test_saved_session_is_recognised(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """A session saved after one login is live in a new browser context: no second login, no second MFA."""
    portal = _portal(payer_id)
    first = _logged_in(make_adapter, fresh_sandbox, payer_id)
    saved = first.session.context.storage_state()
    context = first.session.context.browser.new_context(storage_state=saved, accept_downloads=True)
    try:
        second = type(first)(replace(first.session, page=context.new_page(), context=context, events=[]))
        # ensure_logged_in is what a night runs: False means it reused the session and never logged in.
        assert ensure_logged_in(second) is False
        assert second.session.events == ["session_reused"], second.session.events
    finally:
        context.close()
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/stats").json()
    assert stats["login_attempts"] == {first.session.credential.username: 1}


def test_maintenance_is_portal_unavailable(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """Mid-run, the maintenance page and a 5xx answer are transient PortalUnavailable, never wrong data."""
    portal = _portal(payer_id)
    query = _queries(fresh_sandbox, payer_id, portal)[0]
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    _harness(fresh_sandbox, portal, "maintenance/true")
    with pytest.raises(PortalUnavailable) as maintenance:
        adapter.check_claim_status(query)
    assert maintenance.value.transient
    _harness(fresh_sandbox, portal, "maintenance/false")
    _harness(fresh_sandbox, portal, "faults", errors=1)
    with pytest.raises(PortalUnavailable) as server_error:
        adapter.check_claim_status(query)
    assert server_error.value.transient


def test_captcha_is_captcha_challenge(payer_id: str, fresh_sandbox, make_adapter) -> None:
    """A captcha after the credentials are posted stops the adapter with CaptchaChallenge, after one attempt.

    Sign-in is where every sandbox portal can show one (a captcha between searches only some can), and
    the adapter must never try to answer it.
    """
    portal = _portal(payer_id)
    _harness(fresh_sandbox, portal, "faults", login_captcha=True)
    adapter = make_adapter(fresh_sandbox, payer_id)
    with pytest.raises(CaptchaChallenge):
        ensure_logged_in(adapter)
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/{portal}/stats").json()
    assert stats["login_attempts"] == {adapter.session.credential.username: 1}
