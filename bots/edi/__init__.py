"""Clearinghouse X12 files (277 claim status, 277CA acknowledgment, 835 remittance) as claim status findings."""

from bots.edi.errors import EdiError
from bots.edi.model import EdiClaim, EdiFile
from bots.edi.reader import read_edi, read_edi_text

__all__ = ["EdiClaim", "EdiError", "EdiFile", "read_edi", "read_edi_text"]
