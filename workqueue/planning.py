"""Plan a night: which claims to check, which packets to upload, which letters are new, which payers to skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, func, select

from bots.findings import ClaimQuery, utc_now
from bots.findings import RecordsPacket as PacketFinding
from workqueue.config import load_rules
from workqueue.models import ACTIVE_STATUSES, Authorization, Claim, Document, RecordsPacket, Task
from workqueue.packets import set_packet_status, upload_operator_spec
from workqueue.taskstore import apply_spec

# Never log into a portal again while one of these is open: repeated failed logins lock the account.
BLOCKING_KINDS = ("login_failed", "account_locked")


@dataclass
class NightPlan:
    """Everything the flows need for one night, per payer."""

    now: datetime
    claims: dict[str, list[ClaimQuery]] = field(default_factory=dict)
    uploads: dict[str, list[PacketFinding]] = field(default_factory=dict)
    correspondence_since: dict[str, date | None] = field(default_factory=dict)
    known_document_ids: dict[str, set[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    unconfirmed_packets: list[str] = field(default_factory=list)

    @property
    def payers(self) -> list[str]:
        """Payers to visit tonight (skipped ones excluded)."""
        return sorted(self.correspondence_since)


def _known_payers(session: Session) -> set[str]:
    payers: set[str] = set()
    for column in (Claim.payer_id, Document.payer_id, Authorization.payer_id, RecordsPacket.payer_id):
        payers.update(session.exec(select(column).distinct()).all())
    return payers


def _blocked(session: Session, payers: set[str]) -> dict[str, str]:
    tasks = session.exec(select(Task).where(col(Task.kind).in_(BLOCKING_KINDS),
                                            col(Task.status).in_(ACTIVE_STATUSES),
                                            col(Task.payer_id).in_(payers))).all()
    skipped: dict[str, str] = {}
    for task in sorted(tasks, key=lambda t: t.id or 0):
        skipped.setdefault(task.payer_id, f"open {task.kind} task #{task.id}: an operator must close it "
                                          "before the bot logs in again")
    return skipped


def _unconfirmed(session: Session) -> list[str]:
    """Packets still 'uploading' from an earlier run: a crash mid-upload. Never re-upload blindly."""
    rules = load_rules()
    flagged = []
    for packet in session.exec(select(RecordsPacket).where(RecordsPacket.status == "uploading")).all():
        packet.last_error = "the run stopped during the upload; whether the portal received it is unknown"
        set_packet_status(packet, "failed", session)
        apply_spec(session, upload_operator_spec(
            packet, rules, kind="upload_unconfirmed", note=packet.last_error,
            evidence={"source": "planning", "packet_id": packet.packet_id}))
        flagged.append(packet.packet_id)
    return flagged


def _packet_finding(session: Session, packet: RecordsPacket) -> PacketFinding:
    claim = session.get(Claim, packet.claim_number) if packet.claim_number else None
    task = session.get(Task, packet.task_id)
    icn = claim.payer_claim_number if claim else None
    dcn = task.reference_number if task and task.reference_number != icn else None
    return PacketFinding(packet_id=packet.packet_id, claim_number=packet.claim_number or "",
                         payer_claim_number=icn, reference_number=dcn, file_path=packet.stored_path,
                         sha256=packet.sha256)


def plan_night(session: Session, *, now: datetime | None = None, payer_ids: list[str] | None = None,
               force: bool = False) -> NightPlan:
    """The night's work per payer; claims checked within recheck_after_hours wait unless `force`."""
    now = now or utc_now()
    rules = load_rules()
    plan = NightPlan(now=now, unconfirmed_packets=_unconfirmed(session))
    payers = set(payer_ids) if payer_ids is not None else _known_payers(session)
    plan.skipped = _blocked(session, payers)
    active = sorted(payers - set(plan.skipped))
    recent = now - timedelta(hours=rules.deadlines.recheck_after_hours)
    overlap = timedelta(days=rules.deadlines.correspondence_overlap_days)
    for payer in active:
        query = select(Claim).where(Claim.payer_id == payer, col(Claim.finalized).is_(False),
                                    col(Claim.member_id).is_not(None), col(Claim.date_of_service).is_not(None))
        if not force:
            query = query.where((col(Claim.last_checked_at).is_(None)) | (col(Claim.last_checked_at) <= recent))
        plan.claims[payer] = [
            ClaimQuery(claim_number=c.claim_number, payer_id=payer, member_id=c.member_id,
                       date_of_service=c.date_of_service, payer_claim_number=c.payer_claim_number,
                       billed_amount=c.billed_amount)
            for c in session.exec(query.order_by(Claim.claim_number)).all()
        ]
        packets = session.exec(select(RecordsPacket).where(RecordsPacket.payer_id == payer,
                                                           RecordsPacket.status == "queued")
                               .order_by(RecordsPacket.created_at)).all()
        plan.uploads[payer] = [_packet_finding(session, p) for p in packets]
        latest = session.exec(select(func.max(Document.letter_date)).where(Document.payer_id == payer)).one()
        plan.correspondence_since[payer] = latest - overlap if latest else None
        plan.known_document_ids[payer] = set(session.exec(
            select(Document.portal_document_id).where(Document.payer_id == payer)).all())
    return plan


def mark_uploading(session: Session, packet_ids: list[str]) -> int:
    """Mark queued packets as being uploaded now (a crash leaves them 'uploading' for the next plan)."""
    marked = 0
    for packet_id in packet_ids:
        packet = session.get(RecordsPacket, packet_id)
        if packet is not None and packet.status == "queued":
            set_packet_status(packet, "uploading", session)
            marked += 1
    session.flush()
    return marked
