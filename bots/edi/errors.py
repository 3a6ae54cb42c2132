"""The one error the X12 reader raises: which file, which segment, which element, and why."""

from __future__ import annotations


class EdiError(Exception):
    """A file that cannot be read: names the file, the segment number and the element.

    The message never carries element values (they can be patient data): only codes, control
    numbers, counts, segment ids and element positions such as "CLP04".
    """

    def __init__(self, file_name: str, reason: str, *, segment_number: int | None = None,
                 segment_id: str | None = None, element: str | None = None) -> None:
        self.file_name = file_name
        self.segment_number = segment_number
        self.segment_id = segment_id
        self.element = element
        self.reason = reason
        super().__init__(str(self))

    def __reduce__(self):
        # picklable (Prefect and multiprocessing carry exceptions between processes): keyword parts as state
        return (type(self), (self.file_name, self.reason), {"segment_number": self.segment_number,
                                                             "segment_id": self.segment_id, "element": self.element})

    def __str__(self) -> str:
        where = []
        if self.segment_number is not None:
            where.append(f"segment {self.segment_number}" + (f" ({self.segment_id})" if self.segment_id else ""))
        elif self.segment_id:
            where.append(f"segment {self.segment_id}")
        if self.element is not None:
            where.append(f"element {self.element}")
        return f"{self.file_name}: {', '.join(where)}: {self.reason}" if where else f"{self.file_name}: {self.reason}"
