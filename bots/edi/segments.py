"""One read segment with its place in the file and its loop, and typed access to its elements."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pyx12.segment import Segment

from bots.edi.errors import EdiError

# X12 "R" (decimal) values: optional minus, digits, optional decimal point; no exponent, no thousands separator.
_DECIMAL = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Seg:
    """A segment as pyx12 read it: 1-based position in the file (ISA is 1), id, enclosing loop id."""

    file_name: str
    number: int
    id: str
    loop: str
    data: Segment

    def value(self, ref: str) -> str | None:
        """The element (e.g. "CLP04") or component (e.g. "SVC01-2") value, None when absent or empty."""
        value = self.data.get_value(ref)
        return value.strip() or None if value is not None else None

    def required(self, ref: str) -> str:
        """The element value, or EdiError when the guide requires it and it is empty."""
        value = self.value(ref)
        if value is None:
            raise self.error(ref, "required element is missing")
        return value

    def money(self, ref: str) -> Decimal | None:
        """An amount element as Decimal (cents), None when empty; EdiError when it is not a number."""
        value = self.value(ref)
        if value is None:
            return None
        if not _DECIMAL.fullmatch(value):
            raise self.error(ref, "not a number")
        return Decimal(value).quantize(_CENT)

    def day(self, ref: str) -> date | None:
        """A CCYYMMDD date element, None when empty; EdiError when it is not a date."""
        value = self.value(ref)
        if value is None:
            return None
        try:
            if not value.isdigit() or len(value) != 8:
                raise ValueError
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise self.error(ref, "not a date (CCYYMMDD)") from None

    def count(self, ref: str) -> int | None:
        """A quantity element ('1', '1.0', '2.5') as a whole number, rounded half up; None when empty."""
        value = self.value(ref)
        if value is None:
            return None
        if not _DECIMAL.fullmatch(value):
            raise self.error(ref, "not a number")
        # the findings count whole units; a fractional count (e.g. anesthesia units) is rounded
        return int(Decimal(value).to_integral_value(rounding=ROUND_HALF_UP))

    def text(self) -> str:
        """The segment written with the standard separators (* : ~), whatever the file used."""
        return self.data.format("~", "*", ":").rstrip("~") + "~"

    def error(self, ref: str | None, reason: str) -> EdiError:
        """An EdiError pointing at this segment (and element, e.g. "CLP04" or "SVC01-2")."""
        element = ref if ref is None or ref.startswith(self.id) else f"{self.id}{ref}"
        return EdiError(self.file_name, reason, segment_number=self.number, segment_id=self.id, element=element)
