"""Check the interchange envelope (ISA/IEA, GS/GE, ST/SE) with pyx12's X12Reader before reading any data."""

from __future__ import annotations

import io
import re

import pyx12.errors
from pyx12.x12file import X12Reader

from bots.edi.errors import EdiError

#: GS01 functional identifier -> ST01 transaction set, GS08 versions this reader understands
SUPPORTED = {
    "HN": ("277", {"005010X212": "277", "005010X214": "277CA"}),
    "HP": ("835", {"005010X221A1": "835"}),
}
# ISA elements are fixed width: ISA01..ISA16 (the guide's minimum = maximum lengths)
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_ISA_LENGTH = 106
_SEGMENT_ID = re.compile(r"[A-Z0-9]{2,3}")
_CODE = re.compile(r"[A-Z0-9]{1,12}")

# pyx12's envelope error codes (X12Reader.err_list: level, code) -> (trailer element, what it means)
_ENVELOPE_ERRORS = {
    ("isa", "001"): ("IEA02", "IEA02 does not match ISA13"),
    ("isa", "021"): ("IEA01", "IEA01 functional group count does not match"),
    ("isa", "024"): (None, "missing GE: functional group not closed before IEA"),
    ("isa", "025"): ("ISA13", "ISA13 interchange control number repeated in the file"),
    ("gs", "3"): (None, "missing SE: the transaction set is not closed before GE"),
    ("gs", "4"): ("GE02", "GE02 does not match GS06"),
    ("gs", "5"): ("GE01", "GE01 transaction set count does not match"),
    ("gs", "6"): ("GS06", "GS06 group control number repeated in the interchange"),
    ("st", "3"): ("SE02", "SE02 does not match ST02"),
    ("st", "4"): ("SE01", "SE01 segment count does not match"),
    ("st", "23"): ("ST02", "ST02 transaction set control number repeated in the group"),
    ("seg", "1"): (None, "segment identifier is not valid"),
    ("seg", "8"): (None, "empty segment"),
    ("seg", "HL1"): ("HL01", "HL01 hierarchical ids are not numbered 1, 2, 3 ..."),
    ("seg", "HL2"): ("HL02", "HL02 names a parent that is not an open HL"),
}
_HEADERS = {"ISA": "ISA13", "GS": "GS06", "ST": "ST02"}
# trailer -> its header, and what pyx12 counted when it read the trailer (SE01 counts ST and SE too)
_TRAILER_OF = {
    "IEA": ("ISA", lambda reader: reader.gs_count),
    "GE": ("GS", lambda reader: reader.st_count),
    "SE": ("ST", lambda reader: reader.seg_count + 1),
}
_TRAILERS = {("st", "2"): "SE", ("gs", "3"): "GE", ("isa", "023"): "IEA"}
# Not fatal: pyx12 flags them, the data is still read unambiguously.
_WARNINGS = {("seg", "SEG1"): "segment ends with an element separator"}


def _code(value: str | None) -> str:
    """A code for a message, quoted; anything that does not look like a code is not repeated."""
    return repr(value) if value and _CODE.fullmatch(value) else "(not a code)"


def _segment_id(text: str) -> str | None:
    """The leading letters/digits of a segment, never anything after them (could be patient data)."""
    match = _SEGMENT_ID.match(text.lstrip("\r\n "))
    return match.group(0) if match else None


def check_isa(text: str, file_name: str) -> None:
    """The ISA is exactly 106 characters, fixed-width, and its separators are distinct punctuation."""
    if not text.startswith("ISA"):
        raise EdiError(file_name, "does not begin with an ISA segment", segment_number=1)
    isa = text[:_ISA_LENGTH]
    separator = isa[3:4]
    if len(isa) < _ISA_LENGTH or not separator or separator.isalnum() or separator.isspace():
        raise EdiError(file_name, "ISA is not 106 characters with a punctuation element separator",
                       segment_number=1, segment_id="ISA")
    elements = isa[:-1].split(separator)
    if len(elements) != len(_ISA_WIDTHS) + 1:
        raise EdiError(file_name, f"ISA is not 106 characters with 16 elements separated by {separator!r}",
                       segment_number=1, segment_id="ISA")
    for index, (element, width) in enumerate(zip(elements[1:], _ISA_WIDTHS, strict=True), start=1):
        if len(element) != width:
            raise EdiError(file_name, f"ISA element is not {width} characters wide (ISA must be 106 characters)",
                           segment_number=1, segment_id="ISA", element=f"ISA{index:02d}")
    terminator, component = isa[-1], elements[16]
    if terminator.isalnum() or terminator in {separator, component} or component in {separator} \
            or component.isalnum():
        raise EdiError(file_name, "ISA separators are not distinct punctuation (element, component, segment)",
                       segment_number=1, segment_id="ISA", element="ISA16")


def check_envelope(text: str, file_name: str) -> list[str]:
    """Read every segment once with pyx12's X12Reader: control numbers, counts, trailers, supported sets.

    Returns the segment ids in file order (index 0 is the ISA) and pyx12's non-fatal remarks are dropped
    here (the context pass reports them as warnings). Raises EdiError at the first envelope problem.
    """
    check_isa(text, file_name)
    try:
        reader = X12Reader(io.StringIO(text))
    except pyx12.errors.X12Error:
        # pyx12 explains in words that repeat the ISA (sender ids): keep only the fact.
        raise EdiError(file_name, "ISA header not readable (version or separators)", segment_number=1,
                       segment_id="ISA") from None
    ids: list[str] = []
    functional_id: str | None = None
    opened: dict[str, str | None] = {}  # ISA13, GS06, ST02 of the open envelopes, for the messages
    try:
        for seg in reader:
            number = reader.get_cur_line()
            seg_id = seg.get_seg_id() or ""
            if not seg.is_seg_id_valid():
                raise EdiError(file_name, f"segment identifier is not valid (are its separators the ISA's "
                               f"{reader.ele_term!r} and {reader.seg_term!r}?)", segment_number=number,
                               segment_id=_segment_id(seg_id))
            ids.append(seg_id)
            if seg_id in _HEADERS:
                opened[seg_id] = seg.get_value(_HEADERS[seg_id])
            _raise_first(reader.pop_errors(), file_name, number, seg_id, _details(reader, seg, opened))
            if seg_id == "ISA" and number > 1:
                _check_later_isa(seg, file_name, number)
            if seg_id == "ISA" and seg.get_value("ISA12") != "00501":
                raise EdiError(file_name, "unknown interchange version (this reader reads 00501)",
                               segment_number=number, segment_id="ISA", element="ISA12")
            if seg_id == "GS":
                functional_id = _check_gs(seg, file_name, number)
            if seg_id == "ST":
                _check_st(seg, functional_id, file_name, number)
    except pyx12.errors.X12Error:
        raise EdiError(file_name, "segment not readable", segment_number=reader.get_cur_line() + 1) from None
    leftover = reader.raw.buffer.strip("\r\n \t")
    if leftover:
        # pyx12's raw reader stops at text without a segment terminator or at an empty segment ("~~").
        reason = "empty segment: reading stopped here" if (reader.seg_term or "~") in leftover else \
            "no segment terminator: the file is cut off mid-segment"
        raise EdiError(file_name, reason, segment_number=len(ids) + 1, segment_id=_segment_id(leftover))
    reader.cleanup()
    # pyx12 lists the open loops outermost first; the innermost missing trailer is the one to name
    for level, code, *_rest in reversed(reader.pop_errors()):
        trailer = _TRAILERS.get((level, code))
        if trailer:
            raise EdiError(file_name, f"end of file where the {trailer} trailer is expected (file truncated?)",
                           segment_number=len(ids) + 1, segment_id=trailer)
    return ids


def _details(reader: X12Reader, seg, opened: dict[str, str | None]) -> dict[str, str]:
    """What the trailer says against what was read, per trailer element (control numbers and counts only)."""
    seg_id = seg.get_seg_id()
    if seg_id not in _TRAILER_OF:
        return {}
    header, count = _TRAILER_OF[seg_id]
    said = {ref: _code(seg.get_value(ref)) for ref in (f"{seg_id}01", f"{seg_id}02")}
    header_element = _HEADERS[header]
    return {
        f"{seg_id}02": f" ({seg_id}02 {said[f'{seg_id}02']}, {header_element} {_code(opened.get(header))})",
        f"{seg_id}01": f" ({seg_id}01 {said[f'{seg_id}01']}, counted {count(reader)})",
    }


def _raise_first(problems: list, file_name: str, number: int, seg_id: str, details: dict[str, str]) -> None:
    """Turn the first fatal pyx12 envelope error into an EdiError at the segment that revealed it."""
    for level, code, _message, _value, _line in problems:
        if (level, code) in _WARNINGS:
            continue
        element, reason = _ENVELOPE_ERRORS.get((level, code), (None, f"envelope error ({level} {code})"))
        reason += details.get(element or "", "")
        raise EdiError(file_name, reason, segment_number=number, segment_id=seg_id, element=element)


def _check_later_isa(seg, file_name: str, number: int) -> None:
    """A second interchange's ISA: pyx12 reads it with the first one's separators; its widths must hold too."""
    for index, width in enumerate(_ISA_WIDTHS, start=1):
        if len(seg.get_value(f"ISA{index:02d}") or "") != width:
            raise EdiError(file_name, f"ISA element is not {width} characters wide (ISA must be 106 characters)",
                           segment_number=number, segment_id="ISA", element=f"ISA{index:02d}")


def _check_gs(seg, file_name: str, number: int) -> str:
    functional_id = seg.get_value("GS01") or ""
    version = seg.get_value("GS08") or ""
    supported = SUPPORTED.get(functional_id)
    if supported is None:
        raise EdiError(file_name, f"unknown functional group {_code(functional_id)} (reads HN 277/277CA, HP 835)",
                       segment_number=number, segment_id="GS", element="GS01")
    if version not in supported[1]:
        raise EdiError(file_name, f"unknown version {_code(version)} for {functional_id} (reads "
                       f"{', '.join(supported[1])})", segment_number=number, segment_id="GS", element="GS08")
    return functional_id


def _check_st(seg, functional_id: str | None, file_name: str, number: int) -> None:
    transaction_set = seg.get_value("ST01") or ""
    expected = SUPPORTED[functional_id][0] if functional_id in SUPPORTED else None
    if transaction_set != expected:
        raise EdiError(file_name, f"unknown transaction set {_code(transaction_set)} in a {functional_id} group "
                       f"(expected {expected})", segment_number=number, segment_id="ST", element="ST01")
