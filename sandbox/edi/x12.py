"""ASC X12 005010 envelope and segment writer: separators, ISA/GS/ST/SE/GE/IEA and control numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

# One element value: plain text, or a tuple of component values (a composite such as `HC:99213`).
Element = str | tuple[str, ...]
Segment = list[Element]

# Who sends and receives the sandbox's files: a synthetic clearinghouse and the practice's billing office.
SENDER_ID = "SBXCLEARING"
RECEIVER_ID = "HARBORBILLING"
RECEIVER_NAME = "Harbor Health Billing Office"


@dataclass(frozen=True)
class Separators:
    """The four X12 delimiters, plus text written after each segment terminator (a line break by default)."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    line_break: str = "\n"  # ignored when the segment terminator is itself a line break

    def __post_init__(self) -> None:
        chars = [self.element, self.component, self.repetition, self.segment]
        if any(len(c) != 1 for c in chars) or len(set(chars)) != 4:
            raise ValueError("separators: four different single characters are expected")
        if any(c.isalnum() or c == " " for c in chars):
            raise ValueError("separators: letters, digits and spaces cannot delimit X12")


DEFAULT_SEPARATORS = Separators()


def amount(value: Decimal) -> str:
    """An X12 R (decimal) value: no trailing zeros after the point, no exponent ('145', '92.1', '0')."""
    text = format(value.quantize(Decimal("0.01")), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def d8(value: date) -> str:
    """A CCYYMMDD date."""
    return value.strftime("%Y%m%d")


def render(segment: Segment, sep: Separators) -> str:
    """One segment as text, trailing empty elements and components dropped, without its terminator."""
    values = []
    for value in segment:
        parts = list(value) if isinstance(value, tuple) else [value]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        for part in parts:
            _check_value(part, sep)
        values.append(sep.component.join(parts))
    while values and values[-1] == "":
        values.pop()
    return sep.element.join(values)


def _check_value(value: str, sep: Separators) -> None:
    # A delimiter inside a value would split it: names and ids come from the world, so refuse loudly.
    for char in (sep.element, sep.component, sep.repetition, sep.segment):
        if char in value:
            raise ValueError(f"x12: a value contains the delimiter {char!r}")


def transaction(set_id: str, control: str, body: list[Segment], version: str | None) -> list[Segment]:
    """ST + body + SE, SE01 counting ST and SE themselves."""
    st: Segment = ["ST", set_id, control] + ([version] if version else [])
    return [st, *body, ["SE", str(len(body) + 2), control]]


def interchange(*, functional_id: str, version: str, transactions: list[list[Segment]], interchange_number: int,
                created: datetime, sep: Separators | None = None) -> str:
    """A whole file: ISA, one GS group holding the transactions, GE, IEA."""
    sep = sep or DEFAULT_SEPARATORS
    if not 1 <= interchange_number <= 999_999_999:
        raise ValueError("interchange_number: 1 to 999999999 (ISA13 has nine digits)")
    icn = f"{interchange_number:09d}"
    group = str(interchange_number)  # GS06 and GE02: the group control number, 1-9 digits
    isa = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", SENDER_ID.ljust(15), "ZZ", RECEIVER_ID.ljust(15),
           created.strftime("%y%m%d"), created.strftime("%H%M"), sep.repetition, "00501", icn, "0", "T",
           sep.component]
    gs = ["GS", functional_id, SENDER_ID, RECEIVER_ID, created.strftime("%Y%m%d"), created.strftime("%H%M"),
          group, "X", version]
    segments: list[Segment] = [gs]
    for tx in transactions:
        segments.extend(tx)
    segments += [["GE", str(len(transactions)), group], ["IEA", "1", icn]]
    end = sep.segment + ("" if sep.segment in "\r\n" else sep.line_break)
    # ISA is fixed width (106 characters with its terminator); its last element is the component separator.
    head = sep.element.join(isa) + end
    return head + "".join(render(segment, sep) + end for segment in segments)
