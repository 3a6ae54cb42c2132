"""Read an X12 277 / 277CA / 835 file into EdiClaims: envelope check, loop context, then per transaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from bots.edi.claim_status import read_claim_status
from bots.edi.context import read_segments
from bots.edi.envelope import SUPPORTED, check_envelope
from bots.edi.errors import EdiError
from bots.edi.model import EdiClaim, EdiFile, Envelope
from bots.edi.remittance import read_remittance
from bots.edi.segments import Seg

_TRANSACTIONS = {version: name for _set, versions in SUPPORTED.values() for version, name in versions.items()}


def read_edi(path: Path) -> EdiFile:
    """Read a 277, 277CA or 835 file; raises EdiError naming the file, segment and element."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        # X12's extended character set is a superset of ASCII; a byte outside it is not an X12 character
        text = data.decode("latin-1")
    return _read(text, path.name, hashlib.sha256(data).hexdigest())


def read_edi_text(text: str, file_name: str) -> EdiFile:
    """Same as read_edi, for text already read (sha256 of its UTF-8 bytes)."""
    return _read(text, file_name, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _read(text: str, file_name: str, sha256: str) -> EdiFile:
    # a byte-order mark or blank lines before the ISA are not part of the interchange
    text = text.lstrip("\ufeff\r\n\t ")
    segment_ids = check_envelope(text, file_name)
    segments, warnings = read_segments(text, file_name, segment_ids)
    interchanges: list[str] = []
    claims: list[EdiClaim] = []
    isa = gs = None
    transaction: list[Seg] = []
    for seg in segments:
        if seg.id == "ISA":
            isa = seg
            interchanges.append(seg.required("ISA13"))
        elif seg.id == "GS":
            gs = seg
        elif seg.id == "ST":
            transaction = [seg]
        elif seg.id == "SE":
            transaction.append(seg)
            claims.extend(_read_transaction(transaction, _envelope(file_name, isa, gs)))
            transaction = []
        elif transaction:
            transaction.append(seg)
    return EdiFile(file_name=file_name, sha256=sha256, interchanges=interchanges, claims=claims, warnings=warnings)


def _read_transaction(segments: list[Seg], envelope: Envelope) -> list[EdiClaim]:
    if envelope.transaction == "835":
        return read_remittance(segments, envelope)
    return read_claim_status(segments, envelope)


def _envelope(file_name: str, isa: Seg | None, gs: Seg | None) -> Envelope:
    if isa is None or gs is None:  # check_envelope and pyx12's map walk make this unreachable
        raise EdiError(file_name, "transaction outside an interchange or group")
    version = gs.required("GS08")
    return Envelope(file_name=file_name, interchange_control_number=isa.required("ISA13"),
                    sender_id=isa.required("ISA06"), observed_at=_observed_at(isa, gs),
                    implementation=version, transaction=_TRANSACTIONS[version])


def _observed_at(isa: Seg, gs: Seg) -> datetime:
    """ISA09 (YYMMDD) + ISA10 (HHMM) as UTC; X12 carries no time zone. GS04/GS05 when the ISA's is unusable."""
    candidates = ((isa.value("ISA09"), isa.value("ISA10"), "20"), (gs.value("GS04"), gs.value("GS05"), ""))
    for day, time, century in candidates:
        try:
            return datetime.strptime(century + (day or "") + (time or "")[:4], "%Y%m%d%H%M").replace(tzinfo=UTC)
        except ValueError:
            continue
    raise isa.error("ISA09", "interchange date/time is not a date (YYMMDD, HHMM)")
