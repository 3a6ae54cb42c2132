"""The web app served in a background thread on 127.0.0.1 (tests, the benchmark, the docs' screenshots)."""

from __future__ import annotations

import threading
import time

import uvicorn

from sandbox.server import free_port


class BackgroundServer:
    """uvicorn in a daemon thread on a free port, configured as `serve` runs it (no uvicorn proxy headers)."""

    def __init__(self, app, *, name: str = "web") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, proxy_headers=False))
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
