"""Which practices a terminal command shows: PAYERBOT_USER's (a web user's) or every one, narrowed by --practice."""

from __future__ import annotations

import os

from sqlmodel import Session

from workqueue.audit import USER_ENV
from workqueue.models import WebUser
from workqueue.practices import Practices, narrow, practices_of_user


class CliUserError(LookupError):
    """PAYERBOT_USER names no enabled web user."""


def cli_practices(session: Session, wanted: list[str] | None = None) -> Practices:
    """The practices this command may show: with PAYERBOT_USER set, that web user's (as the web app would show
    them); without it the machine's operator sees every practice. `wanted` (--practice) narrows either."""
    name = os.environ.get(USER_ENV, "").strip()
    practices: Practices = None
    if name:
        user = session.get(WebUser, name)
        if user is None or user.disabled:
            # Refused rather than shown as the operator: a mistyped name must not widen what is seen.
            raise CliUserError(f"{USER_ENV}={name} is not an enabled web user (see `payerbot users list`)")
        practices = practices_of_user(user.role, user.practices)
    return narrow(practices, wanted)
