"""One HTTP server on 127.0.0.1 hosting every sandbox portal under its own path, plus the harness."""

from __future__ import annotations

import importlib
import socket
import threading
import time
import zlib
from collections.abc import Iterable
from datetime import date

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from sandbox.accounts import DEFAULT_PRACTICES
from sandbox.faults import FaultMiddleware, apply_settings, parse_spec
from sandbox.harness import harness_router
from sandbox.state import PortalState
from sandbox.world import PROFILES, World

#: portal id -> module with `create_app(state) -> FastAPI`
PORTAL_MODULES = {
    "meridian": "sandbox.portals.meridian.app",
    "northwind": "sandbox.portals.northwind.app",
    "claimbridge": "sandbox.portals.claimbridge.app",
}


def available_portals() -> list[str]:
    """Portals whose module exists in this checkout."""
    found = []
    for portal, module in PORTAL_MODULES.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        found.append(portal)
    return found


def fault_seed(seed: int, portal: str) -> int:
    """The seed of one portal's fault RNG: the same world seed gives the same faults."""
    return zlib.crc32(f"faults:{seed}:{portal}".encode())


def build_app(*, seed: int = 7, today: date | None = None, claims: int = 220,
              portals: Iterable[str] | None = None, faults: str | None = None,
              practices: tuple[str, ...] = DEFAULT_PRACTICES,
              accounts_per_practice: int = 1, authorizations: int = 30) -> tuple[FastAPI, dict[str, PortalState]]:
    """The sandbox application and the state of each portal in it, with a fault SPEC applied at start.

    `practices` and `accounts_per_practice` give each portal several logins, each of one client practice
    that sees only its own claims; the defaults are the one-login world of every existing test.
    `authorizations` is how many prior authorizations each portal holds (each decided one is also a letter).
    """
    chosen = list(portals or available_portals())
    settings = parse_spec(faults or "", chosen)  # a bad SPEC fails before anything starts
    root = FastAPI(title="payerbot sandbox portals", docs_url=None, redoc_url=None, openapi_url=None)
    states: dict[str, PortalState] = {}
    for portal in chosen:
        world = World(PROFILES[portal], seed=seed, today=today, claims=claims, authorizations=authorizations,
                      practices=practices, accounts_per_practice=accounts_per_practice)
        states[portal] = PortalState(world, fault_seed=fault_seed(seed, portal))
        module = importlib.import_module(PORTAL_MODULES[portal])
        root.mount(f"/{portal}", FaultMiddleware(module.create_app(states[portal]), states[portal]))
        apply_settings(states[portal], settings[portal])
    root.include_router(harness_router(states))

    @root.get("/", response_class=HTMLResponse)
    def index() -> str:
        links = "".join(f'<li><a href="/{p}/">{states[p].profile.name}</a></li>' for p in states)
        return f"<h1>payerbot sandbox portals</h1><ul>{links}</ul>"

    return root, states


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxServer:
    """The sandbox running in a background thread (tests and `payerbot demo`)."""

    def __init__(self, *, port: int | None = None, **app_options):
        self.app, self.states = build_app(**app_options)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="sandbox", daemon=True)

    def portal_url(self, portal: str) -> str:
        return f"{self.url}/{portal}/"

    def __enter__(self) -> SandboxServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(port: int, seed: int, claims: int = 220, faults: str | None = None,
          practices: tuple[str, ...] = DEFAULT_PRACTICES, accounts_per_practice: int = 1) -> None:
    """Run the sandbox in the foreground until interrupted (`payerbot sandbox [--faults SPEC]`)."""
    app, _ = build_app(seed=seed, claims=claims, faults=faults, practices=practices,
                       accounts_per_practice=accounts_per_practice)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")
