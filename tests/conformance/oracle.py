"""The sandbox oracle's answers compared field by field with what an adapter found (shared by the suite)."""

from __future__ import annotations

from decimal import Decimal

from bots.findings import AuthorizationFinding, ClaimStatusFinding


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _day(value) -> str | None:
    return value.isoformat() if value else None


def claim_differences(finding: ClaimStatusFinding, truth: dict) -> list[str]:
    """Every field where a claim finding disagrees with the oracle (the finding's own payer claim number)."""
    got = {
        "status_category": finding.status_category,
        "payer_claim_number": finding.payer_claim_number, "reference_number": finding.reference_number,
        "billed": _money(finding.billed), "allowed": _money(finding.allowed), "paid": _money(finding.paid),
        "patient_responsibility": _money(finding.patient_responsibility),
        "adjudication_date": _day(finding.adjudication_date), "payment_method": finding.payment_method,
        "check_number": finding.check_number, "payment_date": _day(finding.payment_date),
        "pending_reason": finding.pending_reason, "crossover_payer": finding.crossover_payer,
        "carc_codes": finding.carc_codes, "rarc_codes": finding.rarc_codes,
        "adjustments": [[a.group_code, a.carc, str(a.amount)] for a in finding.adjustments],
    }
    want = dict(truth)
    if truth["unmapped_wording"]:
        want["status_category"] = None  # the wording is not in the status map: kept raw for a person
    if truth["on_file"]:
        got["procedure_codes"] = [line.procedure_code for line in finding.service_lines]
        got["units"] = [line.units for line in finding.service_lines]
    return [f"{finding.claim_number}.{key}: got {value!r}, oracle {want[key]!r}"
            for key, value in got.items() if value != want[key]]


def authorization_differences(finding: AuthorizationFinding, truth: dict) -> list[str]:
    """Every field where an authorization finding disagrees with the oracle."""
    got = {"auth_number": finding.auth_number, "member_id": finding.member_id, "service": finding.service,
           "procedure_codes": finding.procedure_codes, "provider": finding.provider, "facility": finding.facility,
           "status": finding.status, "approved_units": finding.approved_units, "used_units": finding.used_units,
           "requested_date": _day(finding.requested_date), "start_date": _day(finding.start_date),
           "end_date": _day(finding.end_date)}
    return [f"{finding.auth_number}.{key}: got {value!r}, oracle {truth[key]!r}"
            for key, value in got.items() if value != truth[key]]
