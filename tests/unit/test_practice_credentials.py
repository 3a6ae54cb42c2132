"""`payerbot credentials set --practice`: one account name per payer across practices; `list` shows the practice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.credentials import CredentialStore


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "secrets"
    monkeypatch.setenv("PAYERBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAYERBOT_SECRETS_DIR", str(folder))
    monkeypatch.delenv("PAYERBOT_SECRET_KEY", raising=False)
    monkeypatch.delenv("PAYERBOT_DATABASE_URL", raising=False)
    return folder


def _set(*args: str):
    from flows.cli import app

    return CliRunner().invoke(app, ["credentials", "set", *args, "--username", "u1", "--stdin"],
                              input="synthetic-password\n")


def test_practice_is_stored_listed_and_another_practices_account_name_is_refused(secrets):
    from flows.cli import app

    assert _set("meridian", "main").exit_code == 0
    result = _set("meridian", "lake", "--practice", "lakeview")
    assert result.exit_code == 0 and "for practice lakeview" in result.output
    assert CredentialStore().get("meridian", "lake").practice == "lakeview"
    assert CredentialStore().get("meridian", "main").practice == "default"
    refused = _set("meridian", "main", "--practice", "lakeview")
    assert refused.exit_code == 1
    assert "meridian/main is already the account of practice default" in refused.output
    assert CredentialStore().get("meridian", "main").practice == "default"  # unchanged
    assert _set("meridian", "lake", "--practice", "lakeview").exit_code == 0  # its own practice may replace it
    assert _set("northwind", "main", "--practice", "lakeview").exit_code == 0  # another payer: its own names
    listed = json.loads(CliRunner().invoke(app, ["credentials", "list", "--json"]).output)
    assert {(r["payer_id"], r["account"], r["practice"]) for r in listed} == {
        ("meridian", "main", "default"), ("meridian", "lake", "lakeview"), ("northwind", "main", "lakeview")}
    table = CliRunner().invoke(app, ["credentials", "list"]).output
    assert "practice" in table and "lakeview" in table


def test_a_practice_that_is_not_an_id_is_refused(secrets):
    result = _set("meridian", "main", "--practice", "Lake View")
    assert result.exit_code != 0 and "not a practice id" in result.output
    assert not (secrets / "credentials.enc").exists()
