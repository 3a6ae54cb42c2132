"""Web users: add, list, disable; argon2 password hashes; the throttle on repeated bad passwords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from bots.findings import utc_now
from workqueue.models import USER_ROLES, SignInThrottle, WebSession, WebUser
from workqueue.practices import join_practices

MIN_PASSWORD = 12
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# A user name that fails this often inside the window waits LOCK before trying again; an address, more.
NAME_FAILURES, ADDRESS_FAILURES = 5, 20
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _HASHER.hash("payerbot-no-such-user")


class UserError(ValueError):
    """A user command that cannot be done as asked (bad name, role, password, unknown user)."""


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the user, or why not (and how long to wait when throttled)."""

    user: WebUser | None
    refusal: str | None = None
    wait_s: int = 0


def role_at_least(role: str | None, needed: str) -> bool:
    """True when `role` includes `needed` (admin > operator > biller)."""
    return role in USER_ROLES and USER_ROLES.index(role) >= USER_ROLES.index(needed)


def check_password_rules(password: str) -> None:
    """UserError unless the password is long enough to stand up to guessing."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise UserError("the password starts or ends with a space (pasted by mistake?)")


def add_user(session: Session, name: str, role: str, password: str, *, team: str | None = None,
             practices: list[str] | None = None) -> WebUser:
    """A new enabled user; UserError for a taken or malformed name, an unknown role or a weak password.

    `practices`: the practices a biller or operator sees (none: the default practice only; admins see all).
    """
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(f"user name {name!r}: use letters, digits and . _ @ - (at most 64 characters)")
    if name.casefold() == "bot":
        raise UserError("'bot' is the robots' name in task history; choose another user name")
    if role not in USER_ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(USER_ROLES)}")
    if session.exec(select(WebUser).where(col(WebUser.name).ilike(name))).first() is not None:
        raise UserError(f"user {name} already exists")
    check_password_rules(password)
    user = WebUser(name=name, role=role, team=team or None, password_hash=_HASHER.hash(password),
                   practices=_practices(practices))
    session.add(user)
    session.flush()
    return user


def _practices(values: list[str] | None) -> str:
    try:
        return join_practices(values or [])
    except ValueError as exc:
        raise UserError(str(exc)) from None


def set_practices(session: Session, name: str, practices: list[str]) -> WebUser:
    """The practices a user sees from their next request on (none: the default practice only)."""
    user = get_user(session, name)
    user.practices = _practices(practices)
    user.updated_at = utc_now()
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> WebUser:
    """The user, or UserError."""
    user = session.get(WebUser, name)
    if user is None:
        raise UserError(f"no user {name}")
    return user


def list_users(session: Session) -> list[WebUser]:
    """Every user, by name."""
    return list(session.exec(select(WebUser).order_by(col(WebUser.name))).all())


def set_disabled(session: Session, name: str, disabled: bool = True) -> WebUser:
    """Disable (or enable again) a user; disabling also ends their signed-in sessions."""
    user = get_user(session, name)
    user.disabled = disabled
    user.updated_at = utc_now()
    session.add(user)
    if disabled:
        end_sessions(session, name)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> WebUser:
    """A new password for the user; their sessions end (whoever had the old one is signed out)."""
    check_password_rules(password)
    user = get_user(session, name)
    user.password_hash = _HASHER.hash(password)
    user.updated_at = utc_now()
    session.add(user)
    end_sessions(session, name)
    session.flush()
    return user


def end_sessions(session: Session, name: str) -> int:
    """Sign the user out everywhere; how many sessions ended."""
    rows = session.exec(select(WebSession).where(WebSession.user_name == name)).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def _throttle_keys(name: str, address: str | None) -> list[tuple[str, int]]:
    keys = [(f"name:{name.casefold()[:64]}", NAME_FAILURES)]
    if address:
        keys.append((f"address:{address}", ADDRESS_FAILURES))
    return keys


def _wait(session: Session, name: str, address: str | None, now: datetime) -> int:
    waits = [0]
    for key, _limit in _throttle_keys(name, address):
        row = session.get(SignInThrottle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            waits.append(int((row.locked_until - now).total_seconds()) + 1)
    return max(waits)


def _note_failure(session: Session, name: str, address: str | None, now: datetime) -> None:
    for key, limit in _throttle_keys(name, address):
        row = session.get(SignInThrottle, key)
        if row is None or now - row.first_failure_at > WINDOW:
            row = row or SignInThrottle(key=key)
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + LOCK
        session.add(row)


def authenticate(session: Session, name: str, password: str, *, address: str | None = None,
                 now: datetime | None = None) -> SignIn:
    """Check a name and password under the throttle; the same refusal whether the name or the password is wrong."""
    now = now or utc_now()
    name = name.strip()[:64]
    wait = _wait(session, name, address, now)
    if wait:
        return SignIn(None, "throttled", wait)
    user = session.get(WebUser, name) if NAME_PATTERN.fullmatch(name) else None
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        _note_failure(session, name, address, now)
        return SignIn(None, "bad_password")
    if user.disabled:
        return SignIn(None, "disabled")
    for key, _limit in _throttle_keys(name, address)[:1]:  # the address keeps its count: one good name says little
        row = session.get(SignInThrottle, key)
        if row is not None:
            session.delete(row)
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_sign_in_at = now
    session.add(user)
    session.flush()
    return SignIn(user)
