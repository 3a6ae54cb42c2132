"""Who works what for one payer tonight: each practice's claims, packets and letters go to its own accounts only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bots.credentials import Credential
from bots.findings import ClaimQuery, RecordsPacket

DEFAULT_PRACTICE = "default"  # workqueue.practices.DEFAULT_PRACTICE (a credential's practice when none was given)


@dataclass
class Share:
    """One account's part of a payer's night."""

    credential: Credential
    claims: list[ClaimQuery] = field(default_factory=list)
    uploads: list[RecordsPacket] = field(default_factory=list)
    reconcile: list[RecordsPacket] = field(default_factory=list)
    correspondence: bool = False  # letters and authorizations: once per practice, through its first account
    correspondence_since: date | None = None


def skip_key(payer_id: str, practice: str) -> str:
    """The skipped entry of a practice without an account of its own: 'meridian@lakeview'."""
    return f"{payer_id}@{practice}"


def assign_payer(payer_id: str, credentials: list[Credential], claims: list[ClaimQuery], *,
                 uploads: list[RecordsPacket] = (), reconcile: list[RecordsPacket] = (),
                 practice_of_packet: dict[str, str] | None = None,
                 correspondence_since: dict[str, date | None] | None = None,
                 default_since: date | None = None, blocked: frozenset[str] = frozenset()
                 ) -> tuple[list[Share], dict[str, str]]:
    """Split one payer's work by practice across that practice's accounts, leaving out the `blocked` ones.

    A practice's claims are spread across its own accounts only (never another practice's, even on the same
    payer); its uploads and reconciles go to its first account, which also pulls its letters and authorizations
    (letters found through an account belong to the account's practice). A practice with work but no account of
    its own is returned as skipped: {"meridian@lakeview": "no credentials stored for practice lakeview"}.
    `correspondence_since` is per practice; a practice missing from it (no letters stored yet) gets `default_since`.
    A practice whose accounts are all blocked gets no entry here: the caller reports each blocked account.
    """
    packet_practice = practice_of_packet or {}
    since = correspondence_since or {}
    by_practice: dict[str, list[Credential]] = {}
    stored: set[str] = set()
    for credential in sorted(credentials, key=lambda c: c.account):
        stored.add(credential.practice or DEFAULT_PRACTICE)
        if credential.account not in blocked:
            by_practice.setdefault(credential.practice or DEFAULT_PRACTICE, []).append(credential)
    claims_of: dict[str, list[ClaimQuery]] = {}
    for claim in claims:
        claims_of.setdefault(claim.practice or DEFAULT_PRACTICE, []).append(claim)
    packets_of: dict[str, tuple[list[RecordsPacket], list[RecordsPacket]]] = {}
    for kind, packets in ((0, uploads), (1, reconcile)):
        for packet in packets:
            practice = packet_practice.get(packet.packet_id, DEFAULT_PRACTICE)
            packets_of.setdefault(practice, ([], []))[kind].append(packet)
    shares: list[Share] = []
    skipped: dict[str, str] = {}
    for practice in sorted((set(claims_of) | set(packets_of)) - stored):
        skipped[skip_key(payer_id, practice)] = f"no credentials stored for practice {practice}"
    for practice, accounts in sorted(by_practice.items()):
        mine = claims_of.get(practice, [])
        to_upload, to_reconcile = packets_of.get(practice, ([], []))
        for n, credential in enumerate(accounts):
            shares.append(Share(
                credential=credential, claims=mine[n::len(accounts)],
                uploads=list(to_upload) if n == 0 else [], reconcile=list(to_reconcile) if n == 0 else [],
                correspondence=n == 0, correspondence_since=since.get(practice, default_since)))
    return shares, skipped
