"""277 claim status (005010X212) and 277CA acknowledgment (005010X214) -> one claim per 2200D/2200E loop."""

from __future__ import annotations

from bots.edi.model import EdiClaim, Envelope, new_claim
from bots.edi.segments import Seg

# X212 puts a dependent's claims in 2200E (under the 2000E dependent HL); X214 has no dependent level.
_CLAIM_LOOPS = {"2200D", "2200E"}
_LINE_LOOPS = {"2220D", "2220E"}
_STATUS_ELEMENTS = ("STC01", "STC10", "STC11")


def read_claim_status(segments: list[Seg], envelope: Envelope) -> list[EdiClaim]:
    """The claims of one 277 or 277CA transaction (ST..SE), each under its payer (2100A)."""
    claims: list[EdiClaim] = []
    payer: tuple[str | None, str | None] = (None, None)
    current: list[Seg] = []
    for seg in segments:
        if seg.loop == "2100A" and seg.id == "NM1":
            # the information source: the payer (NM101 PR) or, in a 277CA, possibly the clearinghouse (AY)
            payer = (seg.value("NM103"), seg.value("NM109"))
        if seg.loop in _CLAIM_LOOPS and seg.id == "TRN":
            if current:
                claims.append(_claim(current, envelope, payer))
            current = [seg]
        elif current and seg.loop in _CLAIM_LOOPS:
            current.append(seg)
        elif current and seg.loop not in _LINE_LOOPS:
            # service lines (2220D/E) belong to the claim but are not read; anything else ends it
            claims.append(_claim(current, envelope, payer))
            current = []
    if current:
        claims.append(_claim(current, envelope, payer))
    return claims


def _composite(seg: Seg, ref: str) -> tuple[str, str] | None:
    """STC01/STC10/STC11 C043: (category, status); the entity code (component 3) is not kept."""
    category = seg.value(f"{ref}-1")
    if category is None:
        return None
    return category, seg.value(f"{ref}-2") or ""


def _claim(segments: list[Seg], envelope: Envelope, payer: tuple[str | None, str | None]) -> EdiClaim:
    trn = segments[0]
    status_segments = [seg for seg in segments if seg.id == "STC"]
    if not status_segments:
        raise trn.error(None, "claim (2200D TRN) without an STC claim status")
    # Several STC in one 2200D: the first is the claim's current status (the guides list the most
    # recent first); the others stay in raw_text.
    stc = status_segments[0]
    statuses = [status for ref in _STATUS_ELEMENTS if (status := _composite(stc, ref))]
    if not statuses:
        raise stc.error("STC01-1", "required element is missing")
    category = statuses[0][0]
    refs = {seg.value("REF01"): seg.value("REF02") for seg in segments if seg.id == "REF"}
    # X212: REF*EJ is the provider's patient control number (CLM01) when the payer returns it; the TRN02
    # is the trace number of the 276 inquiry (practices put the claim number there). X214: TRN02 IS the
    # patient control number of the 837 claim.
    claim_number = (refs.get("EJ") if envelope.implementation == "005010X212" else None) or trn.required("TRN02")
    pending = "; ".join(f"status code {status}" for cat, status in statuses if cat[:1] in {"P", "R"} and status)
    fields = {
        "claim_number": claim_number,
        "payer_claim_number": refs.get("1K"),
        "reference_number": refs.get("1K"),
        "raw_status": f"{envelope.transaction} STC " + "; ".join(f"{cat}:{status}" for cat, status in statuses),
        "status_category": category,
        "billed": stc.money("STC04"),
        # STC05 is required even before adjudication (then 0): a payment only once the claim is finalized
        "paid": stc.money("STC05") if category[:1] == "F" else None,
        "adjudication_date": stc.day("STC06") if envelope.implementation == "005010X212" else None,
        "payment_date": stc.day("STC08"),
        "check_number": stc.value("STC09"),
        "pending_reason": pending if category[:1] in {"P", "R"} and pending else None,
    }
    return new_claim(envelope, trn.number, fields, "".join(seg.text() for seg in status_segments), *payer)
