"""The clearinghouse's X12 files for a sandbox world: 835 remittances, 277 claim statuses, 277CA acknowledgments."""

from sandbox.edi.acknowledgment import acknowledgeable_claims, acknowledgment_277ca
from sandbox.edi.claim_status import claim_status_277, status_reportable_claims
from sandbox.edi.kinds import FILE_KINDS, coverage, file_claims, file_text
from sandbox.edi.remittance import remittable_claims, remittance_835
from sandbox.edi.selection import half, select_claims
from sandbox.edi.x12 import Separators

__all__ = [
    "FILE_KINDS", "Separators", "acknowledgeable_claims", "acknowledgment_277ca", "claim_status_277", "coverage",
    "file_claims", "file_text", "half", "remittable_claims", "remittance_835", "select_claims",
    "status_reportable_claims",
]
