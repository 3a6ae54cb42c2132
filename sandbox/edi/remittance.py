"""835 health care claim payment/advice (005010X221A1) for the world's finalized claims."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from sandbox.edi.parties import (
    FILING_INDICATOR,
    check_claims,
    created_at,
    digits,
    patient_name,
    payer_tax_id,
)
from sandbox.edi.x12 import Segment, Separators, amount, d8, interchange, transaction
from sandbox.world import Claim, World

VERSION = "005010X221A1"
# Outcomes an 835 reports. "adjusted" (F3) is left out: a reversal and correction pair (CLP02 22) is not
# what the world models for it, so no 835 could carry its facts exactly.
REMITTED_OUTCOMES = ("paid", "partially_paid", "crossover", "denied", "no_payment")
# BPR04 payment method per the oracle's payment_method; no payment at all is NON.
_BPR04 = {"EFT": "ACH", "CHK": "CHK", None: "NON"}


def _carried_exactly(claim: Claim) -> bool:
    """Whether an 835 can say everything the oracle says about the claim.

    A reader maps CLP02 1/19 to F1 when CLP04 > 0 and to F4 when it is 0, CLP02 4 to F2. A "paid" claim
    whose copay ate the whole allowed amount pays 0 and has no payment: its oracle category F1 cannot be
    told by an 835, so it is left out. Likewise a paying claim needs its EFT/check number and date.
    """
    if claim.outcome not in REMITTED_OUTCOMES or claim.adjudication_date is None:
        return False
    paid = claim.total("paid")
    if claim.outcome == "denied":
        return paid == 0 and claim.payment_method is None
    if claim.outcome == "no_payment":
        return paid == 0 and claim.payment_method is None
    return paid > 0 and claim.payment_method in ("EFT", "CHK") and bool(claim.check_number) \
        and claim.payment_date is not None


def remittable_claims(world: World) -> list[str]:
    """Claim numbers an 835 can carry (sorted)."""
    return sorted(c.claim_number for c in world.claims if _carried_exactly(c))


def _clp02(claim: Claim) -> str:
    # 1 processed as primary; 19 processed as primary and forwarded to another payer (the crossover,
    # named in NM1*TT); 4 denied.
    return {"denied": "4", "crossover": "19"}.get(claim.outcome, "1")


def _cas(adjustments: list[tuple[str, str, Decimal]]) -> list[Segment]:
    """CAS segments: one per group code (in order of first use), at most six reason/amount triples each.

    The world can adjust one line twice under the same group and reason (a contractual write-off and an
    underpayment, both CO 45); both triples are kept as they are so the adjustments equal the oracle's.
    """
    by_group: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for group, carc, value in adjustments:
        by_group[group].append((carc, value))
    segments: list[Segment] = []
    for group, triples in by_group.items():
        for start in range(0, len(triples), 6):
            segment: Segment = ["CAS", group]
            for carc, value in triples[start:start + 6]:
                segment += [carc, amount(value), ""]
            segments.append(segment)
    return segments


def _claim_segments(world: World, claim: Claim) -> list[Segment]:
    segments: list[Segment] = [
        ["CLP", claim.claim_number, _clp02(claim), amount(claim.total("billed")), amount(claim.total("paid")),
         amount(claim.total("patient_responsibility")), FILING_INDICATOR[world.profile.payer_id],
         claim.payer_claim_number or "", "11", "1"],  # CLP08 place of service: office; CLP09 original claim
        patient_name(claim, "QC"),
    ]
    if claim.crossover_payer:
        segments.append(["NM1", "TT", "2", claim.crossover_payer, "", "", "", "", "PI",
                         "CX" + digits(f"carrier:{claim.crossover_payer}", 5)])
    segments.append(["DTM", "050", d8(claim.submitted_date)])  # the date the payer received the claim
    for line in claim.lines:
        segments.append(["SVC", ("HC", line.procedure_code), amount(line.billed), amount(line.paid), "",
                         str(line.units)])
        segments.append(["DTM", "472", d8(claim.date_of_service)])
        segments += _cas(line.adjustments)
        segments.append(["AMT", "B6", amount(line.allowed)])
        segments += [["LQ", "HE", rarc] for rarc in line.rarc_codes]  # remarks per line, not claim-level MOA
    return segments


def _payment(claim: Claim) -> tuple:
    return (claim.adjudication_date, claim.payment_date or claim.adjudication_date, claim.payment_method or "",
            claim.check_number or "", claim.provider_npi)


def _bpr(world: World, total: Decimal, method: str | None, paid_on: date) -> Segment:
    bpr04 = _BPR04[method]
    head: Segment = ["BPR", "I" if total > 0 else "H", amount(total), "C", bpr04]
    if bpr04 == "ACH":
        # BPR05-15: the CCD+ credit from the payer's bank account to the provider's (synthetic numbers).
        payer = world.profile.payer_id
        bank = ["CCP", "01", "9" + digits(f"aba:{payer}", 8), "DA", digits(f"acct:{payer}", 10),
                payer_tax_id(world), "", "01", "9" + digits("aba:payee", 8), "DA", digits("acct:payee", 10)]
        return [*head, *bank, d8(paid_on)]
    return [*head, *[""] * 11, d8(paid_on)]


def _transaction(world: World, claims: list[Claim], control: str) -> list[Segment]:
    first = claims[0]
    total = sum((c.total("paid") for c in claims), Decimal("0.00"))
    # No payment (BPR04 NON): BPR16 and TRN02 are still required; they carry the adjudication date and a
    # remittance trace number, not a check or EFT (a reader should keep payment date and number empty).
    paid_on = first.payment_date or first.adjudication_date
    trace = first.check_number or f"NP{first.adjudication_date:%Y%m%d}{first.provider_npi[-4:]}"
    profile = world.profile
    body: list[Segment] = [
        _bpr(world, total, first.payment_method, paid_on),
        ["TRN", "1", trace, payer_tax_id(world)],
        ["DTM", "405", d8(first.adjudication_date)],  # production date: the day these claims were decided
        ["N1", "PR", profile.name],
        ["N3", "PO Box 4100"],
        ["N4", "Springfield", "IL", "62794"],
        ["REF", "2U", profile.payer_id],
        ["PER", "BL", "Provider EDI Support", "TE", "8005550100"],
        ["N1", "PE", first.provider_name, "XX", first.provider_npi],
        ["LX", "1"],
    ]
    for claim in claims:
        body += _claim_segments(world, claim)
    return transaction("835", control, body, None)


def remittance_835(world: World, claim_numbers: list[str], *, interchange_number: int = 1,
                   created: datetime | None = None, separators: Separators | None = None) -> str:
    """An 835 file: one ST..SE per payment (BPR/TRN), holding the claims paid (or not paid) by it."""
    numbers = check_claims(world, claim_numbers, remittable_claims(world), "835")
    payments: dict[tuple, list[Claim]] = defaultdict(list)
    for number in numbers:
        claim = world.claim(number)
        payments[_payment(claim)].append(claim)
    transactions = [_transaction(world, claims, f"{n:04d}")
                    for n, (_key, claims) in enumerate(sorted(payments.items()), start=1)]
    return interchange(functional_id="HP", version=VERSION, transactions=transactions,
                       interchange_number=interchange_number, created=created_at(world, created), sep=separators)
