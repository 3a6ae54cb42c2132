"""What the rules hand to the task store: tasks wanted (TaskSpec) and tasks whose reason is gone (Resolution)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bots.evidence import to_stored
from bots.findings import Provenance

# What the biller or operator must do, one sentence per task kind.
ACTIONS: dict[str, str] = {
    "denial_review": "Review the denial reason and file an appeal or corrected claim before the deadline.",
    "records_request": "Attach the requested records to this task and queue them for upload before the deadline.",
    "claim_rejected": "Correct the rejected claim data and resubmit the claim.",
    "claim_not_found": "Confirm the payer received the claim (check the clearinghouse report) and resubmit it.",
    "underpayment_review": "Compare the payment with the contract rate and dispute the shortfall if it is wrong.",
    "correspondence_review": "Read the letter, link it to the right claim or account, and act on it.",
    "unmapped_status": "Add this portal wording to the payer's status map, then close the task.",
    "auth_denied": "Review the authorization denial and appeal it or request a peer-to-peer review.",
    "auth_pending": "Call the payer about the pending authorization request.",
    "auth_expiring": "Schedule the remaining visits or request an extension before the authorization ends.",
    "auth_units_low": "Request additional units before the approved units run out.",
    "auth_mismatch": "Fix the claim or obtain an authorization that covers this service, date and units.",
    "login_failed": "Check the portal credential (password change?), update it, then run "
                    "`payerbot accounts clear PAYER/ACCOUNT --note ...`.",
    "account_locked": "Unlock the portal account with the payer, then clear the block "
                      "(`payerbot accounts clear`) so the bot logs in again.",
    "mfa_required": "Fix the one-time code source for this account (or log in once by hand), then clear the block.",
    "captcha_challenge": "Log in by hand once to clear the captcha, then clear the account block.",
    "portal_changed": "Repair the payer adapter: the portal page no longer looks as expected.",
    "portal_unavailable": "Nothing unless it repeats: the portal was down; the bot tries again next night.",
    "portal_error": "Look at the screenshot and the bot run log and repair the adapter or the portal access.",
    "upload_failed": "Upload the records packet by hand or fix the problem and queue it again.",
    "upload_unconfirmed": "Check on the portal whether the packet arrived; re-queue it only if it did not.",
    "session_unstable": "The portal kept ending the session: nothing tonight; check the account if it repeats.",
    "unmatched_remittance": "Find the claim this clearinghouse file names (add it to the inventory or post the "
                            "payment by hand); close the task when done.",
}
OPERATOR_KINDS = frozenset({
    "login_failed", "account_locked", "mfa_required", "captcha_challenge", "portal_changed",
    "portal_unavailable", "portal_error", "unmapped_status", "upload_failed", "upload_unconfirmed",
    "session_unstable",
})


@dataclass
class TaskSpec:
    """A task the rules want to exist (created if new, refreshed if it exists)."""

    kind: str
    payer_id: str
    dedupe_key: str
    title: str
    owner: str
    priority: str
    deadline: date | None
    reference_number: str | None
    payer_said: str | None
    note: str
    claim_number: str | None = None
    account: str | None = None
    evidence: list[dict] = field(default_factory=list)
    # True when the source is the payer's own word on deadline and reference (a letter): it then
    # replaces what a status-derived estimate set. Otherwise they are filled only when empty.
    authoritative: bool = False
    # Operator incidents come back after an operator closed them; claim tasks a person closed stay closed.
    reopen_when_closed_by_person: bool = False

    @property
    def action(self) -> str:
        """The one-sentence action for this kind."""
        return ACTIONS.get(self.kind, "Review this item.")


@dataclass
class Resolution:
    """A task whose reason is gone: close it (if it is still active) with this reason."""

    dedupe_key: str
    reason: str


@dataclass
class RuleOutcome:
    """Everything one finding asks of the task store."""

    wanted: list[TaskSpec] = field(default_factory=list)
    resolved: list[Resolution] = field(default_factory=list)


def claim_key(kind: str, payer_id: str, claim_number: str) -> str:
    """The dedupe key of a claim task: one task per kind and claim."""
    return f"{kind}:{payer_id}:{claim_number}"


def _stored(path: str | None) -> str | None:
    """An evidence file's path as the database keeps it: relative to PAYERBOT_HOME when inside it."""
    return to_stored(path) if path else None


def evidence_of(provenance: Provenance, source: str, **extra) -> dict:
    """An evidence entry from a finding's provenance (no raw text: that goes to payer_said)."""
    entry = {
        "source": source, "url": provenance.url, "observed_at": provenance.observed_at.isoformat(),
        "account": provenance.account, "screenshot_path": _stored(provenance.screenshot_path),
        "screenshot_sha256": provenance.screenshot_sha256,
    }
    entry.update({k: _stored(v) if k.endswith("_path") else v for k, v in extra.items() if v is not None})
    return {k: v for k, v in entry.items() if v is not None}
