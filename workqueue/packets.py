"""Records packet life cycle: attached, queued, uploading, uploaded (confirmed) or failed."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from bots.evidence import to_stored
from bots.findings import PortalProblem, UploadConfirmation, utc_now
from workqueue.config import Rules
from workqueue.models import RecordsPacket, Task
from workqueue.specs import TaskSpec
from workqueue.taskstore import add_evidence, log, set_field


def set_packet_status(packet: RecordsPacket, status: str, session: Session) -> None:
    """Move a packet to a new status."""
    packet.status = status
    packet.updated_at = utc_now()
    session.add(packet)


def confirm_upload(session: Session, finding: UploadConfirmation, rules: Rules) -> bool:
    """Packet uploaded; its task waits on the payer with a follow-up date. False if already recorded."""
    packet = session.get(RecordsPacket, finding.packet_id)
    if packet is None:
        raise LookupError(f"unknown records packet {finding.packet_id}")
    if packet.status == "uploaded" and packet.confirmation_number == finding.confirmation_number:
        return False
    prov = finding.provenance
    packet.confirmation_number = finding.confirmation_number
    packet.uploaded_at = prov.observed_at
    packet.last_error = None
    set_packet_status(packet, "uploaded", session)
    task = session.get(Task, packet.task_id)
    if task is None:
        return True
    note = f"records packet {packet.packet_id} uploaded, confirmation {finding.confirmation_number}"
    if finding.reconciled:
        note += " (found in the portal's submission history; not sent again)"
    if finding.duplicate_flagged:
        note += " (the portal flagged it as a possible duplicate)"
    log(session, task, "uploaded", note=note)
    if task.status in ("open", "in_progress"):
        set_field(session, task, "status", "waiting_on_payer", note=note)
    follow_up = prov.observed_at.date() + timedelta(rules.deadlines.follow_up_days)
    set_field(session, task, "follow_up_date", follow_up, note="check the claim again after the upload")
    add_evidence(session, task, [{
        "source": "upload", "packet_id": packet.packet_id, "confirmation_number": finding.confirmation_number,
        "document_path": packet.stored_path, "document_sha256": packet.sha256, "url": prov.url,
        "observed_at": prov.observed_at.isoformat(),
        "screenshot_path": to_stored(prov.screenshot_path) if prov.screenshot_path else None,
        "screenshot_sha256": prov.screenshot_sha256, "duplicate_flagged": finding.duplicate_flagged,
        "reconciled": finding.reconciled,
    }], note=note)
    return True


def upload_failed(session: Session, problem: PortalProblem, rules: Rules) -> TaskSpec | None:
    """Count a failed upload attempt: back to the queue, or given up (an operator task) at the limit."""
    packet = session.get(RecordsPacket, problem.packet_id)
    prov = problem.provenance
    if packet is None or (packet.last_problem_at and prov.observed_at <= packet.last_problem_at):
        return None  # unknown packet, or this very problem was already counted
    packet.attempts += 1
    packet.last_problem_at = prov.observed_at
    packet.last_error = f"{problem.error_type}: {problem.message}"
    if problem.error_type == "UploadNotSupported":
        # No portal upload for this payer: retrying cannot help; a biller sends the packet another way.
        set_packet_status(packet, "failed", session)
        return upload_operator_spec(packet, rules, kind="manual_upload_needed", account=prov.account,
                                    note=problem.message,
                                    evidence={"source": "portal_problem", "observed_at": prov.observed_at.isoformat(),
                                              "error_type": problem.error_type, "packet_id": packet.packet_id})
    limit = rules.deadlines.upload_max_attempts
    if packet.attempts < limit:
        set_packet_status(packet, "queued", session)
        return None
    set_packet_status(packet, "failed", session)
    return upload_operator_spec(packet, rules, kind="upload_failed", account=prov.account,
                                note=f"upload failed {packet.attempts} times; last: {packet.last_error}",
                                evidence={"source": "portal_problem", "url": prov.url,
                                          "observed_at": prov.observed_at.isoformat(),
                                          "screenshot_path": to_stored(prov.screenshot_path)
                                          if prov.screenshot_path else None,
                                          "error_type": problem.error_type, "packet_id": packet.packet_id})


def upload_operator_spec(packet: RecordsPacket, rules: Rules, *, kind: str, note: str, evidence: dict,
                         account: str | None = None) -> TaskSpec:
    """An operator task about one packet (upload_failed, upload_unconfirmed)."""
    today = utc_now().date()
    return TaskSpec(
        kind=kind, payer_id=packet.payer_id, dedupe_key=f"{kind}:{packet.payer_id}:{packet.packet_id}",
        title=f"Records packet {packet.packet_id} for claim {packet.claim_number}: {kind.replace('_', ' ')}",
        owner=rules.owner(kind, packet.payer_id), priority=rules.priority(kind),
        deadline=today + timedelta(rules.deadlines.operator_days), reference_number=packet.packet_id,
        payer_said=packet.last_error, note=note, claim_number=packet.claim_number, account=account,
        evidence=[{**evidence, "document_path": packet.stored_path, "document_sha256": packet.sha256}],
        reopen_when_closed_by_person=True,
    )
