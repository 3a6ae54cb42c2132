"""Read segments with their loop (pyx12's X12ContextReader against its 005010 maps) and collect its findings."""

from __future__ import annotations

import io
from collections.abc import Callable

import pyx12.params
from pyx12.x12context import X12ContextReader

from bots.edi.errors import EdiError
from bots.edi.maps import map_path
from bots.edi.segments import Seg

# pyx12 walker codes that stop reading: the segment is not where the guide allows it, so the loop it would
# be read in is unknown. A missing mandatory segment (code 3) leaves every other segment's loop known: it is
# a warning, and the segments the reader needs (BPR, TRN, CLP, STC ...) are checked where they are read.
_FATAL_SEGMENT = {"1": "segment not expected here by the implementation guide"}
# X12 999 IK4 element error codes (pyx12 uses them) -> short meaning; pyx12's own words repeat values.
_ELEMENT_ERRORS = {
    "1": "mandatory element missing", "2": "conditional element missing", "3": "too many elements",
    "4": "too short", "5": "too long", "6": "invalid character", "7": "invalid code value",
    "8": "invalid date", "9": "invalid time", "10": "exclusion condition violated",
    "12": "too many repetitions", "13": "too many components",
}
_ENVELOPE = {"ISA", "IEA", "GS", "GE", "ST", "SE"}
_SEGMENT_WARNINGS = {
    "3": "a mandatory segment or loop is missing before this segment",
    "2": "segment not used in this guide", "4": "loop repeated too often", "5": "segment repeated too often",
    "8": "segment has data element errors (syntax rule)", "SEG1": "segment ends with an element separator",
}


class _Collector:
    """pyx12 error-handler interface: records codes and positions only (pyx12's err_handler logs values)."""

    def __init__(self, position: Callable[[], int]) -> None:
        self.position = position
        self.problems: list[tuple[str, int, str | None, str]] = []  # (kind, segment number, element, code)

    # the loop bookkeeping pyx12 calls; nothing to keep
    def add_isa_loop(self, *args) -> None: ...
    def add_gs_loop(self, *args) -> None: ...
    def add_st_loop(self, *args) -> None: ...
    def add_seg(self, *args) -> None: ...
    def add_ele(self, *args) -> None: ...
    def close_isa_loop(self, *args) -> None: ...
    def close_gs_loop(self, *args) -> None: ...
    def close_st_loop(self, *args) -> None: ...

    def handle_errors(self, err_list) -> None:
        for level, code, _message, _value, _line in err_list:
            # envelope levels were already checked by bots.edi.envelope, with better positions
            if level == "seg":
                self.seg_error(code, "")

    def isa_error(self, err_cde: str, err_str: str) -> None: ...
    def gs_error(self, err_cde: str, err_str: str) -> None: ...
    def st_error(self, err_cde: str, err_str: str) -> None: ...

    def seg_error(self, err_cde: str, err_str: str, err_value=None, src_line=None) -> None:
        self.problems.append(("seg", self.position(), None, err_cde))

    def ele_error(self, err_cde: str, err_str: str, bad_value, refdes=None) -> None:
        self.problems.append(("ele", self.position(), refdes, err_cde))


def read_segments(text: str, file_name: str, segment_ids: list[str]) -> tuple[list[Seg], list[str]]:
    """Every segment with its loop id, and pyx12's non-fatal validation remarks (codes and positions only).

    Raises EdiError for structure problems that leave a segment's loop unknown.
    """
    reader: X12ContextReader | None = None
    collector = _Collector(lambda: reader.src.get_cur_line() if reader else 0)
    segments: list[Seg] = []
    # The collector (not pyx12's err_handler, which logs element values) receives every finding.
    try:
        reader = X12ContextReader(pyx12.params.params(), collector, io.StringIO(text), map_path=map_path())
        for node in reader.iter_segments():
            number = reader.src.get_cur_line()
            map_node = node.x12_map_node
            segments.append(Seg(file_name, number, node.seg_data.get_seg_id() or "", map_node.parent.id or "",
                                node.seg_data))
    except Exception:  # pyx12 stops on malformed input with errors of many types; their words repeat data
        number = reader.src.get_cur_line() if reader else 1
        seg_id = segment_ids[number - 1] if 0 < number <= len(segment_ids) else None
        raise EdiError(file_name, "segment not readable against the implementation guide",
                       segment_number=number, segment_id=seg_id) from None
    finally:
        if reader is not None:
            reader.close()
    warnings: list[str] = []
    for kind, number, element, code in collector.problems:
        seg_id = segment_ids[number - 1] if 0 < number <= len(segment_ids) else None
        if seg_id in _ENVELOPE:
            # bots.edi.envelope checked these; pyx12's walker also counts a second interchange's IEA
            # against the first ("segment repeated too often"), a false alarm in multi-interchange files
            continue
        if kind == "seg" and code in _FATAL_SEGMENT:
            raise EdiError(file_name, _FATAL_SEGMENT[code], segment_number=number, segment_id=seg_id)
        reason = _ELEMENT_ERRORS.get(code, f"code {code}") if kind == "ele" else \
            _SEGMENT_WARNINGS.get(code, f"code {code}")
        warnings.append(str(EdiError(file_name, reason, segment_number=number, segment_id=seg_id,
                                     element=element)))
    return segments, warnings
