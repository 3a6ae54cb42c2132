"""Claim lookups for billers and the checks: where each claim stands and when it is checked next."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from workqueue.models import Claim


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def claim_as_dict(claim: Claim) -> dict:
    """The claim's current standing as plain JSON-ready values."""
    return {
        "claim_number": claim.claim_number, "payer_id": claim.payer_id,
        "status_category": claim.status_category, "raw_status": claim.raw_status,
        "paid": _money(claim.paid), "patient_responsibility": _money(claim.patient_responsibility),
        "last_checked_at": claim.last_checked_at.isoformat() if claim.last_checked_at else None,
        "next_check_at": claim.next_check_at.isoformat() if claim.next_check_at else None,
    }


def list_claims(session: Session, *, payer_id: str | None = None, category: str | None = None) -> list[Claim]:
    """Claims by payer and claim number; `category` matches a code (F1) or its first letter (F)."""
    query = select(Claim).order_by(Claim.payer_id, Claim.claim_number)
    if payer_id:
        query = query.where(Claim.payer_id == payer_id)
    claims = list(session.exec(query))
    if category:
        claims = [c for c in claims if c.status_category and c.status_category.startswith(category.upper())]
    return claims
