"""Status maps, credential store, redaction, quality scale, registry and scaffold."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bots.credentials import Credential, CredentialStore, CredentialStoreError
from bots.quality import RULES, derive_level, exemptions_template, load_exemptions
from bots.redaction import MASK, Redactor
from bots.registry import registry
from bots.status_map import StatusMap, category_group, claim_status_categories
from flows.scaffold import ScaffoldError, create_payer


def test_status_map_ignores_case_and_spacing_and_knows_nothing_else() -> None:
    mapping = StatusMap({"Pended -  Medical Records Requested": "P3", "Paid": "F1"})
    assert mapping.category("pended - medical records requested") == "P3"
    assert mapping.category("PAID") == "F1"
    assert mapping.category("Paid in full") is None


def test_status_map_rejects_codes_outside_x12() -> None:
    with pytest.raises(ValueError, match="unknown X12"):
        StatusMap({"Weird": "Z9"})


def test_category_table_is_the_shipped_copy() -> None:
    assert claim_status_categories()["F2"] == ("finalized", "denial")
    assert category_group("R4") == "request" and category_group("nope") is None


def test_credentials_are_encrypted_at_rest_and_never_printed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAYERBOT_SECRET_KEY", Fernet.generate_key().decode())
    store = CredentialStore(tmp_path)
    credential = Credential(payer_id="meridian", account="main", username="u1", password="hunter2-secret",
                            totp_seed="JBSWY3DPEHPK3PXP")
    store.put(credential)
    raw = (tmp_path / "credentials.enc").read_bytes()
    assert b"hunter2-secret" not in raw and b"JBSWY3DPEHPK3PXP" not in raw
    assert "hunter2-secret" not in repr(store.get("meridian", "main"))
    assert store.get("meridian", "main").password.get_secret_value() == "hunter2-secret"
    store.save_session(credential, {"cookies": [{"name": "S", "value": "cookie-value-123"}], "origins": []})
    assert b"cookie-value-123" not in next((tmp_path / "sessions").iterdir()).read_bytes()
    assert store.load_session(credential)["cookies"][0]["value"] == "cookie-value-123"
    monkeypatch.setenv("PAYERBOT_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(CredentialStoreError):
        store.all()
    assert store.load_session(credential) is None  # an unreadable session means: log in again


def test_redactor_masks_registered_values_and_secret_pairs(caplog) -> None:
    redactor = Redactor()
    redactor.register("Sandbox-Secret-1")
    logger = logging.getLogger("test.redaction")
    logger.addFilter(redactor)
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("login with %s failed; password=abc123 cookie: xyz", "Sandbox-Secret-1")
    text = caplog.text
    assert "Sandbox-Secret-1" not in text and "abc123" not in text and "xyz" not in text
    assert MASK in text


def test_quality_levels(tmp_path: Path) -> None:
    path = tmp_path / "quality.toml"
    path.write_text(exemptions_template())
    assert load_exemptions(path) == {}
    assert derive_level(set(), {}) == "todo"
    bronze = {r.id for r in RULES if r.level == "bronze"}
    assert derive_level(bronze, {}) == "bronze"
    silver = {r.id for r in RULES if r.level != "gold"}
    assert derive_level(silver, {r.id: "no such portal feature" for r in RULES if r.level == "gold"}) == "gold"
    path.write_text('[rules]\nmanifest = "done"\n')
    with pytest.raises(ValueError):
        load_exemptions(path)


def test_registry_ids_match_folders() -> None:
    for payer_id, adapter in registry().items():
        assert adapter.manifest.id == payer_id == adapter.package_dir.name


def test_scaffold_creates_a_folder_and_refuses_an_existing_id(tmp_path: Path) -> None:
    folder = create_payer("acme_health", name="Acme Health", url="https://provider.acme.example/", root=tmp_path)
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"adapter.py", "pages.py", "manifest.toml", "status_map.toml", "cases.toml", "quality.toml",
            "tests/test_acme_health.py", "__init__.py"} <= names
    assert "class AcmeHealthAdapter(PortalAdapter)" in (folder / "adapter.py").read_text()
    assert load_exemptions(folder / "quality.toml") == {}
    with pytest.raises(ScaffoldError, match="already exists"):
        create_payer("acme_health", name="Again", url="https://x.example/", root=tmp_path)
    with pytest.raises(ScaffoldError):
        create_payer("Bad-Id", name="x", url="https://x.example/", root=tmp_path)
