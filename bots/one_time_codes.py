"""One-time code providers: where a bot reads the code a portal e-mailed or texted."""

from __future__ import annotations

import time

import httpx

from bots.credentials import Credential


class HttpMailboxCodes:
    """Polls an HTTP mailbox endpoint (`GET <url>/<username>` -> {"code": "123456"}).

    The sandbox exposes one; in production the same shape fronts an IMAP reader or an SMS gateway.
    The code is never logged.
    """

    def __init__(self, url: str, *, wait_seconds: float = 10.0, poll_seconds: float = 0.25):
        self.url = url.rstrip("/")
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds

    def latest_code(self, credential: Credential, *, after: float) -> str | None:
        """The newest code for this account, waiting up to `wait_seconds` for one to arrive."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            response = httpx.get(f"{self.url}/{credential.username}", timeout=5)
            response.raise_for_status()
            body = response.json()
            sent_at = body.get("sent_at")
            if body.get("code") and (sent_at is None or sent_at >= after - 1):
                return str(body["code"])
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_seconds)


def provider_for(credential: Credential) -> HttpMailboxCodes | None:
    """The code provider a credential names in its options (`one_time_code_url`), if any."""
    url = credential.options.get("one_time_code_url")
    return HttpMailboxCodes(url) if url else None
