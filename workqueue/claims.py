"""Claim lookups for billers and the checks: where each claim stands and when it is checked next."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from bots.findings import ClaimQuery
from workqueue.models import Claim
from workqueue.practices import Practices, visible


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


def list_claims(session: Session, *, payer_id: str | None = None, category: str | None = None,
                practices: Practices = None) -> list[Claim]:
    """Claims by payer and claim number; `category` matches a code (F1) or its first letter (F); of `practices`."""
    query = select(Claim).where(visible(Claim.practice, practices)).order_by(Claim.payer_id, Claim.claim_number)
    if payer_id:
        query = query.where(Claim.payer_id == payer_id)
    claims = list(session.exec(query))
    if category:
        claims = [c for c in claims if c.status_category and c.status_category.startswith(category.upper())]
    return claims


def claim_query(claim: Claim) -> ClaimQuery:
    """Everything the inventory knows about a claim, as the search keys an adapter gets."""
    return ClaimQuery(
        claim_number=claim.claim_number, payer_id=claim.payer_id, member_id=claim.member_id,
        date_of_service=claim.date_of_service, payer_claim_number=claim.payer_claim_number,
        billed_amount=claim.billed_amount, patient_first_name=claim.patient_first_name,
        patient_last_name=claim.patient_last_name, patient_dob=claim.patient_dob,
        procedure_codes=claim.code_list(),
        provider_npi=claim.provider_npi, submitted_date=claim.submitted_date, practice=claim.practice)
