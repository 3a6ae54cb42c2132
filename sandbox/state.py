"""Mutable state of one sandbox portal: its world, sessions, counters, uploads and test switches."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sandbox import faults as fault_injection
from sandbox.accounts import Account
from sandbox.usage import LookupLog, SessionsInFlight
from sandbox.world import Authorization, Claim, Letter, World


@dataclass
class PortalSessionRecord:
    """A server-side session, as a real portal keeps one."""

    username: str
    csrf_token: str
    mfa_passed: bool = False
    last_seen: float = field(default_factory=time.monotonic)
    data: dict = field(default_factory=dict)


@dataclass
class UploadRecord:
    """One attachment the portal accepted (what the harness reports to tests)."""

    confirmation_number: str
    claim_number: str  # the payer claim number the portal filed it under
    document_type: str
    file_name: str
    sha256: str
    size: int
    duplicate_of: str | None
    received_at: float
    username: str = ""  # the portal account that sent it (its submission history lists it)


class PortalState:
    """Everything a sandbox portal remembers between requests. Thread-safe enough for one server."""

    def __init__(self, world: World, *, session_idle_seconds: float = 900, lockout_after: int = 5,
                 fault_seed: int = 0):
        self.world = world
        self.lock = threading.RLock()
        self.sessions: dict[str, PortalSessionRecord] = {}
        self.remembered_devices: dict[str, str] = {}  # device token -> username
        self.session_idle_seconds = session_idle_seconds
        self.lockout_after = lockout_after
        self.failed_in_a_row: Counter[str] = Counter()
        self.locked: set[str] = set()
        self.stats: Counter[str] = Counter({name: 0 for name in fault_injection.FAULT_COUNTERS})
        self.login_attempts: Counter[str] = Counter()
        self.uploads: list[UploadRecord] = []
        self.mailbox: list[dict] = []  # one-time codes "sent" by e-mail/SMS: {username, code, sent_at}
        self.layout_version = 1
        self.maintenance = False
        self.captcha_after_searches: int | None = None  # None: never
        self.searches_since_captcha = 0
        self.captcha_pending: set[str] = set()  # session tokens facing a captcha
        # fault injection (sandbox/faults.py): the settings, a seeded RNG, requests counted per session
        self.faults = fault_injection.FaultSettings()
        self.fault_seed = fault_seed
        self.fault_rng = random.Random(fault_seed)
        self.fault_session_requests: dict[str, int] = {}
        # logins (one or more per client practice), what bots looked up, sessions in use at once
        self.accounts: dict[str, Account] = {account.username: account for account in world.accounts}
        self.lookups = LookupLog()
        self.in_flight = SessionsInFlight()

    def reseed_faults(self, seed: int | None = None) -> None:
        """Start the fault RNG over, so the same request order meets the same faults again."""
        with self.lock:
            if seed is not None:
                self.fault_seed = seed
            self.fault_rng = random.Random(self.fault_seed)

    @property
    def profile(self):
        return self.world.profile

    def reset_stats(self) -> None:
        """Counters, login attempts, the lookup log and the sessions-in-use peak start over."""
        with self.lock:
            self.stats = Counter({name: 0 for name in fault_injection.FAULT_COUNTERS})
            self.login_attempts.clear()
            self.lookups.clear()
            self.in_flight.reset_peak()

    # -- practices: a login sees only its own practice's claims, letters, authorizations, uploads ----------
    def practice_of(self, username: str) -> str | None:
        """The practice a login belongs to (None: no such login)."""
        account = self.accounts.get(username)
        return account.practice if account else None

    def totp_seed_of(self, username: str) -> str:
        """The authenticator seed of a login ("" if it has none)."""
        account = self.accounts.get(username)
        return account.totp_seed if account else ""

    def claims_for(self, username: str) -> list[Claim]:
        """The claims this login's practice billed."""
        return self.world.claims_of(self.practice_of(username))

    def letters_for(self, username: str) -> list[Letter]:
        """The letters on the portal now for this login's practice, newest first."""
        return self.world.letters_of(self.practice_of(username))

    def authorizations_for(self, username: str) -> list[Authorization]:
        """The authorizations of this login's practice."""
        return self.world.authorizations_of(self.practice_of(username))

    def uploads_for(self, username: str) -> list[UploadRecord]:
        """The attachments any login of this practice sent."""
        practice = self.practice_of(username)
        with self.lock:
            return [u for u in self.uploads if practice is not None and self.practice_of(u.username) == practice]

    def record_lookup(self, claim: Claim, username: str, token: str | None) -> None:
        """The portal showed this claim's status/detail to this login (the harness lookup log)."""
        self.lookups.record(claim.claim_number, username, token or "")

    # -- sessions ---------------------------------------------------------------------------------------
    def new_session(self, username: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[token] = PortalSessionRecord(username=username, csrf_token=secrets.token_urlsafe(16))
        return token

    def session(self, token: str | None) -> PortalSessionRecord | None:
        """The live session for a cookie value; idle sessions expire like a real portal's."""
        if not token:
            return None
        with self.lock:
            record = self.sessions.get(token)
            if record is None:
                return None
            now = time.monotonic()
            if now - record.last_seen > self.session_idle_seconds:
                del self.sessions[token]
                self.stats["sessions_expired"] += 1
                return None
            record.last_seen = now
            return record

    def end_session(self, token: str | None) -> None:
        with self.lock:
            self.sessions.pop(token or "", None)

    def remember_device(self, username: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.remembered_devices[token] = username
        return token

    def device_remembered(self, token: str | None, username: str) -> bool:
        return bool(token) and self.remembered_devices.get(token) == username

    # -- credentials --------------------------------------------------------------------------------------
    def check_password(self, username: str, password: str) -> str:
        """'ok', 'bad' or 'locked'. Counts every attempt; locks after repeated failures like real portals."""
        with self.lock:
            self.login_attempts[username] += 1
            self.stats["login_attempts"] += 1
            if username in self.locked:
                return "locked"
            account = self.accounts.get(username)
            if account is not None and password == account.password:
                self.failed_in_a_row[username] = 0
                return "ok"
            self.stats["failed_logins"] += 1
            self.failed_in_a_row[username] += 1
            if self.failed_in_a_row[username] >= self.lockout_after:
                self.locked.add(username)
            return "bad"

    def send_code(self, username: str) -> str:
        """Generate and 'e-mail' a six-digit one-time code (the harness mailbox shows it)."""
        code = f"{secrets.randbelow(10**6):06d}"
        with self.lock:
            self.mailbox.append({"username": username, "code": code, "sent_at": time.time()})
            self.stats["codes_sent"] += 1
        return code

    def latest_code(self, username: str) -> str | None:
        with self.lock:
            for item in reversed(self.mailbox):
                if item["username"] == username:
                    return item["code"]
        return None

    # -- uploads -----------------------------------------------------------------------------------------
    def record_upload(self, claim_number: str, document_type: str, file_name: str, sha256: str,
                      size: int, *, username: str = "") -> UploadRecord:
        """File an attachment; the same file for the same claim is flagged as a duplicate."""
        with self.lock:
            earlier = next((u for u in self.uploads if u.claim_number == claim_number and u.sha256 == sha256),
                           None)
            record = UploadRecord(
                confirmation_number=f"{self.profile.icn_prefix}U{len(self.uploads) + 1:06d}",
                claim_number=claim_number, document_type=document_type, file_name=file_name,
                sha256=sha256, size=size, duplicate_of=earlier.confirmation_number if earlier else None,
                received_at=time.time(), username=username,
            )
            self.uploads.append(record)
            self.stats["uploads_recorded"] += 1
        fault_injection.mark("upload")
        return record

    # -- captcha ------------------------------------------------------------------------------------------
    def count_search(self, token: str) -> bool:
        """Count a search; True when this session must now face a captcha interstitial."""
        with self.lock:
            self.stats["searches"] += 1
            if self.captcha_after_searches is None:
                return token in self.captcha_pending
            self.searches_since_captcha += 1
            if self.searches_since_captcha > self.captcha_after_searches:
                self.captcha_pending.add(token)
                self.stats["captchas_shown"] += 1
            return token in self.captcha_pending
