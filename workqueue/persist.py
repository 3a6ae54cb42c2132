"""The one entry point the flows call after every batch: store findings, then create, update, close tasks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from bots.findings import (
    AuthorizationFinding,
    ClaimStatusFinding,
    CorrespondenceFinding,
    PortalProblem,
    UploadConfirmation,
)
from bots.status_map import category_group
from workqueue.accounts import LOGIN_PROBLEM_KINDS, block_account
from workqueue.config import Rules, load_rules
from workqueue.documents import discard_download, known_document, store_letter
from workqueue.models import ACTIVE_STATUSES, Authorization, AuthorizationHistory, Claim, StatusFinding, Task
from workqueue.packets import confirm_upload, upload_failed
from workqueue.practice_rows import account_practice
from workqueue.rules import authorization_rules, claim_status_rules, letter_rules, problem_kind, problem_rules
from workqueue.specs import RuleOutcome, evidence_of
from workqueue.taskstore import apply_resolution, apply_spec, close_task, set_field

#: claim status groups a clearinghouse file cannot settle: the portal has the why (X12 P* pending, R* requests)
FILE_SENDS_BOT = frozenset({"pending", "request"})
# Problems that stop every step on the portal: raise them even when they happened during an upload.
_BLOCKING = frozenset({"login_failed", "account_locked", "mfa_required", "captcha_challenge", "session_unstable"})


@dataclass
class PersistReport:
    """What one call of persist_findings did (the flows add these to the run's counts)."""

    findings_stored: int = 0
    findings_unchanged: int = 0
    tasks_created: int = 0
    tasks_updated: int = 0
    tasks_closed: int = 0
    documents_stored: int = 0
    documents_known: int = 0
    authorizations_changed: int = 0
    uploads_confirmed: int = 0
    problems: int = 0
    accounts_blocked: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready counts."""
        return asdict(self)


def fingerprint(finding: ClaimStatusFinding) -> str:
    """Hash of what the portal said, without where and when it was read."""
    data = finding.model_dump(mode="json", exclude={"provenance"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _apply(session: Session, outcome: RuleOutcome, report: PersistReport) -> None:
    for spec in outcome.wanted:
        result = apply_spec(session, spec)
        report.tasks_created += result == "created"
        report.tasks_updated += result == "updated"
    for resolution in outcome.resolved:
        report.tasks_closed += apply_resolution(session, resolution)


def _claim_for(session: Session, finding: ClaimStatusFinding) -> Claim:
    claim = session.get(Claim, finding.claim_number)
    if claim is None:  # a portal answer about a claim the inventory lacks: keep it, never drop it
        prov = finding.provenance
        claim = Claim(claim_number=finding.claim_number, payer_id=prov.payer_id, in_inventory=False,
                      practice=account_practice(session, prov.payer_id, prov.account))
        session.add(claim)
        session.flush()
    return claim


def _persist_status(session: Session, finding: ClaimStatusFinding, rules: Rules, report: PersistReport,
                    run_id: int | None, edi_file_id: int | None = None) -> None:
    claim = _claim_for(session, finding)
    prov = finding.provenance
    if edi_file_id is None and claim.practice != account_practice(session, prov.payer_id, prov.account):
        # Only the claim's own practice's accounts check it (flows.assign): an answer through another practice's
        # account is not stored on it (a practice boundary), and says so.
        report.errors.append(f"claim {claim.claim_number}: read through {prov.payer_id}/{prov.account}, an account "
                             "of another practice; not stored")
        return
    observed = finding.provenance.observed_at
    print_ = fingerprint(finding)
    latest = session.exec(select(StatusFinding).where(StatusFinding.claim_number == claim.claim_number)
                          .order_by(col(StatusFinding.observed_at).desc(), col(StatusFinding.id).desc())).first()
    group = category_group(finding.status_category)
    finalized = group == "finalized"
    if edi_file_id is not None:
        # A file is not a portal check: last_checked_at stays the portal's. A file saying pending or asking for
        # information sends the bot to the portal for the detail (letters, records request, deadline).
        if group in FILE_SENDS_BOT and (claim.file_status_at is None or observed > claim.file_status_at):
            claim.file_status_at = observed
            session.add(claim)
    elif claim.last_checked_at is None or observed > claim.last_checked_at:
        claim.last_checked_at = observed
        claim.next_check_at = None if finalized else observed + timedelta(hours=rules.deadlines.recheck_after_hours)
        session.add(claim)
    if latest is not None and latest.fingerprint == print_:
        report.findings_unchanged += 1
        return
    session.add(StatusFinding(claim_number=claim.claim_number, payer_id=finding.provenance.payer_id,
                              status_category=finding.status_category, raw_status=finding.raw_status,
                              fingerprint=print_, observed_at=observed, run_id=run_id, edi_file_id=edi_file_id,
                              finding=finding.model_dump(mode="json")))
    report.findings_stored += 1
    if latest is not None and observed < latest.observed_at:
        return  # an older answer arriving late is history, not the claim's current state
    claim.status_category, claim.raw_status = finding.status_category, finding.raw_status
    claim.status_reference = finding.reference_number
    claim.payer_claim_number = finding.payer_claim_number or claim.payer_claim_number
    for name in ("allowed", "paid", "patient_responsibility", "adjudication_date", "payment_date", "check_number"):
        setattr(claim, name, getattr(finding, name))
    claim.finalized = finalized
    session.add(claim)
    _apply(session, claim_status_rules(claim, finding, rules), report)
    if finding.status_category is not None:
        report.tasks_closed += _leave_unmapped(session, claim, finding)


def _leave_unmapped(session: Session, claim: Claim, finding: ClaimStatusFinding) -> int:
    """The claim's wording is known now: drop it from unmapped-wording tasks; close those left empty."""
    closed = 0
    tasks = session.exec(select(Task).where(Task.kind == "unmapped_status", Task.payer_id == claim.payer_id,
                                            col(Task.status).in_(ACTIVE_STATUSES))).all()
    for task in tasks:
        evidence = task.evidence or []
        remaining = [e for e in evidence if e.get("claim_number") != claim.claim_number]
        if len(remaining) == len(evidence):
            continue
        note = f"claim {claim.claim_number} now maps to {finding.status_category} ({finding.raw_status})"
        set_field(session, task, "evidence", remaining, note=note)
        if not remaining:
            closed += close_task(session, task, "every listed claim now has a mapped status")
    return closed


def _persist_letter(session: Session, finding: CorrespondenceFinding, rules: Rules,
                    report: PersistReport) -> None:
    prov = finding.provenance
    if known_document(session, prov.payer_id, finding.portal_document_id, finding.sha256) is not None:
        discard_download(finding.file_path)  # kept once: the stored document is the copy
        report.documents_known += 1
        return
    if not Path(finding.file_path).is_file():
        report.errors.append(f"letter {finding.portal_document_id}: downloaded file is missing")
        return
    stored = store_letter(session, finding)  # removes the browser's copy as soon as the letter is stored
    if stored is None:
        report.documents_known += 1
        return
    document, facts, claim = stored
    report.documents_stored += 1
    evidence = evidence_of(prov, "document", portal_document_id=document.portal_document_id,
                           title=document.title, doc_type=document.doc_type, document_path=document.stored_path,
                           document_sha256=document.sha256, letter_date=str(document.letter_date or "") or None)
    _apply(session, letter_rules(
        payer_id=prov.payer_id, account=prov.account, portal_document_id=finding.portal_document_id,
        title=finding.title, facts=facts, claim=claim, observed=prov.observed_at.date(), evidence=evidence,
        rules=rules), report)


_AUTH_FIELDS = ("member_id", "service", "procedure_codes", "provider", "facility", "raw_status", "status",
                "approved_units", "used_units", "start_date", "end_date", "requested_date", "decision_date")


def _persist_authorization(session: Session, finding: AuthorizationFinding, rules: Rules,
                           report: PersistReport) -> None:
    payer = finding.provenance.payer_id
    row = session.exec(select(Authorization).where(Authorization.payer_id == payer,
                                                   Authorization.auth_number == finding.auth_number)).first()
    values = {name: getattr(finding, name) for name in _AUTH_FIELDS}
    if row is None:
        row = Authorization(payer_id=payer, auth_number=finding.auth_number, **values)
        session.add(row)
        session.flush()
        report.authorizations_changed += 1
    else:
        changes = {k: v for k, v in values.items() if getattr(row, k) != v}
        for name, value in changes.items():
            session.add(AuthorizationHistory(authorization_id=row.id, field=name, old=_str(getattr(row, name)),
                                             new=_str(value)))
            setattr(row, name, value)
        report.authorizations_changed += bool(changes)
    if row.last_seen_at is None or finding.provenance.observed_at > row.last_seen_at:
        row.last_seen_at = finding.provenance.observed_at
    session.add(row)
    practice = account_practice(session, payer, finding.provenance.account)
    claims = session.exec(select(Claim).where(Claim.payer_id == payer, Claim.auth_number == finding.auth_number,
                                              Claim.practice == practice)).all()
    _apply(session, authorization_rules(finding, list(claims), rules), report)


def _str(value) -> str | None:
    return None if value is None else str(value)


def _persist_problem(session: Session, problem: PortalProblem, rules: Rules, report: PersistReport,
                     run_id: int | None) -> None:
    report.problems += 1
    if problem.packet_id:
        spec = upload_failed(session, problem, rules)
        if spec is not None:
            _apply(session, RuleOutcome(wanted=[spec]), report)
        if problem_kind(problem.error_type) not in _BLOCKING:
            return
    _apply(session, problem_rules(problem, rules, run_id=run_id), report)
    kind = problem_kind(problem.error_type)
    if problem.during_login and kind in LOGIN_PROBLEM_KINDS:
        # Logging in again could lock the account: only an operator lets the bot back in.
        prov = problem.provenance
        task = session.exec(select(Task).where(Task.kind == kind, Task.payer_id == prov.payer_id,
                                               Task.account == prov.account, col(Task.status).in_(ACTIVE_STATUSES))
                            .order_by(col(Task.id).desc())).first()
        report.accounts_blocked += block_account(
            session, prov.payer_id, prov.account, kind=kind, reason=f"{problem.error_type}: {problem.message}",
            task_id=task.id if task else None)


def persist_findings(session: Session, findings: list, *, run_id: int | None = None,
                     edi_file_id: int | None = None) -> PersistReport:
    """Store a batch of findings of any kind; idempotent: the same batch twice changes nothing more.

    `edi_file_id`: the claim findings were read from that clearinghouse file (workqueue.edi_import), not a portal.
    """
    rules = load_rules()
    report = PersistReport()
    for finding in findings:
        if isinstance(finding, ClaimStatusFinding):
            _persist_status(session, finding, rules, report, run_id, edi_file_id)
        elif isinstance(finding, CorrespondenceFinding):
            _persist_letter(session, finding, rules, report)
        elif isinstance(finding, UploadConfirmation):
            try:
                report.uploads_confirmed += confirm_upload(session, finding, rules)
            except LookupError as exc:
                report.errors.append(str(exc))
        elif isinstance(finding, AuthorizationFinding):
            _persist_authorization(session, finding, rules, report)
        elif isinstance(finding, PortalProblem):
            _persist_problem(session, finding, rules, report, run_id)
        else:
            raise TypeError(f"not a finding: {type(finding).__name__}")
        session.flush()
    return report

