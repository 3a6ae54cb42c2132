"""Plan a night: which claims to check, which packets to upload, which letters are new, which payers to skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, func, select

from bots.evidence import from_stored
from bots.findings import ClaimQuery, utc_now
from bots.findings import RecordsPacket as PacketFinding
from workqueue.accounts import blocked_accounts, lease_is_live
from workqueue.claims import claim_query
from workqueue.config import load_rules
from workqueue.models import Authorization, Claim, Document, PortalAccount, RecordsPacket, Task
from workqueue.packets import set_packet_status


@dataclass
class NightPlan:
    """Everything the flows need for one night, per payer."""

    now: datetime
    claims: dict[str, list[ClaimQuery]] = field(default_factory=dict)
    uploads: dict[str, list[PacketFinding]] = field(default_factory=dict)
    reconcile: dict[str, list[PacketFinding]] = field(default_factory=dict)
    #: (payer, account) -> why the bot must not log in there (an operator clears it)
    blocked: dict[tuple[str, str], str] = field(default_factory=dict)
    correspondence_since: dict[str, date | None] = field(default_factory=dict)
    known_document_ids: dict[str, set[str]] = field(default_factory=dict)
    #: (payer, practice) -> letters from this day on for that practice's accounts (practices with letters only)
    correspondence_since_by_practice: dict[tuple[str, str], date | None] = field(default_factory=dict)
    #: packet id -> its practice (uploads go only through an account of that practice)
    practice_of_packet: dict[str, str] = field(default_factory=dict)
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


def _blocked(session: Session) -> dict[tuple[str, str], str]:
    """Accounts a login problem blocked: never logged into again until an operator clears them."""
    return {key: f"blocked since {row.blocked_at:%Y-%m-%d %H:%M} UTC by {row.blocked_kind}: {row.blocked_reason}; "
                 f"clear with: payerbot accounts clear {key[0]}/{key[1]} --note \"...\""
            for key, row in blocked_accounts(session).items()}


def _leased_payers(session: Session, now: datetime) -> set[str]:
    """Payers with an account a live run holds right now (its packets may be mid-upload this very minute)."""
    rows = session.exec(select(PortalAccount).where(col(PortalAccount.lease_run_id).is_not(None))).all()
    return {r.payer_id for r in rows if lease_is_live(r, now)}


def _unknown_outcomes(session: Session, now: datetime) -> list[str]:
    """Packets left 'uploading' by a run that died: their outcome is unknown until the portal's history says."""
    live = _leased_payers(session, now)
    flagged = []
    for packet in session.exec(select(RecordsPacket).where(RecordsPacket.status == "uploading")).all():
        if packet.payer_id in live:
            continue
        packet.last_error = "the run stopped during the upload: the portal's submission history decides"
        set_packet_status(packet, "unconfirmed", session)
        flagged.append(packet.packet_id)
    return flagged


def _packet_finding(session: Session, packet: RecordsPacket) -> PacketFinding:
    claim = session.get(Claim, packet.claim_number) if packet.claim_number else None
    task = session.get(Task, packet.task_id)
    icn = claim.payer_claim_number if claim else None
    dcn = task.reference_number if task and task.reference_number != icn else None
    return PacketFinding(packet_id=packet.packet_id, claim_number=packet.claim_number or "",
                         payer_claim_number=icn, reference_number=dcn, file_path=str(from_stored(packet.stored_path)),
                         sha256=packet.sha256)


def plan_night(session: Session, *, now: datetime | None = None, payer_ids: list[str] | None = None,
               force: bool = False) -> NightPlan:
    """The night's work per payer; claims checked within recheck_after_hours wait unless `force`."""
    now = now or utc_now()
    rules = load_rules()
    plan = NightPlan(now=now, unconfirmed_packets=_unknown_outcomes(session, now))
    payers = set(payer_ids) if payer_ids is not None else _known_payers(session)
    plan.blocked = {key: why for key, why in _blocked(session).items() if key[0] in payers}
    active = sorted(payers)
    recent = now - timedelta(hours=rules.deadlines.recheck_after_hours)
    overlap = timedelta(days=rules.deadlines.correspondence_overlap_days)
    for payer in active:
        query = select(Claim).where(Claim.payer_id == payer, col(Claim.finalized).is_(False),
                                    col(Claim.member_id).is_not(None), col(Claim.date_of_service).is_not(None))
        if not force:
            # Due: never checked on the portal, checked long enough ago, or a clearinghouse file said pending or
            # asked for information after the last portal check (the portal holds the detail).
            query = query.where((col(Claim.last_checked_at).is_(None)) | (col(Claim.last_checked_at) <= recent)
                                | (col(Claim.file_status_at) > col(Claim.last_checked_at)))
        plan.claims[payer] = [claim_query(c) for c in session.exec(query.order_by(Claim.claim_number)).all()]
        packets = session.exec(select(RecordsPacket).where(RecordsPacket.payer_id == payer,
                                                           col(RecordsPacket.status).in_(("queued", "unconfirmed")))
                               .order_by(RecordsPacket.created_at)).all()
        plan.uploads[payer] = [_packet_finding(session, p) for p in packets if p.status == "queued"]
        plan.reconcile[payer] = [_packet_finding(session, p) for p in packets if p.status == "unconfirmed"]
        plan.practice_of_packet.update({p.packet_id: p.practice for p in packets})
        latest = session.exec(select(func.max(Document.letter_date)).where(Document.payer_id == payer)).one()
        plan.correspondence_since[payer] = latest - overlap if latest else None
        for practice, last in session.exec(select(Document.practice, func.max(Document.letter_date))
                                           .where(Document.payer_id == payer).group_by(Document.practice)).all():
            plan.correspondence_since_by_practice[(payer, practice)] = last - overlap if last else None
        plan.known_document_ids[payer] = set(session.exec(
            select(Document.portal_document_id).where(Document.payer_id == payer)).all())
    return plan


def mark_uploading(session: Session, packet_ids: list[str]) -> int:
    """Mark packets as being uploaded now (a crash leaves them 'uploading': the next plan reconciles them)."""
    marked = 0
    for packet_id in packet_ids:
        packet = session.get(RecordsPacket, packet_id)
        if packet is not None and packet.status in ("queued", "unconfirmed", "uploading"):
            set_packet_status(packet, "uploading", session)
            marked += 1
    session.flush()
    return marked


def mark_unconfirmed(session: Session, packet_ids: list[str]) -> int:
    """Packets whose upload outcome is unknown: the next night reads the portal's history before resending."""
    marked = 0
    for packet_id in packet_ids:
        packet = session.get(RecordsPacket, packet_id)
        if packet is not None and packet.status == "uploading":
            packet.last_error = "the upload's outcome is unknown: the portal's submission history decides"
            set_packet_status(packet, "unconfirmed", session)
            marked += 1
    session.flush()
    return marked
