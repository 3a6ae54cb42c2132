"""The README's demo path: `payerbot demo`, then `payerbot tasks list --json`, as a person runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_demo_ends_with_a_worklist_of_owned_dated_referenced_tasks(tmp_path: Path) -> None:
    env = {**os.environ, "PAYERBOT_HOME": str(tmp_path / "var"), "PAYERBOT_SECRETS_DIR": str(tmp_path / "secrets")}
    env.pop("PAYERBOT_DATABASE_URL", None)

    def payerbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=900, check=False)

    demo = payerbot("demo", "--claims", "30")
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "Worklist" in demo.stdout
    # Both channels: the sandbox clearinghouse's 835 and 277 went through the inbox and spared portal visits.
    assert re.search(r"Clearinghouse files: [1-9]\d* imported, 0 refused, [1-9]\d* portal visits saved", demo.stdout)
    listed = payerbot("tasks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)
    assert {t["payer"] for t in tasks} == {"meridian", "northwind", "claimbridge"}
    for task in tasks:
        for key in ("id", "kind", "claim", "payer", "owner", "deadline", "reference_number", "status", "priority"):
            assert key in task, key
        assert task["owner"] and task["deadline"] and task["reference_number"], task["kind"]
    # Secrets stay encrypted on disk; nothing of them in the demo's output.
    assert (tmp_path / "secrets" / "credentials.enc").is_file()
    assert "Sandbox-Meridian-2026!" not in demo.stdout + demo.stderr
