"""Conformance tests that prove the quality rules no other conformance test covers (see bots/quality.py).

site-tests (the folder has its own portal tests), session-reuse (a saved session is recognised in a new
browser context without a second login) and transient-errors (maintenance and 5xx are PortalUnavailable,
a captcha is CaptchaChallenge), run for every payer like the rest of the suite.
"""

from __future__ import annotations

import ast
import csv
import io
from dataclasses import replace
from datetime import date

import httpx
import pytest

from bots.adapter import PortalAdapter
from bots.errors import CaptchaChallenge, PortalUnavailable
from bots.findings import ClaimQuery
from bots.registry import get_adapter
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


def test_payer_folder_has_site_tests(payer_id: str) -> None:
    """The folder's own tests include at least one that works a portal (it takes a fixture)."""
    folder = get_adapter(payer_id).package_dir
    files = sorted((folder / "tests").glob("test_*.py"))
    assert files, f"{folder}/tests has no test_*.py"
    # A test that takes no fixture cannot open a portal (the scaffold's manifest check is such a test).
    portal_tests = [node.name for path in files for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and node.args.args]
    assert portal_tests, f"{folder}/tests has no test that works the portal (none takes a fixture)"


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
    """A captcha after a search stops the adapter with CaptchaChallenge; it never answers the captcha."""
    portal = _portal(payer_id)
    queries = _queries(fresh_sandbox, payer_id, portal)[:3]
    adapter = _logged_in(make_adapter, fresh_sandbox, payer_id)
    _harness(fresh_sandbox, portal, "captcha/1")
    checked = []
    with pytest.raises(CaptchaChallenge):
        for query in queries:
            checked.append(adapter.check_claim_status(query))
    # The captcha comes after one search: at most that one claim was read before it.
    assert len(checked) <= 1
