"""An operator's loop: scaffold a payer, fill it in for a portal, pass the suite; break it, see it fail typed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import payers

pytestmark = pytest.mark.e2e
PAYERS_DIR = Path(payers.__file__).parent
NEW_ID = "zz_scaffold_check"


def payerbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True,
                          cwd=PAYERS_DIR.parent, timeout=600, check=False)


@pytest.fixture
def scaffolded() -> Path:
    folder = PAYERS_DIR / NEW_ID
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_scaffolded_payer_filled_in_passes_the_suite_and_fails_typed_when_broken(scaffolded: Path) -> None:
    created = payerbot("payer", "new", NEW_ID, "--name", "Scaffold Check Health",
                       "--url", "https://provider.scaffold-check.example/", "--sandbox-portal", "meridian")
    assert created.returncode == 0, created.stdout + created.stderr
    again = payerbot("payer", "new", NEW_ID, "--name", "Again", "--url", "https://x.example/")
    assert again.returncode == 1 and "already exists" in again.stdout

    # Freshly scaffolded, the TODOs fail the suite (its checklist says "todo", and the adapter is empty).
    fresh = payerbot("payer", "check", NEW_ID)
    assert fresh.returncode != 0

    # "Fill it in": this portal runs on the same vendor platform as Meridian's, so the operator starts
    # from that adapter's pages and parsing, under the new payer's own package and manifest.
    meridian = PAYERS_DIR / "meridian"
    adapter = (meridian / "adapter.py").read_text().replace("payers.meridian", f"payers.{NEW_ID}")
    (scaffolded / "adapter.py").write_text(adapter.replace("class MeridianAdapter", "class ScaffoldCheckAdapter"))
    shutil.copy(meridian / "pages.py", scaffolded / "pages.py")
    shutil.copy(meridian / "status_map.toml", scaffolded / "status_map.toml")
    manifest = (scaffolded / "manifest.toml").read_text().replace(
        'capabilities = ["login", "check_claim_status"]',
        'capabilities = ["login", "check_claim_status", "download_correspondence", "upload_records", '
        '"pull_authorizations"]')
    (scaffolded / "manifest.toml").write_text(manifest)

    listed = json.loads(payerbot("payer", "list", "--json").stdout)
    assert {p["id"] for p in listed} >= {"meridian", "northwind", "claimbridge", NEW_ID}
    good = payerbot("payer", "check", NEW_ID)
    assert good.returncode == 0, good.stdout[-3000:]

    # A selector the portal no longer has: the suite fails, and it fails with PortalChanged.
    pages = (scaffolded / "pages.py").read_text()
    assert 'status = "#claim-status"' in pages
    (scaffolded / "pages.py").write_text(pages.replace('status = "#claim-status"', 'status = "#claim-state"'))
    broken = payerbot("payer", "check", NEW_ID)
    assert broken.returncode != 0
    assert "PortalChanged" in broken.stdout
    assert "test_bad_login_raises_login_failed_after_one_attempt" not in _failed(broken.stdout)


def _failed(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.startswith("FAILED"))
