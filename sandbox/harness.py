"""Test-harness endpoints (`/_sandbox/...`): the oracle, inventory, EDI files, accounts, counters and switches.

Real portals have none of this; tests, the demo and operators learning the framework use it to see
what a perfect bot would find and to make the portal misbehave on purpose.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import PlainTextResponse

from sandbox.edi import FILE_KINDS, file_claims, file_text
from sandbox.faults import (
    FAULT_COUNTERS,
    FaultSpecError,
    apply_settings,
    describe_settings,
    parse_settings,
    parse_spec,
    request_kinds,
    reset_settings,
)
from sandbox.state import PortalState
from sandbox.world import rows_to_csv


def harness_router(portals: dict[str, PortalState]) -> APIRouter:
    """Routes over every mounted portal's state."""
    router = APIRouter(prefix="/_sandbox")

    def state_of(portal: str) -> PortalState:
        if portal not in portals:
            raise HTTPException(404, f"no sandbox portal {portal!r}")
        return portals[portal]

    @router.get("/health")
    def health() -> dict:
        return {"ok": True, "portals": sorted(portals)}

    @router.get("/inventory.csv", response_class=PlainTextResponse)
    def inventory_all() -> str:
        rows = [row for state in portals.values() for row in state.world.inventory_rows()]
        return rows_to_csv(rows)

    @router.get("/{portal}/inventory.csv", response_class=PlainTextResponse)
    def inventory(portal: str) -> str:
        return state_of(portal).world.inventory_csv()

    @router.get("/{portal}/oracle")
    def oracle(portal: str) -> dict:
        return state_of(portal).world.oracle()

    def edi_kind(kind: str) -> str:
        if kind not in FILE_KINDS:
            raise HTTPException(404, f"no EDI file kind {kind!r} (835, 277, 277ca)")
        return kind

    @router.get("/{portal}/edi/{kind}", response_class=PlainTextResponse)
    def edi_file(portal: str, kind: str, claims: str = "all", interchange: int = 1) -> str:
        """The clearinghouse's X12 file of this kind (835, 277, 277ca) for `claims=half|all|N1,N2`."""
        state = state_of(portal)
        with state.lock:
            try:
                return file_text(state.world, edi_kind(kind), claims, interchange_number=interchange)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None

    @router.get("/{portal}/edi/{kind}/claims")
    def edi_file_claims(portal: str, kind: str, claims: str = "all") -> list[str]:
        """The claim numbers that file carries (the oracle's `claims` says what is true of each)."""
        state = state_of(portal)
        with state.lock:
            try:
                return file_claims(state.world, edi_kind(kind), claims)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None

    @router.get("/{portal}/accounts")
    def accounts(portal: str) -> list[dict]:
        """Every login: {username, password, totp_seed, practice}; the first is the profile's own."""
        return [account.as_json() for account in state_of(portal).accounts.values()]

    @router.get("/{portal}/stats")
    def stats(portal: str) -> dict:
        state = state_of(portal)
        with state.lock:
            counters = dict(state.stats)
            return {"counters": counters, "login_attempts": dict(state.login_attempts),
                    "locked": sorted(state.locked), "live_sessions": len(state.sessions),
                    "sessions_in_use_peak": state.in_flight.peak,
                    "requests_of_one_session_in_flight_peak": state.in_flight.deepest,
                    "requests_by_kind": request_kinds(counters), **state.lookups.summary(),
                    **{name: counters.get(name, 0) for name in FAULT_COUNTERS}}

    @router.post("/{portal}/reset_stats")
    def reset_stats(portal: str) -> dict:
        """Counters, login attempts, the lookup log and the sessions-in-use peak start over."""
        state_of(portal).reset_stats()
        return {"reset": True}

    @router.get("/{portal}/lookups")
    def lookups(portal: str) -> list[dict]:
        """Every claim status/detail the portal showed: {claim_number, username, session, at}."""
        return state_of(portal).lookups.entries()

    @router.post("/faults")
    def faults_all(body: Annotated[dict, Body()]) -> dict:
        """Apply a whole SPEC (`{"spec": "errors=0.1,meridian.expire_every=150"}`) to every portal."""
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, str):
            raise HTTPException(400, 'expected {"spec": "key=value,..."}')
        try:
            settings = parse_spec(spec, portals)
        except FaultSpecError as exc:
            raise HTTPException(400, str(exc)) from None
        return {portal: apply_settings(portals[portal], values) for portal, values in settings.items()}

    @router.get("/{portal}/faults")
    def faults_show(portal: str) -> dict:
        return describe_settings(state_of(portal))

    @router.post("/{portal}/faults")
    def faults_set(portal: str, body: Annotated[dict, Body()]) -> dict:
        """Set some faults of one portal from a JSON object of unprefixed keys; others stay as they are."""
        state = state_of(portal)
        try:
            values = parse_settings(body)
        except FaultSpecError as exc:
            raise HTTPException(400, str(exc)) from None
        return apply_settings(state, values)

    @router.delete("/{portal}/faults")
    def faults_clear(portal: str) -> dict:
        """Every fault of one portal off, switches back to normal."""
        return reset_settings(state_of(portal))

    @router.get("/{portal}/uploads")
    def uploads(portal: str) -> list[dict]:
        state = state_of(portal)
        with state.lock:
            return [asdict(u) for u in state.uploads]

    @router.get("/{portal}/mailbox/{username}")
    def mailbox(portal: str, username: str) -> dict:
        state = state_of(portal)
        with state.lock:
            sent = [m for m in state.mailbox if m["username"] == username]
        return {"code": sent[-1]["code"] if sent else None, "sent_at": sent[-1]["sent_at"] if sent else None}

    @router.post("/{portal}/release-letters")
    def release_letters(portal: str) -> dict:
        state = state_of(portal)
        with state.lock:
            return {"released": state.world.release_held_letters()}

    @router.post("/{portal}/settle-pended")
    def settle_pended(portal: str) -> dict:
        state = state_of(portal)
        with state.lock:
            return {"settled": state.world.settle_pended_claims()}

    @router.post("/{portal}/layout/{version}")
    def layout(portal: str, version: int) -> dict:
        if version not in (1, 2):
            raise HTTPException(400, "layout version is 1 or 2")
        state_of(portal).layout_version = version
        return {"layout_version": version}

    @router.post("/{portal}/maintenance/{on}")
    def maintenance(portal: str, on: bool) -> dict:
        state_of(portal).maintenance = on
        return {"maintenance": on}

    @router.post("/{portal}/captcha/{after}")
    def captcha(portal: str, after: int) -> dict:
        """Show a captcha after this many searches (-1: never)."""
        state = state_of(portal)
        with state.lock:
            state.captcha_after_searches = None if after < 0 else after
            state.searches_since_captcha = 0
            state.captcha_pending.clear()
        return {"captcha_after_searches": state.captcha_after_searches}

    @router.post("/{portal}/session-idle/{seconds}")
    def session_idle(portal: str, seconds: float) -> dict:
        state_of(portal).session_idle_seconds = seconds
        return {"session_idle_seconds": seconds}

    return router
