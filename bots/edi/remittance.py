"""835 remittance advice (005010X221A1) -> one claim per CLP loop (2100), with its lines (2110)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bots.edi.codes import CATEGORY, CLAIM_STATUS, PAYMENT_METHOD, PROCESSED
from bots.edi.model import EdiClaim, Envelope, new_claim
from bots.edi.segments import Seg
from bots.findings import Adjustment, ServiceLine

# CAS: the group code (CAS01), then up to six (reason, amount, quantity) triples: CAS02-04 ... CAS17-19
_CAS_TRIPLES = [(f"CAS{i:02d}", f"CAS{i + 1:02d}") for i in range(2, 19, 3)]
_MOA_REMARKS = [f"MOA{i:02d}" for i in range(3, 8)]
_MIA_REMARKS = ["MIA05", "MIA20", "MIA21", "MIA22", "MIA23"]


@dataclass
class _Claim:
    clp: Seg
    segments: list[Seg] = field(default_factory=list)  # claim-level (2100) after the CLP
    lines: list[list[Seg]] = field(default_factory=list)  # each 2110 loop: SVC first


def read_remittance(segments: list[Seg], envelope: Envelope) -> list[EdiClaim]:
    """The claims of one 835 transaction (ST..SE); they share its BPR payment and TRN trace number."""
    payment = _payment(segments)
    payer_name, payer_identifier = _payer(segments)
    claims: list[_Claim] = []
    for seg in segments:
        if seg.id == "CLP":
            claims.append(_Claim(seg))
        elif claims and seg.loop == "2100":
            claims[-1].segments.append(seg)
        elif claims and seg.loop == "2110":
            if seg.id == "SVC":
                claims[-1].lines.append([seg])
            elif claims[-1].lines:
                claims[-1].lines[-1].append(seg)
    return [new_claim(envelope, claim.clp.number, {**payment, **_claim_fields(claim)}, claim.clp.text(),
                      payer_name, payer_identifier) for claim in claims]


def _payment(segments: list[Seg]) -> dict:
    """BPR (method, date), TRN (check or EFT trace number) and DTM*405 (production date) of the header."""
    header = [seg for seg in segments if seg.loop == "HEADER"]
    bpr = next((seg for seg in header if seg.id == "BPR"), None)
    trn = next((seg for seg in header if seg.id == "TRN"), None)
    if bpr is None or trn is None:
        # every claim of the transaction takes its payment from these: without them none can be read
        raise segments[0].error(None, f"835 without its {'BPR' if bpr is None else 'TRN'} (payment) segment")
    production = next((seg for seg in header if seg.id == "DTM" and seg.value("DTM01") == "405"), None)
    method = bpr.value("BPR04")
    payment_date = bpr.day("BPR16")
    # BPR04 NON: nothing was paid (denials, zero-pay claims). The guide still requires TRN02 and BPR16, but
    # they are the remittance's trace number and date, not a check or an EFT a biller could post or look up.
    paid = method != "NON"
    return {
        "payment_method": PAYMENT_METHOD.get(method, method) if method and paid else None,
        "payment_date": payment_date if paid else None,
        "check_number": trn.value("TRN02") if paid else None,
        # the guide's production date is when the payer adjudicated the batch; else the payment date
        "adjudication_date": (production.day("DTM02") if production else None) or payment_date,
    }


def _payer(segments: list[Seg]) -> tuple[str | None, str | None]:
    """1000A N1*PR name and identifier (N104, else REF*2U)."""
    n1 = next((seg for seg in segments if seg.loop == "1000A" and seg.id == "N1"), None)
    ref = next((seg for seg in segments if seg.loop == "1000A" and seg.id == "REF"
                and seg.value("REF01") == "2U"), None)
    identifier = (n1.value("N104") if n1 else None) or (ref.value("REF02") if ref else None)
    return (n1.value("N102") if n1 else None), identifier


def _adjustments(seg: Seg) -> list[Adjustment]:
    group = seg.required("CAS01")
    adjustments = []
    for reason, amount in _CAS_TRIPLES:
        if seg.value(reason) is not None:
            if seg.money(amount) is None:
                raise seg.error(amount, "required element is missing")
            adjustments.append(Adjustment(group_code=group, carc=seg.value(reason), amount=seg.money(amount)))
    return adjustments


def _line(number: int, segments: list[Seg]) -> ServiceLine:
    svc = segments[0]
    service_date = next((seg.day("DTM02") for seg in segments if seg.id == "DTM" and seg.value("DTM01") == "472"),
                        None) or next((seg.day("DTM02") for seg in segments
                                       if seg.id == "DTM" and seg.value("DTM01") == "150"), None)
    allowed = next((seg.money("AMT02") for seg in segments if seg.id == "AMT" and seg.value("AMT01") == "B6"), None)
    return ServiceLine(
        line_number=number,
        procedure_code=svc.required("SVC01-2"),
        service_date=service_date,
        units=svc.count("SVC05") or 1,
        billed=_required_money(svc, "SVC02"),
        allowed=allowed,
        paid=_required_money(svc, "SVC03"),
        adjustments=[a for seg in segments if seg.id == "CAS" for a in _adjustments(seg)],
        rarc_codes=[seg.value("LQ02") for seg in segments
                    if seg.id == "LQ" and seg.value("LQ01") == "HE" and seg.value("LQ02")],
    )


def _required_money(seg: Seg, ref: str) -> Decimal:
    amount = seg.money(ref)
    if amount is None:
        raise seg.error(ref, "required element is missing")
    return amount


def _claim_fields(claim: _Claim) -> dict:
    clp, segments = claim.clp, claim.segments
    status = clp.required("CLP02")
    paid = _required_money(clp, "CLP04")
    if status in PROCESSED:
        # processed: paid (F1), or nothing (0, or a negative recoupment) is forthcoming (F4)
        category = "F1" if paid > 0 else "F4"
    else:
        category = CATEGORY.get(status)
    lines = [_line(number, segs) for number, segs in enumerate(claim.lines, start=1)]
    claim_adjustments = [a for seg in segments if seg.id == "CAS" for a in _adjustments(seg)]
    # claim-level adjustments first, then every line's: the finding's claim totals
    adjustments = claim_adjustments + [a for line in lines for a in line.adjustments]
    remarks = [seg.value(ref) for seg in segments if seg.id == "MOA" for ref in _MOA_REMARKS] + \
        [seg.value(ref) for seg in segments if seg.id == "MIA" for ref in _MIA_REMARKS]
    claim_allowed = next((seg.money("AMT02") for seg in segments
                          if seg.id == "AMT" and seg.value("AMT01") == "AU"), None)
    if claim_allowed is None and lines and all(line.allowed is not None for line in lines):
        claim_allowed = sum((line.allowed for line in lines), Decimal("0.00"))
    crossover = next((seg.value("NM103") for seg in segments if seg.id == "NM1" and seg.value("NM101") == "TT"),
                     None)
    return {
        "claim_number": clp.required("CLP01"),
        "payer_claim_number": clp.value("CLP07"),
        "reference_number": clp.value("CLP07"),  # the payer's ICN
        "raw_status": f"835 CLP02 {status}: {CLAIM_STATUS.get(status, 'claim status code not in the guide')}",
        "status_category": category,
        "billed": _required_money(clp, "CLP03"),
        "paid": paid,
        "patient_responsibility": clp.money("CLP05"),
        "allowed": claim_allowed,
        # plain data (Decimal, date, str): the finding validates it, and it stores or prints as it is
        "adjustments": [adjustment.model_dump() for adjustment in adjustments],
        "carc_codes": list(dict.fromkeys(a.carc for a in adjustments)),
        "rarc_codes": list(dict.fromkeys([code for code in remarks if code] +
                                         [code for line in lines for code in line.rarc_codes])),
        "service_lines": [line.model_dump() for line in lines],
        "crossover_payer": crossover,
    }
