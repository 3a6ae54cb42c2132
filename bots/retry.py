"""Retry policy: transient portal errors only (5xx, time-outs); never a failed login, never a maintenance page."""

from __future__ import annotations

from tenacity import retry, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from bots.errors import MaintenanceWindow, PortalError

#: attempts per step, and the longest a step may spend retrying, before the error stands
ATTEMPTS = 5
MAX_RETRY_SECONDS = 30


def is_transient(error: BaseException) -> bool:
    """Whether an error is worth trying again in a moment (a maintenance page is deferred instead)."""
    return isinstance(error, PortalError) and error.transient and not isinstance(error, MaintenanceWindow)


# Bounded exponential backoff with jitter: ~0.25 s, 0.5 s, 1 s, 2 s (+ up to 0.5 s each), never past 4 s.
transient_retry = retry(
    retry=retry_if_exception(is_transient),
    stop=stop_after_attempt(ATTEMPTS) | stop_after_delay(MAX_RETRY_SECONDS),
    wait=wait_exponential_jitter(multiplier=0.25, max=4, jitter=0.5),
    reraise=True,
)
