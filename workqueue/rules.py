"""The task rules as pure functions: a claim status, a letter, an authorization or a problem -> tasks wanted."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal

from bots.findings import AuthorizationFinding, ClaimStatusFinding, PortalProblem
from bots.status_map import category_group
from workqueue.config import Rules
from workqueue.letters import CLAIM_LETTERS, LetterFacts
from workqueue.models import Claim
from workqueue.specs import Resolution, RuleOutcome, TaskSpec, claim_key, evidence_of

REJECTED = frozenset({"A3", "A6", "A7", "A8"})
NOT_FOUND = frozenset({"D0", "A4"})
PAID = frozenset({"F1", "F3", "F3F", "F3N"})
PROBLEM_KINDS = {
    "LoginFailed": "login_failed", "AccountLocked": "account_locked", "MfaRequired": "mfa_required",
    "CaptchaChallenge": "captcha_challenge", "PortalChanged": "portal_changed",
    "PortalUnavailable": "portal_unavailable", "MaintenanceWindow": "portal_unavailable",
    "SessionUnstable": "session_unstable", "DownloadTooLarge": "download_too_large",
}
#: kinds about the portal itself, not one account: one task per payer while it is open
PAYER_WIDE_KINDS = ("portal_changed", "portal_unavailable")


def _spec(rules: Rules, kind: str, payer_id: str, key: str, **fields) -> TaskSpec:
    return TaskSpec(kind=kind, payer_id=payer_id, dedupe_key=key, owner=rules.owner(kind, payer_id),
                    priority=rules.priority(kind), **fields)


def _money(value: Decimal | None) -> str:
    return f"${value:,.2f}" if value is not None else "-"


def received_amount(finding: ClaimStatusFinding) -> Decimal | None:
    """What the payer priced the claim at: allowed if shown, else paid + patient responsibility."""
    if finding.allowed is not None:
        return finding.allowed
    if finding.paid is None and finding.patient_responsibility is None:
        return None
    return (finding.paid or Decimal("0")) + (finding.patient_responsibility or Decimal("0"))


def is_underpaid(finding: ClaimStatusFinding, expected: Decimal | None, rules: Rules) -> bool | None:
    """True/False for a paid claim with a known expected amount; None when the question does not apply."""
    amount = received_amount(finding)
    if finding.status_category not in PAID or expected is None or amount is None:
        return None
    return amount < expected - rules.deadlines.underpayment_tolerance


def _status_words(finding: ClaimStatusFinding) -> str:
    words = [finding.raw_status]
    if finding.pending_reason:
        words.append(finding.pending_reason)
    codes = [*(f"CARC {c}" for c in finding.carc_codes), *(f"RARC {c}" for c in finding.rarc_codes)]
    if codes:
        words.append(", ".join(codes))
    return " - ".join(words)


def claim_status_rules(claim: Claim, finding: ClaimStatusFinding, rules: Rules) -> RuleOutcome:
    """Tasks a claim's latest status asks for, and claim tasks it resolves."""
    out = RuleOutcome()
    prov = finding.provenance
    payer, number, cat = prov.payer_id, claim.claim_number, finding.status_category
    group = category_group(cat)
    seen = prov.observed_at.date()
    icn = finding.payer_claim_number or claim.payer_claim_number
    said = _status_words(finding)
    evidence = [evidence_of(prov, "claim_status", claim_number=number, status_category=cat,
                            raw_status=finding.raw_status)]
    window = rules.appeal_window(payer)
    d = rules.deadlines

    def want(kind: str, title: str, deadline: date | None, reference: str | None, note: str) -> None:
        out.wanted.append(_spec(rules, kind, payer, claim_key(kind, payer, number), title=title,
                                deadline=deadline, reference_number=reference, payer_said=said, note=note,
                                claim_number=number, account=prov.account, evidence=list(evidence)))

    def resolve(kind: str, reason: str) -> None:
        out.resolved.append(Resolution(claim_key(kind, payer, number), reason))

    now_text = f"claim now {cat} ({finding.raw_status})"
    if cat is None:
        out.wanted.append(unmapped_status_spec(claim, finding, rules))
        resolve("claim_not_found", f"claim found on the portal: {finding.raw_status!r}")
        return out

    if cat == "F2":
        want("denial_review", f"Denied claim {number}", (finding.adjudication_date or seen) + timedelta(window),
             icn, f"status {cat}: denied; appeal window {window} days")
    elif cat in PAID and (finding.paid or 0) > 0:
        resolve("denial_review", f"{now_text}, paid {_money(finding.paid)}")

    if cat == "P3" or group == "request":
        want("records_request", f"Records requested for claim {number}", seen + timedelta(d.records_response_days),
             icn, f"status {cat}: the payer asks for information")
    elif group == "finalized":
        resolve("records_request", now_text)

    if cat in REJECTED:
        want("claim_rejected", f"Rejected claim {number}", seen + timedelta(d.rejected_fix_days), icn,
             f"status {cat}: rejected")
    elif cat == "A2" or group in ("pending", "finalized"):
        resolve("claim_rejected", now_text)

    if cat in NOT_FOUND:
        want("claim_not_found", f"Claim {number} not found at the payer", seen + timedelta(d.not_found_days),
             finding.reference_number, f"status {cat}: the portal has no such claim")
    else:
        resolve("claim_not_found", f"claim found on the portal: {now_text}")

    underpaid = is_underpaid(finding, claim.expected_amount, rules)
    if underpaid:
        amount = received_amount(finding)
        out.wanted.append(_spec(
            rules, "underpayment_review", payer, claim_key("underpayment_review", payer, number),
            title=f"Underpaid claim {number}",
            deadline=(finding.adjudication_date or seen) + timedelta(window), reference_number=icn,
            payer_said=f"{said} - allowed {_money(amount)}, paid {_money(finding.paid)}, "
                       f"expected {_money(claim.expected_amount)}",
            note=f"priced {_money(amount)} against {_money(claim.expected_amount)} expected",
            claim_number=number, account=prov.account, evidence=list(evidence)))
    elif underpaid is False:
        resolve("underpayment_review", f"{now_text}: priced {_money(received_amount(finding))}, "
                                       f"expected {_money(claim.expected_amount)} reached")
    return out


def wording_key(raw_status: str) -> str:
    """Portal wording normalised: case and spacing ignored."""
    return re.sub(r"\s+", " ", raw_status).strip().casefold()


def unmapped_status_spec(claim: Claim, finding: ClaimStatusFinding, rules: Rules) -> TaskSpec:
    """One operator task per (payer, wording); its evidence lists every claim showing that wording."""
    prov = finding.provenance
    wording = wording_key(finding.raw_status)
    digest = hashlib.sha256(wording.encode()).hexdigest()[:16]
    return _spec(
        rules, "unmapped_status", prov.payer_id, f"unmapped_status:{prov.payer_id}:{digest}",
        title=f"Unknown {prov.payer_id} status wording: {finding.raw_status!r}",
        deadline=prov.observed_at.date() + timedelta(rules.deadlines.operator_days),
        reference_number=finding.payer_claim_number or claim.payer_claim_number,
        payer_said=finding.raw_status, note=f"wording not in the {prov.payer_id} status map",
        account=prov.account,
        evidence=[evidence_of(prov, "claim_status", claim_number=claim.claim_number, raw_status=finding.raw_status)],
    )


def problem_kind(error_type: str) -> str:
    """LoginFailed -> login_failed, ...; anything else -> portal_error."""
    return PROBLEM_KINDS.get(error_type, "portal_error")


def problem_rules(problem: PortalProblem, rules: Rules, *, run_id: int | None) -> RuleOutcome:
    """One operator task per (kind, payer, account) while it is open; per payer for a changed or down portal."""
    prov = problem.provenance
    kind = problem_kind(problem.error_type)
    payer_wide = kind in PAYER_WIDE_KINDS and not problem.during_login
    key = f"{kind}:{prov.payer_id}" if payer_wide else f"{kind}:{prov.payer_id}:{prov.account}"
    spec = _spec(
        rules, kind, prov.payer_id, key,
        title=f"{prov.payer_id}: {kind.replace('_', ' ')}" if payer_wide else
        f"{prov.payer_id} ({prov.account}): {kind.replace('_', ' ')}" + (" at login" if problem.during_login else ""),
        deadline=prov.observed_at.date() + timedelta(rules.deadlines.operator_days),
        reference_number=f"bot-run-{run_id}" if run_id is not None else None,
        payer_said=f"{problem.error_type}: {problem.message}", note=f"bot stopped: {problem.error_type}",
        account=prov.account, reopen_when_closed_by_person=True,
        evidence=[evidence_of(prov, "portal_problem", error_type=problem.error_type, run_id=run_id,
                              claim_number=problem.claim_number, page_html_path=problem.page_html_path,
                              during_login=problem.during_login or None)],
    )
    return RuleOutcome(wanted=[spec])


def letter_rules(*, payer_id: str, account: str, portal_document_id: str, title: str, facts: LetterFacts,
                 claim: Claim | None, observed: date, evidence: dict, rules: Rules) -> RuleOutcome:
    """A records request updates the claim's records task, a denial its appeal deadline; the rest is filed."""
    out = RuleOutcome()
    d = rules.deadlines
    linked = claim is not None
    if facts.doc_type == "other" or (facts.doc_type in CLAIM_LETTERS and not linked):
        why = "letter of no known type" if facts.doc_type == "other" else \
            f"{facts.doc_type.replace('_', ' ')} letter that matches no claim in the inventory"
        out.wanted.append(_spec(
            rules, "correspondence_review", payer_id, f"correspondence_review:{payer_id}:{portal_document_id}",
            title=f"Review letter: {title}", deadline=observed + timedelta(d.correspondence_review_days),
            reference_number=portal_document_id, payer_said=title, note=why, account=account,
            claim_number=None, evidence=[evidence]))
        return out
    if claim is None:
        return out
    number = claim.claim_number
    icn = facts.payer_claim_number or claim.payer_claim_number
    if facts.doc_type == "records_request":
        due = facts.due_date or observed + timedelta(d.records_response_days)
        reference = facts.document_control_number or icn
        out.wanted.append(_spec(
            rules, "records_request", payer_id, claim_key("records_request", payer_id, number),
            title=f"Records requested for claim {number}", deadline=due, reference_number=reference,
            payer_said=title, claim_number=number, account=account, evidence=[evidence], authoritative=True,
            note=f"records request letter {portal_document_id}: due {due:%m/%d/%Y}, reference {reference}"))
    elif facts.doc_type == "denial":
        window = rules.appeal_window(payer_id)
        due = facts.due_date or (claim.adjudication_date or observed) + timedelta(window)
        out.wanted.append(_spec(
            rules, "denial_review", payer_id, claim_key("denial_review", payer_id, number),
            title=f"Denied claim {number}", deadline=due, reference_number=icn, payer_said=title,
            claim_number=number, account=account, evidence=[evidence], authoritative=facts.due_date is not None,
            note=f"denial letter {portal_document_id}: appeals must be received by {due:%m/%d/%Y}"))
    return out


def _auth_mismatch(auth: AuthorizationFinding, claim: Claim) -> str | None:
    reasons = []
    if claim.date_of_service and auth.start_date and auth.end_date and \
            not auth.start_date <= claim.date_of_service <= auth.end_date:
        reasons.append(f"date of service {claim.date_of_service:%m/%d/%Y} outside "
                       f"{auth.start_date:%m/%d/%Y}-{auth.end_date:%m/%d/%Y}")
    codes = claim.code_list()
    uncovered = [c for c in codes if auth.procedure_codes and c not in auth.procedure_codes]
    if uncovered:
        reasons.append(f"procedure code(s) {', '.join(uncovered)} not authorized")
    units = sum(u for c, u in zip(codes, claim.unit_list(), strict=False) if c in auth.procedure_codes)
    if auth.approved_units is not None and units > auth.approved_units:
        reasons.append(f"{units} units billed, {auth.approved_units} approved")
    return "; ".join(reasons) or None


def authorization_rules(auth: AuthorizationFinding, claims: list[Claim], rules: Rules) -> RuleOutcome:
    """Denied, long-pended, expiring, nearly used-up authorizations, and claims that do not fit them."""
    out = RuleOutcome()
    prov = auth.provenance
    payer, number, d = prov.payer_id, auth.auth_number, rules.deadlines
    seen = prov.observed_at.date()
    evidence = [evidence_of(prov, "authorization", auth_number=number, raw_status=auth.raw_status)]
    approved, used = auth.approved_units or 0, auth.used_units or 0
    granted = auth.status in ("approved", "partially_approved")

    def decide(kind: str, holds: bool, title: str, deadline: date | None, why: str, gone: str) -> None:
        key = f"{kind}:{payer}:{number}"
        if holds:
            out.wanted.append(_spec(rules, kind, payer, key, title=title, deadline=deadline,
                                    reference_number=number, payer_said=f"{auth.service}: {auth.raw_status}",
                                    note=why, account=prov.account, evidence=list(evidence)))
        else:
            out.resolved.append(Resolution(key, gone))

    decide("auth_denied", auth.status == "denied", f"Authorization {number} denied",
           (auth.decision_date or seen) + timedelta(d.auth_denied_days), "authorization denied",
           f"authorization now {auth.status or auth.raw_status}")
    waited = (seen - auth.requested_date).days if auth.requested_date else 0
    decide("auth_pending", auth.status == "pended" and waited > d.auth_pending_days,
           f"Authorization {number} pending {waited} days", seen + timedelta(d.auth_pending_follow_up_days),
           f"pended {waited} days since the request", f"authorization now {auth.status or auth.raw_status}")
    expiring = granted and auth.end_date is not None and seen <= auth.end_date <= \
        seen + timedelta(d.auth_expiring_days) and used < approved
    decide("auth_expiring", expiring, f"Authorization {number} ends {auth.end_date}", auth.end_date,
           f"ends {auth.end_date} with {approved - used} of {approved} units left",
           "authorization no longer expiring with units left")
    low = approved > 0 and used >= d.auth_units_used_ratio * approved
    low_deadline = seen + timedelta(d.auth_units_low_days)
    if auth.end_date and auth.end_date >= seen:
        low_deadline = min(low_deadline, auth.end_date)
    decide("auth_units_low", low, f"Authorization {number}: {used} of {approved} units used", low_deadline,
           f"{used} of {approved} units used", f"{used} of {approved} units used")
    for claim in claims:
        key = f"auth_mismatch:{payer}:{number}:{claim.claim_number}"
        reason = _auth_mismatch(auth, claim)
        if reason:
            out.wanted.append(_spec(
                rules, "auth_mismatch", payer, key, title=f"Claim {claim.claim_number} outside authorization {number}",
                deadline=seen + timedelta(d.auth_mismatch_days), reference_number=number,
                payer_said=f"{auth.service}: {auth.raw_status}", note=reason, claim_number=claim.claim_number,
                account=prov.account, evidence=list(evidence)))
        else:
            out.resolved.append(Resolution(key, "claim now within the authorization"))
    return out
