"""What the X12 reader returns: claims with their place in the file, convertible to the bots' finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bots.findings import ClaimStatusFinding, Provenance


@dataclass(frozen=True)
class Envelope:
    """The interchange, group and transaction a claim was read in."""

    file_name: str
    interchange_control_number: str  # ISA13
    sender_id: str  # ISA06, stripped
    observed_at: datetime  # ISA09/ISA10, UTC
    implementation: str  # GS08
    transaction: str  # "277", "277CA" or "835"


@dataclass(frozen=True)
class EdiClaim:
    """One claim in a file, with where it sits in it."""

    file_name: str
    claim_number: str
    transaction: str
    implementation: str
    interchange_control_number: str
    segment_number: int
    payer_name: str | None
    payer_identifier: str | None
    sender_id: str
    raw_text: str
    #: ClaimStatusFinding fields as plain data (str, Decimal, date; adjustments and service lines as dicts)
    fields: dict
    observed_at: datetime

    def finding(self, payer_id: str) -> ClaimStatusFinding:
        """The claim as the bots' finding, with provenance naming the file, interchange and segment."""
        provenance = Provenance(
            payer_id=payer_id, account=f"edi:{self.sender_id}",
            url=f"edi:{self.file_name}#ISA13={self.interchange_control_number};segment={self.segment_number}",
            observed_at=self.observed_at, raw_text=self.raw_text)
        return ClaimStatusFinding(**self.fields, provenance=provenance)


@dataclass(frozen=True)
class EdiFile:
    """A read file: its hash, its interchanges (ISA13s) and every claim in file order."""

    file_name: str
    sha256: str
    interchanges: list[str]
    claims: list[EdiClaim]
    #: pyx12's non-fatal validation remarks ("x.835: segment 12 (CAS), element CAS03: too long"), no values
    warnings: list[str] = field(default_factory=list)


def new_claim(envelope: Envelope, segment_number: int, fields: dict, raw_text: str,
              payer_name: str | None, payer_identifier: str | None) -> EdiClaim:
    """An EdiClaim in this envelope; `fields` are ClaimStatusFinding fields (claim_number among them)."""
    return EdiClaim(
        file_name=envelope.file_name, claim_number=fields["claim_number"], transaction=envelope.transaction,
        implementation=envelope.implementation, interchange_control_number=envelope.interchange_control_number,
        segment_number=segment_number, payer_name=payer_name, payer_identifier=payer_identifier,
        sender_id=envelope.sender_id, raw_text=raw_text, fields=fields, observed_at=envelope.observed_at)
