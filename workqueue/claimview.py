"""Claim lookup for billers: find a claim by number, ICN, member id or patient name; everything about one claim."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, case, or_
from sqlmodel import Session, col, func, select

from bots.status_map import claim_status_categories
from workqueue.claims import _money, claim_as_dict
from workqueue.models import Claim, Document, RecordsPacket, StatusFinding, Task
from workqueue.practices import Practices, may_see, visible

MAX_QUERY = 100  # characters of search text looked at
MAX_WORDS = 6  # name words looked at
_WORDS = re.compile(r"[\s,]+")


def _escape(text: str) -> str:
    """`text` with the LIKE wildcards (% _) and the escape character itself escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix(column: Any, text: str) -> Any:
    """Case-insensitive: the column starts with `text` (taken literally)."""
    return col(column).ilike(_escape(text) + "%", escape="\\")


def _name_word(word: str) -> Any:
    """The word starts the patient's first or last name, or one part of it (De La Cruz, Smith-Jones)."""
    escaped = _escape(word)
    patterns = (escaped + "%", "% " + escaped + "%", "%-" + escaped + "%")
    return or_(*(col(column).ilike(pattern, escape="\\")
                 for column in (Claim.patient_last_name, Claim.patient_first_name) for pattern in patterns))


def search_claims(session: Session, text: str, *, limit: int = 50, practices: Practices = None) -> list[Claim]:
    """Claims whose number, payer claim number or member id starts with `text`, or whose patient has these names.

    Only claims of `practices` (None: every practice).
    """
    text = (text or "").strip()[:MAX_QUERY].strip()
    if not text:
        return []
    lowered = text.lower()
    matches = [_prefix(Claim.claim_number, text), _prefix(Claim.payer_claim_number, text),
               _prefix(Claim.member_id, text)]
    words = [w for w in _WORDS.split(text) if w][:MAX_WORDS]
    if words:
        matches.append(and_(*(_name_word(w) for w in words)))
    rank = case((func.lower(Claim.claim_number) == lowered, 0),
                (or_(func.lower(Claim.payer_claim_number) == lowered, func.lower(Claim.member_id) == lowered), 1),
                else_=2)
    query = (select(Claim).where(or_(*matches), visible(Claim.practice, practices))
             .order_by(rank, case((col(Claim.date_of_service).is_(None), 1), else_=0),
                       col(Claim.date_of_service).desc(), col(Claim.claim_number))
             .limit(limit))
    return list(session.exec(query).all())


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money_any(value: Any) -> str | None:
    """A stored amount (Decimal, number or text from a finding's JSON) as '123.45'; None when there is none."""
    if value is None or value == "":
        return None
    try:
        return _money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def _meaning(code: str | None) -> str | None:
    entry = claim_status_categories().get(code) if code else None
    return entry[1] if entry else None


def _patient_name(claim: Claim) -> str | None:
    last, first = claim.patient_last_name or "", claim.patient_first_name or ""
    return ", ".join(part for part in (last, first) if part) or None


def _finding_row(row: StatusFinding) -> dict:
    data = row.finding if isinstance(row.finding, dict) else {}
    return {
        "id": row.id, "observed_at": _iso(row.observed_at), "run_id": row.run_id,
        "category": row.status_category, "meaning": _meaning(row.status_category), "raw_status": row.raw_status,
        "reference_number": data.get("reference_number"), "payer_claim_number": data.get("payer_claim_number"),
        "paid": _money_any(data.get("paid")), "carc_codes": list(data.get("carc_codes") or []),
        "rarc_codes": list(data.get("rarc_codes") or []),
    }


def claim_detail(session: Session, claim_number: str, practices: Practices = None) -> dict | None:
    """Everything the claim page shows, as JSON-ready values; None when there is no such claim in `practices`."""
    claim = session.get(Claim, claim_number)
    if claim is None or not may_see(claim.practice, practices):
        return None
    findings = session.exec(select(StatusFinding).where(StatusFinding.claim_number == claim.claim_number)
                            .order_by(col(StatusFinding.observed_at), col(StatusFinding.id))).all()
    tasks = session.exec(select(Task).where(Task.claim_number == claim.claim_number)
                         .order_by(col(Task.created_at), col(Task.id))).all()
    documents = session.exec(select(Document).where(Document.claim_number == claim.claim_number)
                             .order_by(col(Document.letter_date), col(Document.id))).all()
    task_ids = [t.id for t in tasks]
    packet_match = RecordsPacket.claim_number == claim.claim_number
    if task_ids:
        packet_match = or_(packet_match, col(RecordsPacket.task_id).in_(task_ids))
    packets = session.exec(select(RecordsPacket).where(packet_match)
                           .order_by(col(RecordsPacket.created_at), col(RecordsPacket.packet_id))).all()
    return {
        "claim": {
            **claim_as_dict(claim), "payer_name": claim.payer_name, "patient_name": _patient_name(claim),
            "patient_last_name": claim.patient_last_name, "patient_first_name": claim.patient_first_name,
            "member_id": claim.member_id, "date_of_service": _iso(claim.date_of_service),
            "billed_amount": _money(claim.billed_amount), "expected_amount": _money(claim.expected_amount),
            "payer_claim_number": claim.payer_claim_number, "procedure_codes": claim.code_list(),
            "practice": claim.practice,
        },
        "status": {
            "category": claim.status_category, "meaning": _meaning(claim.status_category),
            "raw_status": claim.raw_status, "reference_number": claim.status_reference,
            "allowed": _money(claim.allowed), "paid": _money(claim.paid),
            "patient_responsibility": _money(claim.patient_responsibility),
            "adjudication_date": _iso(claim.adjudication_date), "payment_date": _iso(claim.payment_date),
            "check_number": claim.check_number, "finalized": claim.finalized,
            "last_checked_at": _iso(claim.last_checked_at), "next_check_at": _iso(claim.next_check_at),
        },
        "findings": [_finding_row(f) for f in findings],
        "tasks": [{"id": t.id, "kind": t.kind, "title": t.title, "owner": t.owner, "status": t.status,
                   "priority": t.priority, "deadline": _iso(t.deadline), "reference_number": t.reference_number}
                  for t in tasks],
        "documents": [{"id": d.id, "title": d.title, "letter_date": _iso(d.letter_date), "doc_type": d.doc_type,
                       "due_date": _iso(d.due_date), "reference_number": d.reference_number} for d in documents],
        "uploads": [{"packet_id": p.packet_id, "task_id": p.task_id, "status": p.status,
                     "original_file_name": p.original_file_name, "confirmation_number": p.confirmation_number,
                     "uploaded_at": _iso(p.uploaded_at)} for p in packets],
    }
