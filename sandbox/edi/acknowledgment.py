"""277CA claim acknowledgment (005010X214): which claims the payer took in, which it rejected."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sandbox.edi.hierarchy import by_provider_and_member
from sandbox.edi.parties import check_claims, created_at, patient_name, provider_name
from sandbox.edi.x12 import RECEIVER_ID, RECEIVER_NAME, Segment, Separators, amount, d8, interchange, transaction
from sandbox.world import Claim, World

VERSION = "005010X214"
# outcome -> (STC01 category, status code, entity; STC03 action): codes from the claim status code list:
#   A1:19:PR  acknowledgement/receipt: entity acknowledges receipt of claim, the payer
#   A2:20:PR  acknowledgement/accepted into adjudication: accepted for processing
#   A7:164:IL rejected for invalid information: entity's contract/member number, the subscriber
#   A6:562:82 rejected for missing information: entity's NPI, the rendering provider
# STC03 WQ accepted, U rejected.
ACK_CODES: dict[str, tuple[tuple[str, str, str], str]] = {
    "received": (("A1", "19", "PR"), "WQ"),
    "accepted": (("A2", "20", "PR"), "WQ"),
    "rejected_invalid": (("A7", "164", "IL"), "U"),
    "rejected_missing": (("A6", "562", "82"), "U"),
}
_BATCH = (("A1", "19", "PR"), "WQ")  # the batch itself was received, whatever became of its claims


def acknowledgeable_claims(world: World) -> list[str]:
    """Claim numbers a 277CA can carry: claims received/accepted (A1, A2) or rejected (A6, A7)."""
    return sorted(c.claim_number for c in world.claims if c.outcome in ACK_CODES)


def _totals(claims: list[Claim], accepted_qty: str, rejected_qty: str) -> list[Segment]:
    """QTY/AMT of accepted and rejected claims (each only when there are some)."""
    taken = [c for c in claims if ACK_CODES[c.outcome][1] == "WQ"]
    refused = [c for c in claims if ACK_CODES[c.outcome][1] == "U"]
    out: list[Segment] = []
    for qualifier, group in ((accepted_qty, taken), (rejected_qty, refused)):
        if group:
            out.append(["QTY", qualifier, str(len(group))])
    for qualifier, group in (("YU", taken), ("YY", refused)):
        if group:
            out.append(["AMT", qualifier, amount(sum((c.total("billed") for c in group), Decimal("0.00")))])
    return out


def _claim(claim: Claim) -> list[Segment]:
    stc01, action = ACK_CODES[claim.outcome]
    # STC02: the day the payer received the claim (the world's submitted date); STC04 the billed total.
    segments: list[Segment] = [
        ["TRN", "2", claim.claim_number],
        ["STC", stc01, d8(claim.submitted_date), action, amount(claim.total("billed"))],
    ]
    if claim.payer_claim_number:
        segments.append(["REF", "1K", claim.payer_claim_number])
    segments.append(["DTP", "472", "D8", d8(claim.date_of_service)])
    return segments


def acknowledgment_277ca(world: World, claim_numbers: list[str], *, interchange_number: int = 1,
                         created: datetime | None = None, separators: Separators | None = None) -> str:
    """A 277CA file: the payer, the receiver's batch totals, each billing provider, patients and claims."""
    numbers = check_claims(world, claim_numbers, acknowledgeable_claims(world), "277CA")
    when = created_at(world, created)
    profile = world.profile
    claims = [world.claim(n) for n in numbers]
    billed = amount(sum((c.total("billed") for c in claims), Decimal("0.00")))
    body: list[Segment] = [
        ["BHT", "0085", "08", f"A{interchange_number:09d}", when.strftime("%Y%m%d"), when.strftime("%H%M"), "TH"],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", profile.name, "", "", "", "", "PI", profile.payer_id],
        ["TRN", "1", f"R{interchange_number:09d}"],
        ["DTP", "050", "D8", d8(when.date())],
        ["DTP", "009", "D8", d8(when.date())],
        ["HL", "2", "1", "21", "1"],
        ["NM1", "41", "2", RECEIVER_NAME, "", "", "", "", "46", RECEIVER_ID],
        ["TRN", "2", f"B{interchange_number:09d}"],
        ["STC", _BATCH[0], d8(when.date()), _BATCH[1], billed],
        *_totals(claims, "90", "AA"),
    ]
    hl = 2
    for provider_claims, members in by_provider_and_member(world, numbers):
        hl += 1
        provider_hl = hl
        first = provider_claims[0]
        total = amount(sum((c.total("billed") for c in provider_claims), Decimal("0.00")))
        body += [["HL", str(hl), "2", "19", "1"], provider_name(first, "85"),
                 ["TRN", "1", f"P{interchange_number:06d}{first.provider_npi[-4:]}"],
                 ["STC", _BATCH[0], "", _BATCH[1], total],  # STC02 is not used at the provider level
                 *_totals(provider_claims, "QA", "QC")]
        for member_claims in members:
            hl += 1
            body += [["HL", str(hl), str(provider_hl), "PT"], patient_name(member_claims[0], "QC")]
            for claim in member_claims:
                body += _claim(claim)
    tx = transaction("277", "0001", body, VERSION)
    return interchange(functional_id="HN", version=VERSION, transactions=[tx],
                       interchange_number=interchange_number, created=when, sep=separators)
