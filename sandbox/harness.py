"""Test-harness endpoints (`/_sandbox/...`): the oracle, inventory, accounts, counters and switches.

Real portals have none of this; tests, the demo and operators learning the framework use it to see
what a perfect bot would find and to make the portal misbehave on purpose.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse

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

    @router.get("/{portal}/accounts")
    def accounts(portal: str) -> list[dict]:
        profile = state_of(portal).profile
        return [{"username": profile.username, "password": profile.password,
                 "totp_seed": profile.totp_seed or None}]

    @router.get("/{portal}/stats")
    def stats(portal: str) -> dict:
        state = state_of(portal)
        with state.lock:
            return {"counters": dict(state.stats), "login_attempts": dict(state.login_attempts),
                    "locked": sorted(state.locked), "live_sessions": len(state.sessions)}

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
