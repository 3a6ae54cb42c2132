"""A payer added as if its portal were real: `payer record` against the live portal, `payer check` offline.

The sandbox's Meridian portal stands in for an unfamiliar real one: the payer `acme_health` is a copy of
Meridian's folder kept in the company's own folder (PAYERBOT_PAYERS), whose manifest names no sandbox
portal. Its cases are recorded over real HTTP with real Chromium, the recorded expectations are compared
with the sandbox ORACLE, then the sandbox is stopped and the check must pass from the recording alone,
fail fast with PortalChanged on a broken selector, and fail when two status-map entries are swapped.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

import payers
from sandbox.server import SandboxServer

pytestmark = pytest.mark.e2e
PAYERS_DIR = Path(payers.__file__).parent
PAYER = "acme_health"
#: the claims of the night: one per category whose wording is unique in Meridian's map (2-3 claims)
CATEGORIES = ("F2", "P3", "A1")


def payerbot(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """The CLI in a subprocess, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, input=stdin,
                          cwd=PAYERS_DIR.parent, timeout=600, check=False, env=env)


def _status_map(folder: Path) -> dict[str, str]:
    with (folder / "status_map.toml").open("rb") as handle:
        return tomllib.load(handle)["statuses"]


def _write_status_map(folder: Path, statuses: dict[str, str]) -> None:
    lines = ["[statuses]"] + [f'"{wording}" = "{category}"' for wording, category in statuses.items()]
    (folder / "status_map.toml").write_text("\n".join(lines) + "\n")


def _add_payer(into: Path, portal_url: str) -> Path:
    """Copy Meridian's folder (no tests, no cases) as a payer of the company's whose manifest knows no sandbox."""
    folder = into / PAYER
    shutil.copytree(PAYERS_DIR / "meridian", folder, ignore=shutil.ignore_patterns("tests", "cases", "__pycache__"))
    manifest = (folder / "manifest.toml").read_text()
    manifest = re.sub(r'(?m)^id = .*$', f'id = "{PAYER}"', manifest)
    manifest = re.sub(r'(?m)^name = .*$', 'name = "Acme Health"', manifest)
    manifest = re.sub(r'(?m)^portal_url = .*$', f'portal_url = "{portal_url}"', manifest)
    manifest = re.sub(r'(?m)^sandbox_portal = .*\n', "", manifest)
    (folder / "manifest.toml").write_text(manifest)
    adapter = folder / "adapter.py"
    # Meridian may still import its pages absolutely; an outside payer imports its own.
    adapter.write_text(adapter.read_text().replace("from payers.meridian import pages", "from . import pages"))
    return folder


def _night_claims(oracle: dict, statuses: dict[str, str]) -> list[str]:
    """One on-file claim per chosen category; each category has exactly one wording in the status map."""
    for category in CATEGORIES:
        assert list(statuses.values()).count(category) == 1, category
    chosen = {}
    for number, claim in sorted(oracle["claims"].items()):
        if claim["on_file"] and not claim["unmapped_wording"] and claim["status_category"] in CATEGORIES:
            chosen.setdefault(claim["status_category"], number)
    return [chosen[category] for category in CATEGORIES]


@pytest.fixture
def company(tmp_path: Path) -> dict[str, str]:
    """The company's own payers folder (PAYERBOT_PAYERS), data and secrets folders, all outside the repo."""
    folder = tmp_path / "company-payers"
    folder.mkdir()
    env = {**os.environ, "PAYERBOT_PAYERS": str(folder), "PAYERBOT_HOME": str(tmp_path / "home"),
           "PAYERBOT_SECRETS_DIR": str(tmp_path / "secrets"), "COLUMNS": "200"}
    env.pop("PAYERBOT_DATABASE_URL", None)
    before = sorted(str(p) for p in PAYERS_DIR.rglob("*") if "__pycache__" not in p.parts)
    yield {"folder": str(folder), **env}
    after = sorted(str(p) for p in PAYERS_DIR.rglob("*") if "__pycache__" not in p.parts)
    assert after == before, "recording or checking an outside payer wrote into the repository's payers/"


def test_recorded_real_portal_passes_check_offline_and_fails_fast_when_broken(company: dict[str, str],
                                                                             tmp_path: Path) -> None:
    into = Path(company.pop("folder"))
    with SandboxServer(seed=11, claims=60, portals=["meridian"]) as server:
        harness = f"{server.url}/_sandbox/meridian"
        oracle = httpx.get(f"{harness}/oracle").json()
        account = httpx.get(f"{harness}/accounts").json()[0]
        inventory_text = httpx.get(f"{harness}/inventory.csv").text
        inventory_file = tmp_path / "inventory.csv"
        inventory_file.write_text(inventory_text)
        folder = _add_payer(into, server.portal_url("meridian"))
        claims = _night_claims(oracle, _status_map(folder))
        # A newcomer maps only the wordings they have seen: the night's categories and the not-found notice.
        statuses = {w: c for w, c in _status_map(folder).items() if c in (*CATEGORIES, "D0")}
        _write_status_map(folder, statuses)

        # The password and TOTP seed go in on standard input, never on the command line.
        stored = payerbot("credentials", "set", PAYER, "main", "--username", account["username"], "--stdin",
                          env=company, stdin=f"{account['password']}\n{account['totp_seed']}\n")
        assert stored.returncode == 0, stored.stdout + stored.stderr
        upload_claim = claims[CATEGORIES.index("P3")]  # records were asked for: a test upload is allowed
        args = ["payer", "record", PAYER, "--inventory", str(inventory_file), "--letters-since", oracle["today"],
                "--no-authorizations", "--upload-claim", upload_claim]
        for number in claims:
            args += ["--claim", number]
        # The operator confirms every expected finding on standard input (one "y" per case).
        recorded = payerbot(*args, env=company, stdin="y\n" * 30)
        assert recorded.returncode == 0, recorded.stdout + recorded.stderr
        uploads = httpx.get(f"{harness}/uploads").json()

    cases_dir = folder / "cases"
    cases_text = (cases_dir / "cases.toml").read_text()
    har_text = (cases_dir / "recording.har").read_text()
    cases = {case["id"]: case for case in tomllib.loads(cases_text)["case"]}
    assert all(case["confirmed"] for case in cases.values()), "every case was confirmed on stdin"
    # The recorded expectations are the ORACLE's answers for these claims, not just what the adapter said.
    for number in claims:
        want = oracle["claims"][number]
        for how in ("member", "number"):
            expect = cases[f"claim-{number}-{how}"]["expect"]
            assert expect["status_category"] == want["status_category"], (number, how)
            assert expect["reference_number"] == want["reference_number"], (number, how)
            assert expect["payer_claim_number"] == want["payer_claim_number"], (number, how)
            for money in ("billed", "allowed", "paid", "patient_responsibility"):
                assert expect.get(money) == want[money], (number, how, money)
            assert expect["carc_codes"] == want["carc_codes"] and expect["rarc_codes"] == want["rarc_codes"]
            assert statuses[expect["raw_status"]] == want["status_category"]
    not_found = cases["claim-not-found"]
    assert not_found["expect"]["status_category"] == "D0" and "reference_number" in not_found["volatile"]
    letters = [x["portal_document_id"] for x in cases["letters"]["expect"]["letters"]]
    assert sorted(letters) == sorted(x["letter_id"] for x in oracle["letters"] if x["letter_date"] >= oracle["today"])
    upload = cases[f"upload-{upload_claim}"]["expect"]
    assert [u["confirmation_number"] for u in uploads] == [upload["confirmation_number"]]
    found = cases[f"find-submission-{upload_claim}"]["expect"]
    assert found["reconciled"] is True and found["confirmation_number"] == upload["confirmation_number"]
    # No login secret, no user name and none of the night's patients is in what would be committed.
    rows = {row["claim_number"]: row for row in csv.DictReader(io.StringIO(inventory_text))}
    for text in (har_text, cases_text):
        for secret in (account["password"], account["totp_seed"], account["username"]):
            assert secret.casefold() not in text.casefold()
        for number in claims:
            row = rows[number]
            assert row["member_id"] not in text
            assert f"{row['patient_last_name'].upper()}, {row['patient_first_name'].upper()}" not in text
            assert f"{row['patient_first_name']} {row['patient_last_name']}" not in text
    for path in (cases_dir / "cases.toml", cases_dir / "recording.har"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    # The sandbox is stopped: the check runs from the recording alone.
    checked = payerbot("payer", "check", PAYER, env=company)
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert re.search(r"\b(\d+) passed", output) and int(re.search(r"\b(\d+) passed", output)[1]) >= len(cases)
    assert f"{PAYER}: needs a live portal: " in output and "test_good_login_works" in output

    # A selector the portal no longer matches fails with PortalChanged within seconds, not a time-out per case.
    pages = folder / "pages.py"
    original = pages.read_text()
    assert original.count('"#claim-status"') == 1
    pages.write_text(original.replace('"#claim-status"', '"#claim-status-renamed"'))
    started = time.monotonic()
    broken = payerbot("payer", "check", PAYER, env=company)
    elapsed = time.monotonic() - started
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0 and "PortalChanged" in output, output
    assert elapsed < 60, f"a broken selector took {elapsed:.0f} s to fail"
    pages.write_text(original)

    # Two status-map entries swapped: the recorded cases no longer agree with the map.
    first, second = (next(w for w, c in statuses.items() if c == category) for category in CATEGORIES[:2])
    _write_status_map(folder, {**statuses, first: statuses[second], second: statuses[first]})
    swapped = payerbot("payer", "check", PAYER, env=company)
    output = swapped.stdout + swapped.stderr
    assert swapped.returncode != 0, output
    assert "test_status_map_covered_by_recorded_cases" in output
