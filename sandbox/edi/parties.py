"""Who is named in the sandbox's X12 files: the payer, the payee/provider, the patient, dates and ids."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, time

from sandbox.edi.x12 import Segment
from sandbox.world import Claim, World

# CLP06 claim filing indicator per sandbox payer: an HMO, a PPO, a point-of-service cooperative.
FILING_INDICATOR = {"meridian": "HM", "northwind": "12", "claimbridge": "13"}


def created_at(world: World, created: datetime | None) -> datetime:
    """When the file was made: given, or the world's today at 06:00 UTC (the clearinghouse's morning drop)."""
    if created is None:
        return datetime.combine(world.today, time(6, 0), tzinfo=UTC)
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def digits(text: str, n: int) -> str:
    """n stable digits derived from a text (synthetic EINs, bank accounts, carrier ids)."""
    return f"{zlib.crc32(text.encode()) % 10**n:0{n}d}"


def payer_tax_id(world: World) -> str:
    """TRN03 / BPR10: '1' followed by the payer's (synthetic) nine-digit EIN, exactly ten characters."""
    return "1" + digits(f"ein:{world.profile.payer_id}", 9)


def patient_name(claim: Claim, qualifier: str) -> Segment:
    """NM1 for the patient (who is the subscriber in the sandbox), with the member id (MI)."""
    m = claim.member
    return ["NM1", qualifier, "1", m.last_name, m.first_name, "", "", "", "MI", m.member_id]


def provider_name(claim: Claim, qualifier: str) -> Segment:
    """NM1 for the billing/rendering provider, an organisation identified by its NPI (XX)."""
    return ["NM1", qualifier, "2", claim.provider_name, "", "", "", "", "XX", claim.provider_npi]


def check_claims(world: World, claim_numbers: list[str], allowed: list[str], kind: str) -> list[str]:
    """The asked claims in world order, or ValueError naming one this file kind cannot carry."""
    if not claim_numbers:
        raise ValueError(f"{kind}: no claims asked for")
    can = set(allowed)
    for number in claim_numbers:
        if number not in can:
            raise ValueError(f"{kind}: claim {number} cannot be carried by this file kind")
    asked = set(claim_numbers)
    return [c.claim_number for c in world.claims if c.claim_number in asked]
