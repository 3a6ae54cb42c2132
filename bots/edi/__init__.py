"""Clearinghouse X12 files (277 claim status, 277CA acknowledgment, 835 remittance) as claim status findings."""

# How a file is read (each module does one step):
#   envelope.py     pyx12's X12Reader over the whole file: ISA shape and separators, control numbers and
#                   counts (ISA13/IEA02, GS06/GE02, ST02/SE02, SE01, GE01, IEA01), missing trailers, supported
#                   GS01/GS08/ST01 (HN 005010X212 -> "277", HN 005010X214 -> "277CA", HP 005010X221A1 -> "835")
#   context.py      pyx12's X12ContextReader against the 005010 maps: each segment's loop (2100, 2110, 2200D
#                   ...); a segment the guide does not place stops reading, the rest are `EdiFile.warnings`
#   maps.py         pyx12 4.0.0's X212 map is a draft its index leaves out: a repaired copy made at run time
#   remittance.py   835: one claim per CLP (2100), lines per SVC (2110), payment from the transaction's BPR/TRN
#   claim_status.py 277/277CA: one claim per 2200D (and X212 2200E, a dependent's claim); the first STC is the
#                   current status; X212 claim number = REF*EJ (patient control number) if sent, else TRN02;
#                   X214 claim number = TRN02 (the 837's CLM01)
# Messages name codes, control numbers, counts and positions; never element values (patient data).

from bots.edi.errors import EdiError
from bots.edi.model import EdiClaim, EdiFile
from bots.edi.reader import read_edi, read_edi_text

__all__ = ["EdiClaim", "EdiError", "EdiFile", "read_edi", "read_edi_text"]
