"""The portal logins of a sandbox payer: one or more per client practice, the first one the profile's own."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

DEFAULT_PRACTICES: tuple[str, ...] = ("default",)
_PRACTICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Account:
    """One portal login; on a real payer portal a login belongs to one provider group (a practice)."""

    username: str
    password: str
    totp_seed: str  # "" when the portal sends codes by e-mail instead of an authenticator app
    practice: str

    def as_json(self) -> dict:
        """What `GET /_sandbox/<portal>/accounts` shows for this login."""
        return {"username": self.username, "password": self.password, "totp_seed": self.totp_seed or None,
                "practice": self.practice}


def check_practices(practices: tuple[str, ...], accounts_per_practice: int) -> tuple[str, ...]:
    """The practice ids as a tuple, or ValueError naming what is wrong with them."""
    practices = tuple(practices)
    if not practices:
        raise ValueError("practices: at least one practice id is expected")
    for practice in practices:
        if not isinstance(practice, str) or not _PRACTICE_ID.match(practice):
            raise ValueError(f"practices: {practice!r} is no practice id (lower-case letters, digits, - and _)")
    if len(set(practices)) != len(practices):
        raise ValueError(f"practices: {practices!r} names a practice twice")
    if not isinstance(accounts_per_practice, int) or isinstance(accounts_per_practice, bool) \
            or not 1 <= accounts_per_practice <= 100:
        raise ValueError(f"accounts_per_practice={accounts_per_practice!r}: 1 to 100 is expected")
    return practices


def make_accounts(profile, seed: int, practices: tuple[str, ...], accounts_per_practice: int) -> list[Account]:
    """Every (practice, n) login, deterministic from the seed; the first is exactly the profile's account."""
    accounts = []
    for practice in practices:
        for n in range(accounts_per_practice):
            if not accounts:
                accounts.append(Account(profile.username, profile.password, profile.totp_seed, practice))
                continue
            digest = hashlib.sha256(f"account:{seed}:{profile.payer_id}:{practice}:{n}".encode()).digest()
            accounts.append(Account(
                username=_username(profile.username, f"{practice}.{n + 1}"),
                password=f"Sandbox-{profile.payer_id.capitalize()}-{digest[:4].hex()}!",
                totp_seed=base64.b32encode(digest[4:24]).decode() if profile.totp_seed else "",
                practice=practice,
            ))
    return accounts


def _username(base: str, suffix: str) -> str:
    # a login in the portal's own style: e-mail portals get another address at the same domain
    local, at, domain = base.partition("@")
    return f"{local}.{suffix}@{domain}" if at else f"{base}.{suffix}"
