"""Store a clearinghouse file's claims (277, 277CA, 835) through the same path as the bots' findings.

The file is parsed elsewhere (`bots.edi`); this module gets its claims, matches each to the inventory by
claim number, persists the matched ones as claim status findings (same tasks, dedupe, auto-resolution,
history), turns each unknown claim into one `unmatched_remittance` task, and records the file by its hash so
the same bytes imported again change nothing. The caller's transaction makes a failing file change nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlmodel import Session, col, func, select

from bots.findings import ClaimStatusFinding, utc_now
from workqueue.config import Rules, load_rules
from workqueue.models import Claim, EdiFile
from workqueue.persist import persist_findings
from workqueue.specs import TaskSpec, evidence_of
from workqueue.taskstore import apply_spec


class FileClaim(Protocol):
    """What this module reads of one claim from a file (bots.edi.EdiClaim; workqueue may not import bots.edi)."""

    claim_number: str
    transaction: str
    interchange_control_number: str
    payer_name: str | None
    payer_identifier: str | None
    sender_id: str
    raw_text: str
    fields: dict

    def finding(self, payer_id: str) -> ClaimStatusFinding:
        """The claim as a finding, with provenance naming the file."""


class ParsedFile(Protocol):
    """A whole file as read (bots.edi.EdiFile has this shape)."""

    file_name: str
    sha256: str
    interchanges: list[str]
    claims: list[FileClaim]


@dataclass
class EdiImportReport:
    """What importing one file did (counts only: safe to print and log)."""

    file_name: str
    already_imported_at: datetime | None = None
    kinds: str = ""
    interchanges: int = 0
    claims: int = 0
    matched: int = 0
    unmatched: int = 0
    findings_stored: int = 0
    findings_unchanged: int = 0
    tasks_created: int = 0
    tasks_updated: int = 0
    tasks_closed: int = 0
    visits_saved: int = 0

    def as_dict(self) -> dict:
        """JSON-ready counts."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}

    def line(self) -> str:
        """One line for the CLI and the night's log."""
        if self.already_imported_at is not None:
            return (f"{self.file_name}: already imported {self.already_imported_at:%Y-%m-%d %H:%M} UTC; "
                    "nothing changed")
        return (f"{self.file_name}: {self.kinds or 'no claims'}, {self.interchanges} interchange(s), "
                f"{self.claims} claims ({self.matched} matched, {self.unmatched} unmatched), "
                f"{self.findings_stored} findings stored, {self.tasks_created} tasks created, "
                f"{self.tasks_closed} closed, {self.visits_saved} portal visits saved")


def _unmatched_spec(claim: FileClaim, finding: ClaimStatusFinding, rules: Rules, today) -> TaskSpec:
    """One task per unknown claim (keyed by the claim number): a person finds it or posts the payment."""
    fields = claim.fields
    payer = finding.provenance.payer_id
    paid = fields.get("paid")
    money = f"${Decimal(str(paid)):,.2f}" if paid is not None else "-"
    what = f"{claim.transaction} for claim {claim.claim_number}, which is not in the inventory"
    return TaskSpec(
        kind="unmatched_remittance", payer_id=payer, dedupe_key=f"unmatched_remittance:{claim.claim_number}",
        title=f"{what}: paid {money}" + (f", check/EFT {fields['check_number']}" if fields.get("check_number")
                                        else ""),
        owner=rules.owner("unmatched_remittance", payer), priority=rules.priority("unmatched_remittance"),
        deadline=today + timedelta(days=rules.deadlines.unmatched_remittance_days),
        reference_number=fields.get("payer_claim_number") or fields.get("check_number"),
        payer_said=claim.raw_text, note=f"{claim.transaction} from {claim.payer_name or claim.sender_id}",
        claim_number=None, account=finding.provenance.account,
        evidence=[evidence_of(finding.provenance, "edi_file", claim_number=claim.claim_number,
                              status_category=finding.status_category)],
    )


def _as_of_import(finding: ClaimStatusFinding, now: datetime) -> ClaimStatusFinding:
    """A file's answer dated no later than its import: ISA09/ISA10 are the sender's local time, not UTC, and a
    time ahead of the clock would make tonight's portal answer look older than the file's."""
    if finding.provenance.observed_at <= now:
        return finding
    return finding.model_copy(update={"provenance": finding.provenance.model_copy(update={"observed_at": now})})


def _payer_for_unmatched(claim: FileClaim, known: dict[str, str]) -> str:
    """A payer id for a claim we do not know: its transaction's other claims', else the file's payer id."""
    return known.get(claim.interchange_control_number) or claim.payer_identifier or claim.payer_name \
        or f"edi:{claim.sender_id}"


def import_parsed_file(session: Session, parsed: ParsedFile, *, actor: str = "bot") -> EdiImportReport:
    """Import one parsed file in the caller's transaction; a file with this hash already imported is a no-op."""
    report = EdiImportReport(file_name=parsed.file_name)
    earlier = session.exec(select(EdiFile).where(EdiFile.sha256 == parsed.sha256)).first()
    if earlier is not None:
        report.already_imported_at = earlier.imported_at
        return report
    rules = load_rules()
    row = EdiFile(sha256=parsed.sha256, file_name=parsed.file_name, interchanges=",".join(parsed.interchanges),
                  kinds=",".join(sorted({c.transaction for c in parsed.claims})), imported_by=actor)
    session.add(row)
    session.flush()
    now = utc_now()
    findings: list[ClaimStatusFinding] = []
    unmatched: list[FileClaim] = []
    was_open: set[str] = set()
    payer_of_interchange: dict[str, str] = {}
    for file_claim in parsed.claims:
        claim = session.get(Claim, file_claim.claim_number)
        if claim is None:
            unmatched.append(file_claim)
            continue
        payer_of_interchange.setdefault(file_claim.interchange_control_number, claim.payer_id)
        if not claim.finalized:
            was_open.add(claim.claim_number)
        findings.append(_as_of_import(file_claim.finding(claim.payer_id), now))
    persisted = persist_findings(session, findings, edi_file_id=row.id)
    report.tasks_created, report.tasks_updated = persisted.tasks_created, persisted.tasks_updated
    report.tasks_closed = persisted.tasks_closed
    today = now.date()
    for file_claim in unmatched:
        payer = _payer_for_unmatched(file_claim, payer_of_interchange)
        finding = _as_of_import(file_claim.finding(payer), now)
        result = apply_spec(session, _unmatched_spec(file_claim, finding, rules, today))
        report.tasks_created += result == "created"
        report.tasks_updated += result == "updated"
    session.flush()
    finalized_now = set(session.exec(select(Claim.claim_number).where(
        col(Claim.claim_number).in_(was_open), col(Claim.finalized).is_(True))).all()) if was_open else set()
    report.kinds, report.interchanges = row.kinds, len(parsed.interchanges)
    report.claims, report.matched, report.unmatched = len(parsed.claims), len(findings), len(unmatched)
    report.findings_stored, report.findings_unchanged = persisted.findings_stored, persisted.findings_unchanged
    report.visits_saved = len(finalized_now)
    for name in ("claims", "matched", "unmatched", "findings_stored", "tasks_created", "tasks_closed",
                 "visits_saved"):
        setattr(row, name, getattr(report, name))
    session.add(row)
    session.flush()
    return report


def visits_saved_since(session: Session, since: datetime | None) -> tuple[int, int]:
    """(files imported, portal visits they saved) since a moment (the previous night's start; None: ever)."""
    query = select(func.count(), func.coalesce(func.sum(EdiFile.visits_saved), 0))
    if since is not None:
        query = query.where(EdiFile.imported_at > since)
    files, saved = session.exec(query).one()
    return int(files), int(saved)

