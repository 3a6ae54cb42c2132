"""Retry policy: transient portal errors only (maintenance, 5xx, time-outs); never a failed login."""

from __future__ import annotations

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from bots.errors import PortalError


def is_transient(error: BaseException) -> bool:
    """Whether an error is worth trying again in the same night."""
    return isinstance(error, PortalError) and error.transient


transient_retry = retry(
    retry=retry_if_exception(is_transient),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)
