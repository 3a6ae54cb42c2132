"""What bots did on a sandbox portal: the log of claim lookups and the peak of portal sessions in use."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter


def session_tag(token: str) -> str:
    """A short stable hash that tells sessions apart in reports without revealing the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class LookupLog:
    """Every time the portal showed one claim's status or detail: who, in which session, when."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict] = []

    def record(self, claim_number: str, username: str, token: str) -> None:
        """Note one claim shown (claim_number: the practice's own number, as in the inventory)."""
        entry = {"claim_number": claim_number, "username": username, "session": session_tag(token),
                 "at": time.time()}
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict]:
        """The log, oldest first (copies)."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def summary(self) -> dict[str, int]:
        """Lookups in all, distinct claims looked up and those looked up more than once."""
        with self._lock:
            seen = Counter(entry["claim_number"] for entry in self._entries)
        return {"lookups": sum(seen.values()), "claims_looked_up": len(seen),
                "claims_looked_up_twice": sum(1 for n in seen.values() if n > 1)}

    def clear(self) -> None:
        """Forget every lookup (the harness's stats reset)."""
        with self._lock:
            self._entries.clear()


class SessionsInFlight:
    """Portal sessions with a request in flight now, and the most that were at one moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()  # session token -> requests in flight
        self.peak = 0
        #: the most requests one session had in flight at one moment (several tabs of one login)
        self.deepest = 0

    def started(self, token: str) -> None:
        """A request of this session began (two at once of one session count as one session)."""
        with self._lock:
            self._in_flight[token] += 1
            self.peak = max(self.peak, len(self._in_flight))
            self.deepest = max(self.deepest, self._in_flight[token])

    def finished(self, token: str) -> None:
        """A request of this session ended (answered, failed or cut)."""
        with self._lock:
            self._in_flight[token] -= 1
            if self._in_flight[token] <= 0:
                del self._in_flight[token]

    def reset_peak(self) -> None:
        """The peak starts over from the sessions in flight now."""
        with self._lock:
            self.peak = len(self._in_flight)
            self.deepest = max(self._in_flight.values(), default=0)
