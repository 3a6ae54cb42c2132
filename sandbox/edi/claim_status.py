"""277 health care claim status response (005010X212) for the world's claims still in process."""

from __future__ import annotations

from datetime import datetime

from sandbox.edi.hierarchy import by_provider_and_member
from sandbox.edi.parties import check_claims, created_at, patient_name, provider_name
from sandbox.edi.x12 import RECEIVER_ID, RECEIVER_NAME, Segment, Separators, amount, d8, interchange, transaction
from sandbox.world import Claim, World

VERSION = "005010X212"
# outcome -> STC01 (category, claim status code[, entity]); codes from the claim status code list (507):
#   P1:20     pending/in process: accepted for processing
#   P2:41     pending/payer review: special handling required at payer site (clinical review)
#   P3:294:1P pending/provider requested information: supporting documentation, from the provider
#   R4:294:1P request for additional information/documentation: supporting documentation, from the provider
STATUS_CODES: dict[str, tuple[str, ...]] = {
    "in_process": ("P1", "20"),
    "medical_review": ("P2", "41"),
    "pended_records": ("P3", "294", "1P"),
    "documentation_requested": ("R4", "294", "1P"),
}


def status_reportable_claims(world: World) -> list[str]:
    """Claim numbers a 277 (X212) can carry: on-file claims pending (P1, P2, P3) or awaiting records (R4)."""
    return sorted(c.claim_number for c in world.claims if c.outcome in STATUS_CODES)


def _claim(world: World, claim: Claim) -> list[Segment]:
    # STC02 the status's effective date (the portal shows it as of today); STC04 billed; STC05 paid, 0 while
    # nothing is adjudicated (no STC06 adjudication date yet). REF*EJ repeats the patient control number.
    segments: list[Segment] = [
        ["TRN", "2", claim.claim_number],
        ["STC", STATUS_CODES[claim.outcome], d8(world.today), "", amount(claim.total("billed")), "0"],
    ]
    if claim.payer_claim_number:
        segments.append(["REF", "1K", claim.payer_claim_number])
    segments.append(["REF", "EJ", claim.claim_number])
    segments.append(["DTP", "472", "D8", d8(claim.date_of_service)])
    return segments


def claim_status_277(world: World, claim_numbers: list[str], *, interchange_number: int = 1,
                     created: datetime | None = None, separators: Separators | None = None) -> str:
    """A 277 file: payer, information receiver, then each provider, its patients and their claims."""
    numbers = check_claims(world, claim_numbers, status_reportable_claims(world), "277")
    when = created_at(world, created)
    profile = world.profile
    body: list[Segment] = [
        ["BHT", "0010", "08", f"S{interchange_number:09d}", when.strftime("%Y%m%d"), when.strftime("%H%M"), "DG"],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", profile.name, "", "", "", "", "PI", profile.payer_id],
        ["HL", "2", "1", "21", "1"],
        ["NM1", "41", "2", RECEIVER_NAME, "", "", "", "", "46", RECEIVER_ID],
    ]
    hl = 2
    for provider_claims, members in by_provider_and_member(world, numbers):
        hl += 1
        provider_hl = hl
        body += [["HL", str(hl), "2", "19", "1"], provider_name(provider_claims[0], "1P")]
        for member_claims in members:
            hl += 1
            # The sandbox's patients are the subscribers: 2000D (HL 22) with NM1*IL, no 2000E dependent.
            body += [["HL", str(hl), str(provider_hl), "22", "0"], patient_name(member_claims[0], "IL")]
            for claim in member_claims:
                body += _claim(world, claim)
    tx = transaction("277", "0001", body, VERSION)
    return interchange(functional_id="HN", version=VERSION, transactions=[tx],
                       interchange_number=interchange_number, created=when, sep=separators)
