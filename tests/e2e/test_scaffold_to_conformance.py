"""An operator's loop: scaffold a payer in the company's own folder, fill it in, pass the suite; break it, see it fail.

The payer lives outside the framework (`payer new --into DIR`, found through PAYERBOT_PAYERS): nothing is
written into the repository's `payers/`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import payers

pytestmark = pytest.mark.e2e
PAYERS_DIR = Path(payers.__file__).parent
NEW_ID = "zz_scaffold_check"


def payerbot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True,
                          cwd=PAYERS_DIR.parent, timeout=600, check=False, env=env)


@pytest.fixture
def company(tmp_path: Path) -> dict[str, str]:
    """The company's own payers folder (listed in PAYERBOT_PAYERS) and a data folder of its own."""
    folder = tmp_path / "company-payers"
    folder.mkdir()
    env = {**os.environ, "PAYERBOT_PAYERS": str(folder), "PAYERBOT_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    yield {"folder": str(folder), **env}
    assert not (PAYERS_DIR / NEW_ID).exists(), "payer new wrote into the framework's payers/"


def test_scaffolded_payer_filled_in_passes_the_suite_and_fails_typed_when_broken(company: dict[str, str]) -> None:
    into = Path(company.pop("folder"))
    scaffolded = into / NEW_ID
    # --url is the portal root: a login page (or any page) is refused, and nothing is written.
    login_page = payerbot("payer", "new", NEW_ID, "--name", "Scaffold Check Health", "--url",
                          "https://provider.scaffold-check.example/login", "--into", str(into), env=company)
    assert login_page.returncode == 1 and not scaffolded.exists()
    assert "looks like a page" in login_page.stdout and "give the portal root" in login_page.stdout
    assert "https://provider.scaffold-check.example/" in login_page.stdout
    query = payerbot("payer", "new", NEW_ID, "--name", "x", "--url", "https://x.example/?a=1", "--into", str(into),
                     env=company)
    assert query.returncode == 1 and "query or fragment" in query.stdout

    created = payerbot("payer", "new", NEW_ID, "--name", "Scaffold Check Health",
                       "--url", "https://provider.scaffold-check.example", "--sandbox-portal", "meridian",
                       "--into", str(into), env=company)
    assert created.returncode == 0, created.stdout + created.stderr
    assert f"PAYERBOT_PAYERS={into}" in created.stdout, created.stdout
    assert 'portal_url = "https://provider.scaffold-check.example/"' in (scaffolded / "manifest.toml").read_text()
    again = payerbot("payer", "new", NEW_ID, "--name", "Again", "--url", "https://x.example/", "--into", str(into),
                     env=company)
    assert again.returncode == 1 and "already exists" in again.stdout

    # Freshly scaffolded, the TODOs fail the suite (its claim check is a stub, which is not an implementation).
    fresh = payerbot("payer", "check", NEW_ID, "--only", "declared_capabilities or manifest_valid", env=company)
    assert fresh.returncode != 0
    assert f"quality {NEW_ID}: todo" in fresh.stdout
    assert "test_declared_capabilities_match_implemented_methods" in _failed(fresh.stdout)

    # "Fill it in": this portal runs on the same vendor platform as Meridian's, so the operator starts
    # from that adapter's pages and parsing, in the new payer's own package (a relative import) and manifest.
    meridian = PAYERS_DIR / "meridian"
    adapter = (meridian / "adapter.py").read_text().replace("from payers.meridian import", "from . import")
    assert "payers.meridian" not in adapter
    (scaffolded / "adapter.py").write_text(adapter.replace("class MeridianAdapter", "class ScaffoldCheckAdapter"))
    shutil.copy(meridian / "pages.py", scaffolded / "pages.py")
    shutil.copy(meridian / "status_map.toml", scaffolded / "status_map.toml")
    manifest = (scaffolded / "manifest.toml").read_text().replace(
        'capabilities = ["login", "check_claim_status"]',
        'capabilities = ["login", "check_claim_status", "download_correspondence", "upload_records", '
        '"pull_authorizations"]')
    (scaffolded / "manifest.toml").write_text(manifest)

    listed = {p["id"]: p for p in json.loads(payerbot("payer", "list", "--json", env=company).stdout)}
    assert set(listed) >= {"meridian", "northwind", "claimbridge", NEW_ID}
    # the partial run above was shown, not recorded: no full check yet
    assert listed[NEW_ID]["folder"] == str(scaffolded) and listed[NEW_ID]["quality"] == "unchecked"
    good = payerbot("payer", "check", NEW_ID, env=company)
    assert good.returncode == 0, good.stdout[-3000:]
    # Derived, not declared: bronze and silver's portal checks pass, but its only site test opens no portal.
    assert f"quality {NEW_ID}: bronze (" in good.stdout and "site-tests" in good.stdout, good.stdout[-1500:]
    listed = {p["id"]: p for p in json.loads(payerbot("payer", "list", "--json", env=company).stdout)}
    assert listed[NEW_ID]["quality"] == "bronze"

    # A selector the portal no longer has: the suite fails, and it fails with PortalChanged.
    pages = (scaffolded / "pages.py").read_text()
    assert '"raw_status": "#claim-status"' in pages
    (scaffolded / "pages.py").write_text(pages.replace('"raw_status": "#claim-status"', '"raw_status": "#claim-state"'))
    # While repairing, an operator reruns just the checks the selector touches (a partial run is not recorded).
    broken = payerbot("payer", "check", NEW_ID, "--only", "claim_status or bad_login", env=company)
    assert broken.returncode != 0 and "[partial run: not recorded]" in broken.stdout
    assert "PortalChanged" in broken.stdout
    assert "test_bad_login_raises_login_failed_after_one_attempt" not in _failed(broken.stdout)


def _failed(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.startswith("FAILED"))
