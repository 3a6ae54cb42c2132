"""Portal credentials and saved browser sessions, encrypted at rest under the secrets folder."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, ConfigDict, SecretStr

from bots.files import NotPrivateError, ensure_private, private_dir, private_umask, write_private

KEY_ENV = "PAYERBOT_SECRET_KEY"
DIR_ENV = "PAYERBOT_SECRETS_DIR"
log = logging.getLogger(__name__)


class Credential(BaseModel):
    """One portal login. Secret fields print as '**********' everywhere (logs, reprs, exceptions)."""

    model_config = ConfigDict(extra="forbid")

    payer_id: str
    account: str
    username: str
    password: SecretStr
    totp_seed: SecretStr | None = None
    portal_url: str | None = None
    options: dict[str, str] = {}
    # The client practice this account works for (workqueue.practices.DEFAULT_PRACTICE); credentials stored
    # before practices existed load as the default practice.
    practice: str = "default"

    @property
    def key(self) -> str:
        return f"{self.payer_id}/{self.account}"


class CredentialStoreError(Exception):
    """The store cannot be opened (no key, wrong key, damaged file)."""


def secrets_dir() -> Path:
    """Where credentials and sessions live: PAYERBOT_SECRETS_DIR, default ./secrets."""
    return Path(os.environ.get(DIR_ENV, "secrets")).resolve()


def _private(path: Path, what: str) -> None:
    try:
        ensure_private(path, what)
    except NotPrivateError as exc:
        raise CredentialStoreError(str(exc)) from None


def _fernet(directory: Path, create: bool) -> Fernet:
    key = os.environ.get(KEY_ENV)
    if key:
        return Fernet(key.encode())
    # Embedded default for one machine: a key file beside the store, readable by the owner only.
    # At scale set PAYERBOT_SECRET_KEY from the environment, a Prefect Secret block or a vault.
    key_file = directory / "local.key"
    if not key_file.exists():
        if not create:
            raise CredentialStoreError(f"no {KEY_ENV} set and no key file in {directory}")
        try:
            # 0600 from the first byte, and never replacing a key another process has just written.
            write_private(key_file, Fernet.generate_key(), exclusive=True)
        except FileExistsError:
            pass
    _private(key_file, "key file")
    return Fernet(key_file.read_bytes().strip())


class CredentialStore:
    """Encrypted credentials file plus encrypted storage_state files, one per portal account."""

    def __init__(self, directory: Path | None = None):
        private_umask()
        self.directory = directory or secrets_dir()
        self.path = self.directory / "credentials.enc"

    def _cipher(self, create: bool = False) -> Fernet:
        return _fernet(self.directory, create)

    def _read(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        _private(self.path, "credential store")
        try:
            return json.loads(self._cipher().decrypt(self.path.read_bytes()))
        except InvalidToken as exc:
            raise CredentialStoreError("credentials file cannot be decrypted with this key") from exc

    def _write(self, data: dict[str, dict]) -> None:
        private_dir(self.directory)
        token = self._cipher(create=True).encrypt(json.dumps(data).encode())
        write_private(self.path, token)

    def put(self, credential: Credential) -> None:
        """Add or replace one account's credential."""
        data = self._read()
        raw = credential.model_dump()
        raw["password"] = credential.password.get_secret_value()
        raw["totp_seed"] = credential.totp_seed.get_secret_value() if credential.totp_seed else None
        data[credential.key] = raw
        self._write(data)

    def all(self) -> list[Credential]:
        """Every stored credential."""
        return [Credential.model_validate(raw) for raw in self._read().values()]

    def for_payer(self, payer_id: str) -> list[Credential]:
        """The accounts stored for one payer, in a stable order."""
        return sorted((c for c in self.all() if c.payer_id == payer_id), key=lambda c: c.account)

    def get(self, payer_id: str, account: str) -> Credential:
        raw = self._read().get(f"{payer_id}/{account}")
        if raw is None:
            raise KeyError(f"no credential for {payer_id}/{account}")
        return Credential.model_validate(raw)

    # Saved browser sessions (Playwright storage_state): cookies are secrets too.
    def _session_path(self, credential: Credential) -> Path:
        return self.directory / "sessions" / f"{credential.payer_id}__{credential.account}.enc"

    def load_session(self, credential: Credential) -> dict | None:
        """The saved storage_state for this account, or None (missing or unreadable: log in again)."""
        path = self._session_path(credential)
        if not path.exists():
            return None
        try:
            ensure_private(path, "saved session")
        except NotPrivateError as exc:
            log.warning("%s; logging in afresh instead", exc)  # its cookies may be known: never reuse them
            return None
        try:
            return json.loads(self._cipher().decrypt(path.read_bytes()))
        except (InvalidToken, ValueError):
            return None

    def save_session(self, credential: Credential, storage_state: dict) -> None:
        """Encrypt and save this account's storage_state."""
        path = self._session_path(credential)
        write_private(path, self._cipher(create=True).encrypt(json.dumps(storage_state).encode()))

    def write_encrypted(self, path: Path, data: bytes) -> Path:
        """Encrypt `data` into a 0600 file at `path` (traces, anything else holding portal pages)."""
        return write_private(path, self.encrypt_bytes(data))

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Encrypt a file's content with the store's key (Playwright traces: they hold portal pages)."""
        return self._cipher(create=True).encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Decrypt what `encrypt_bytes` wrote; a wrong key raises CredentialStoreError."""
        try:
            return self._cipher().decrypt(token)
        except InvalidToken as exc:
            raise CredentialStoreError("cannot decrypt with this key") from exc

