"""The operator's development loop: `payerbot payer try` runs one capability and keeps a trace."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bots.credentials import CredentialStore

pytestmark = pytest.mark.e2e


def test_payer_try_prints_the_finding_and_keeps_a_trace_without_secrets(night_factory, tmp_path: Path) -> None:
    night = night_factory(portals=["meridian"], claims=30)
    oracle = night.oracle("meridian")
    claim_number, expected = next((c, o) for c, o in oracle["claims"].items() if o["status_category"] == "F2")
    env = {**os.environ}  # PAYERBOT_HOME and PAYERBOT_SECRETS_DIR point at this test's folders
    result = subprocess.run([sys.executable, "-m", "flows.cli", "payer", "try", "meridian", "--claim", claim_number,
                             "--trace"], capture_output=True, text=True, env=env, timeout=300, check=False,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    finding = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert finding["claim_number"] == claim_number
    assert finding["status_category"] == "F2" and finding["reference_number"] == expected["reference_number"]
    traces = list((night.home / "traces").iterdir())
    assert [t.name.endswith(".trace.enc") for t in traces] == [True]  # no plain trace left behind
    encrypted = traces[0].read_bytes()
    world = night.server.states["meridian"].world
    member = world.claim(claim_number).member
    assert member.member_id.encode() not in encrypted and member.last_name.encode() not in encrypted
    # Decrypted with the store's key it is a Playwright trace of the claim check (opened after the login).
    with zipfile.ZipFile(io.BytesIO(CredentialStore().decrypt_bytes(encrypted))) as archive:
        content = b"".join(archive.read(name) for name in archive.namelist())
    assert any(name.endswith(".trace") for name in archive.namelist())
    assert member.member_id.encode() in content or expected["payer_claim_number"].encode() in content
    profile = world.profile
    assert profile.password.encode() not in content and profile.totp_seed.encode() not in content
