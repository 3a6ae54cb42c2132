"""Keep secrets and patient data out of logs: a logging filter that masks known values and patterns."""

from __future__ import annotations

import logging
import re
import threading

MASK = "[redacted]"
_PATTERNS = [
    re.compile(r"(?i)(password|passwd|totp|seed|secret|cookie|token|authorization)(\s*[=:]\s*)\S+"),
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # SSN-shaped
]


class Redactor(logging.Filter):
    """Masks registered secret values and secret-looking key=value pairs in every log record."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, *values: str | None) -> None:
        """Add values (passwords, seeds, member names) that must never appear in a log line."""
        with self._lock:
            self._values.update(v for v in values if v and len(v) >= 4)

    def redact(self, text: str) -> str:
        """The text with every registered value and secret pattern masked."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}" if m.lastindex else MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTOR = Redactor()


def install(logger: logging.Logger | None = None) -> Redactor:
    """Attach the process-wide redactor to a logger's handlers (root by default) and to the logger."""
    target = logger or logging.getLogger()
    if REDACTOR not in target.filters:
        target.addFilter(REDACTOR)
    for handler in target.handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
    return REDACTOR
