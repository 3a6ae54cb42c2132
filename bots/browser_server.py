"""One Chromium per worker: a Playwright browser server that every lane of the worker connects to.

Playwright's sync API is bound to the thread that started it, so lanes running in threads (or flow runs
in their own processes) cannot share one `Browser` object. They can share one browser process:
`playwright launch-server` starts Chromium once and hands out a WebSocket endpoint; each lane
`connect()`s and opens its own context (the unit per account). A lane's contexts close when it
disconnects; the browser lives until the server stops.

A worker that runs flow runs in their own processes starts one server and puts its endpoint in
`PAYERBOT_BROWSER_WS`; a night in one process starts its own and hands it to its lanes. It is bound
to 127.0.0.1 and its path is a random token, so only local processes that were told it can drive it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright._impl._driver import compute_driver_executable, get_driver_env  # what `python -m playwright` runs

from bots.browser import launch_options

BROWSER_WS_ENV = "PAYERBOT_BROWSER_WS"
_START_TIMEOUT_S = 60


class BrowserServerError(RuntimeError):
    """The browser server did not start (its last output line says why)."""


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the process that started it dies (a killed night leaks no browser)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def browser_server(headless: bool | None = None) -> Iterator[str]:
    """Start one Chromium behind a Playwright server on 127.0.0.1; yield its endpoint; stop it at the end."""
    options = launch_options(headless=headless)
    config = {"headless": options["headless"], "args": options["args"], "host": "127.0.0.1", "port": 0}
    if "executable_path" in options:
        config["executablePath"] = options["executable_path"]
    with tempfile.TemporaryDirectory(prefix="payerbot-browser-") as folder:
        path = Path(folder) / "launch.json"
        path.write_text(json.dumps(config))
        # Playwright's driver (Node) itself, not `python -m playwright`: that wrapper does not pass SIGTERM on,
        # so stopping it left the server and its Chromium running. Node closes its browser on SIGTERM.
        node, cli = compute_driver_executable()
        process = subprocess.Popen(
            [node, cli, "launch-server", "--browser", "chromium", "--config", str(path)], env=get_driver_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        try:
            yield _endpoint(process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _endpoint(process: subprocess.Popen) -> str:
    """The first line the server prints is its ws:// endpoint; anything else is why it failed."""
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("ws://"):
                break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(_START_TIMEOUT_S)
    found = next((line for line in lines if line.startswith("ws://")), None)
    if found is None:
        process.kill()
        raise BrowserServerError(f"the browser server did not start: {lines[-1] if lines else 'no output'}")
    # Keep draining its output so the server never blocks on a full pipe.
    threading.Thread(target=lambda: process.stdout and process.stdout.read(), daemon=True).start()
    return found


@contextlib.contextmanager
def shared_browser(headless: bool | None = None) -> Iterator[str]:
    """This worker's browser endpoint: the one in PAYERBOT_BROWSER_WS, or a server started for the block."""
    existing = os.environ.get(BROWSER_WS_ENV)
    if existing:
        yield existing
        return
    with browser_server(headless=headless) as endpoint:
        yield endpoint
