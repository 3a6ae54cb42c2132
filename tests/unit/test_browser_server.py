"""The shared Chromium server: reachable on 127.0.0.1, and gone with all its processes when the block ends."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bots.browser_server import browser_server


def _children(pid: int) -> list[int]:
    """Direct children of a process (Linux /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_server_serves_a_browser_and_leaves_no_process_behind(playwright) -> None:
    # pytest-playwright's own Playwright connects: a second sync_playwright() in this thread would find the
    # suite's event loop running and refuse.
    with browser_server() as endpoint:
        assert endpoint.startswith("ws://127.0.0.1:")
        browser = playwright.chromium.connect(endpoint)
        assert browser.new_context().new_page().evaluate("1 + 1") == 2
        browser.close()
        # (the suite's own Playwright fixtures run a driver under this process too: only the server counts)
        servers = [pid for pid in _children(os.getpid())
                   if b"launch-server" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(servers) == 1
        assert "node" in Path(f"/proc/{servers[0]}/comm").read_text(), "Playwright's driver itself, no wrapper"
        chromium = _children(servers[0])
        assert chromium, "the server's Chromium runs under it"
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in [*servers, *chromium]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in [*servers, *chromium] if _alive(pid)] == []
