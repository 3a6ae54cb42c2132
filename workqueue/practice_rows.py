"""Which practice a new task, letter or packet belongs to, and the portal accounts' practices, in the database."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlmodel import Session, col, select

from workqueue.models import Claim, Document, PortalAccount, RecordsPacket, Task
from workqueue.practices import DEFAULT_PRACTICE

# Tasks keyed by payer alone (an unknown wording, a changed or down portal): each practice gets its own, so no
# practice's operators see claim numbers of another in its evidence. workqueue.rules raises them.
PAYER_WIDE_TASK_KINDS = frozenset({"unmapped_status", "portal_changed", "portal_unavailable"})


def account_practice(session: Session, payer_id: str, account: str | None) -> str:
    """The practice of a portal account as the last plan recorded it (the default one if never recorded)."""
    row = session.get(PortalAccount, (payer_id, account)) if account else None
    return row.practice if row is not None else DEFAULT_PRACTICE


def claim_practice(session: Session, claim_number: str | None) -> str | None:
    """The practice of a claim, or None when there is no such claim."""
    if not claim_number:
        return None
    claim = session.get(Claim, claim_number)
    return claim.practice if claim is not None else None


def task_practice(session: Session, claim_number: str | None, payer_id: str, account: str | None) -> str:
    """A new task's practice: its claim's, else (operator problems, unlinked letters) its portal account's."""
    return claim_practice(session, claim_number) or account_practice(session, payer_id, account)


def practice_key(dedupe_key: str, kind: str, claim_number: str | None, practice: str) -> str:
    """A task's dedupe key in its practice: payer-wide keys of a practice other than the default one get '@practice'.

    Claim keys name a claim number (unique in the installation) and account keys an account (one practice's):
    they stay as they are, and the default practice keeps every key it had before practices existed.
    """
    if practice == DEFAULT_PRACTICE or claim_number or kind not in PAYER_WIDE_TASK_KINDS:
        return dedupe_key
    return f"{dedupe_key}@{practice}"


def record_account_practices(session: Session, accounts: Iterable[tuple[str, str, str]]) -> int:
    """Store (payer, account, practice) from the credentials on each portal account's row; how many changed."""
    changed = 0
    for payer_id, account, practice in accounts:
        row = session.get(PortalAccount, (payer_id, account))
        if row is None:
            session.add(PortalAccount(payer_id=payer_id, account=account, practice=practice))
            changed += 1
        elif row.practice != practice:
            row.practice = practice
            session.add(row)
            changed += 1
    session.flush()
    return changed


def move_claim_practice(session: Session, claim_number: str, practice: str) -> None:
    """A claim changes practice (one known only from a portal answer, now imported): its rows follow it."""
    session.execute(update(Task).where(col(Task.claim_number) == claim_number).values(practice=practice))
    session.execute(update(Document).where(col(Document.claim_number) == claim_number).values(practice=practice))
    session.execute(update(RecordsPacket).where(col(RecordsPacket.claim_number) == claim_number)
                    .values(practice=practice))


def practices_in_use(session: Session) -> list[str]:
    """Every practice that has claims or portal accounts, sorted (for choosers and checks)."""
    names = set(session.exec(select(Claim.practice).distinct()).all())
    names |= set(session.exec(select(PortalAccount.practice).distinct()).all())
    return sorted(names)
