"""Client practices in one installation: the default practice, practice ids, and who sees which practices.

A practice is a short id string on claims, tasks, documents, packets and portal accounts. A viewer's
practices are either None (every practice: admins, and the machine's operator at the CLI) or a frozen set;
every query a person's request runs is narrowed with `visible`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import true
from sqlmodel import col

DEFAULT_PRACTICE = "default"
PRACTICE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
#: None means every practice; otherwise the practices one may see
Practices = frozenset[str] | None


def check_practice(value: str | None) -> str:
    """The practice id as stored (blank -> the default practice); ValueError if it is not a short id."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_PRACTICE
    if not PRACTICE_PATTERN.fullmatch(text):
        raise ValueError(f"not a practice id (lower-case letters, digits, - and _, at most 40): {text!r}")
    return text


def parse_practices(text: str | None) -> list[str]:
    """A user's stored practices ('a,b') as a sorted list of ids (blank entries dropped)."""
    return sorted({part.strip() for part in (text or "").split(",") if part.strip()})


def join_practices(values: Iterable[str]) -> str:
    """Practice ids as a user row stores them: checked, unique, sorted, comma-separated."""
    return ",".join(sorted({check_practice(v) for v in values if v and v.strip()}))


def practices_of_user(role: str, stored: str | None) -> Practices:
    """What a web user sees: admins every practice; others the practices listed, or the default one if none are.

    Nobody gets "all" implicitly: an empty list means the default practice, never every practice.
    """
    if role == "admin":
        return None
    return frozenset(parse_practices(stored) or [DEFAULT_PRACTICE])


def shown_practices(user: Any) -> list[str]:
    """What a user sees, for lists: ['*'] for every practice (admins), else the practice ids."""
    practices = practices_of_user(user.role, user.practices)
    return ["*"] if practices is None else sorted(practices)


def narrow(practices: Practices, wanted: Iterable[str] | None) -> Practices:
    """`practices` further limited to `wanted` (a --practice filter); None wanted leaves it as it is."""
    chosen = {check_practice(w) for w in wanted or []}
    if not chosen:
        return practices
    return frozenset(chosen if practices is None else chosen & practices)


def visible(column: Any, practices: Practices) -> Any:
    """A WHERE condition: the row's practice is one of `practices` (always true for None)."""
    if practices is None:
        return true()
    return col(column).in_(sorted(practices))


def may_see(practice: str | None, practices: Practices) -> bool:
    """Whether a row of `practice` is visible (a row without one belongs to the default practice)."""
    return practices is None or (practice or DEFAULT_PRACTICE) in practices
