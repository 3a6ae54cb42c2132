"""What the work queue must hold after a night, derived from a sandbox oracle and docs/task-rules.md.

This is the test's own reading of the rules table, written independently of `workqueue/rules.py`:
only the configuration (owners, day counts) is shared, because it is data, not logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from workqueue.config import Rules

REJECTED = {"A3", "A6", "A7", "A8"}
NOT_FOUND = {"D0", "A4"}


@dataclass(frozen=True)
class ExpectedTask:
    kind: str
    key: str  # claim number, authorization number (+ claim for mismatches) or letter id
    reference_number: str | None
    deadline: date | None  # None: the rules table gives no deadline the oracle can reproduce


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def claim_tasks(oracle: dict, rules: Rules, observed: date) -> dict[tuple[str, str], ExpectedTask]:
    """Tasks from claim statuses and letters."""
    payer = oracle["payer_id"]
    window = timedelta(days=rules.appeal_window(payer))
    days = rules.deadlines
    tasks: dict[tuple[str, str], ExpectedTask] = {}

    def add(kind: str, key: str, reference: str | None, deadline: date | None) -> None:
        tasks[(kind, key)] = ExpectedTask(kind, key, reference, deadline)

    for number, claim in oracle["claims"].items():
        category, icn = claim["status_category"], claim["payer_claim_number"]
        if claim["unmapped_wording"] or category is None:
            continue
        adjudicated = _d(claim["adjudication_date"]) or observed
        if category == "F2":
            add("denial_review", number, icn, adjudicated + window)
        elif category == "P3" or category.startswith("R"):
            add("records_request", number, icn, observed + timedelta(days=days.records_response_days))
        elif category in REJECTED:
            add("claim_rejected", number, icn, observed + timedelta(days=days.rejected_fix_days))
        elif category in NOT_FOUND:
            add("claim_not_found", number, claim["reference_number"], observed + timedelta(days=days.not_found_days))
        elif category in ("F1", "F3"):
            if claim["allowed"] is not None:
                amount = Decimal(claim["allowed"])
            else:
                amount = Decimal(claim["paid"]) + Decimal(claim["patient_responsibility"])
            if amount < Decimal(claim["expected_amount"]) - days.underpayment_tolerance:
                add("underpayment_review", number, icn, adjudicated + window)
    for letter in oracle["letters"]:
        claim_number = letter["claim_number"]
        if letter["type"] == "records_request":
            if oracle["claims"][claim_number]["finalized"]:
                continue  # the payer decided the claim since: the request is moot and its task closed
            add("records_request", claim_number, letter["reference_number"], _d(letter["due_date"]))
        elif letter["type"] == "denial":
            add("denial_review", claim_number, letter["payer_claim_number"], _d(letter["due_date"]))
        elif letter["type"] == "other":
            add("correspondence_review", letter["letter_id"], letter["letter_id"],
                observed + timedelta(days=days.correspondence_review_days))
    return tasks


def authorization_tasks(oracle: dict, rules: Rules, observed: date) -> dict[tuple[str, str], ExpectedTask]:
    """Tasks from authorizations and the claims billed under them."""
    days = rules.deadlines
    tasks: dict[tuple[str, str], ExpectedTask] = {}
    for auth in oracle["authorizations"]:
        number, status = auth["auth_number"], auth["status"]
        approved, used = auth["approved_units"] or 0, auth["used_units"] or 0
        start, end = _d(auth["start_date"]), _d(auth["end_date"])
        if status == "denied":
            tasks[("auth_denied", number)] = ExpectedTask("auth_denied", number, number, None)
        if status == "pended" and (observed - _d(auth["requested_date"])).days > days.auth_pending_days:
            tasks[("auth_pending", number)] = ExpectedTask("auth_pending", number, number, None)
        granted = status in ("approved", "partially_approved")
        soon = observed + timedelta(days=days.auth_expiring_days)
        if granted and end and observed <= end <= soon and used < approved:
            tasks[("auth_expiring", number)] = ExpectedTask("auth_expiring", number, number, end)
        if approved > 0 and used >= days.auth_units_used_ratio * approved:
            tasks[("auth_units_low", number)] = ExpectedTask("auth_units_low", number, number, None)
        for claim_number, claim in oracle["claims"].items():
            if claim["auth_number"] != number:
                continue
            dos = _d(claim["date_of_service"])
            outside = start and end and not start <= dos <= end
            uncovered = any(code not in auth["procedure_codes"] for code in claim["procedure_codes"])
            units = sum(u for code, u in zip(claim["procedure_codes"], claim["units"], strict=True)
                        if code in auth["procedure_codes"])
            if outside or uncovered or units > approved:
                key = f"{number}:{claim_number}"
                tasks[("auth_mismatch", key)] = ExpectedTask("auth_mismatch", key, number, None)
    return tasks
