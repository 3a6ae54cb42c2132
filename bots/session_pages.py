"""Several pages of one logged-in session checking claims side by side (the manifest's `pages_per_session`).

A claim check that reads fetched pages or JSON spends nearly all its time waiting for the portal. Where
the portal keeps no per-session search state (a stateless JSON API, say), a few such checks can run at
once in the one session the account already has: no login, no second session for the portal to count.
Each extra page is a copy of the adapter on a copy of the session's cookies (`SessionCopyFetch`), worked
in a thread of its own. A page never touches the browser (the sync Playwright API belongs to the lane's
thread): its tab is `DetachedTab`, which has no screen.

What a page could not finish is not decided here: the lane checks that claim again itself, in its tab's
thread, where an ended session is logged in again within the account's budget (`bots.runner`).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from typing import TypeVar

from playwright.sync_api import Error as PlaywrightError

from bots.adapter import PortalAdapter
from bots.fetching import SessionCopyFetch
from bots.findings import ClaimQuery, Finding
from bots.retry import transient_retry

T = TypeVar("T")
R = TypeVar("R")


class DetachedTab:
    """The tab of an extra page: it stays where the lane's tab was and cannot be drawn or captured."""

    def __init__(self, url: str) -> None:
        self.url = url

    def on(self, *_: object) -> None:
        """Nothing to watch: an extra page loads no documents."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise PlaywrightError(f"an extra page of the session has no tab ({name})")


def side_by_side(adapter: PortalAdapter, pages: int) -> bool:
    """Whether this adapter's claim checks may run on `pages` pages of its session: they must not use the tab."""
    return pages > 1 and adapter.claims_without_tab()


def session_pages(adapter: PortalAdapter, count: int) -> list[PortalAdapter]:
    """`count` copies of the adapter, each on its own copy of the logged-in session (close them with `close_pages`)."""
    cookies = adapter.session.context.cookies()
    user_agent = adapter.user_agent()
    copies = []
    for _ in range(count):
        session = dataclasses.replace(adapter.session, page=DetachedTab(adapter.tab_url), context=None,
                                      fetch=SessionCopyFetch(cookies, user_agent), events=[])
        page = copy.copy(adapter)  # the adapter's settings (claims_from, a layout check's time) carry over
        page.session, page.page = session, session.page
        copies.append(page)
    return copies


def close_pages(pages: list[PortalAdapter]) -> None:
    """Close the HTTP connections of the session's extra pages."""
    for page in pages:
        page.session.fetch.close()


def map_side_by_side(adapter: PortalAdapter, work: Callable[[PortalAdapter, T], R], items: list[T],
                     pages: int) -> dict[int, R | BaseException]:
    """Each item's result (by its index), or what stopped it, from `pages` copies of the session working at once.

    `work(page, item)` runs on a copy of the adapter; transient errors are retried on the page as the lane
    would; anything else is handed back as it was raised. Empty when the session's cookies could not be
    copied (the lane then does every item itself).
    """
    results: dict[int, R | BaseException] = {}
    queue = list(reversed(range(len(items))))
    lock = threading.Lock()

    def run(page: PortalAdapter) -> None:
        while True:
            with lock:
                if not queue:
                    return
                index = queue.pop()
            try:
                result: R | BaseException = transient_retry(work)(page, items[index])
            except Exception as error:  # noqa: BLE001 - handed to the lane, which decides what it means
                result = error
            with lock:
                results[index] = result

    try:
        copies = session_pages(adapter, min(pages, len(items)))
    except PlaywrightError:
        return {}
    try:
        threads = [threading.Thread(target=run, args=(page,), name=f"session-page-{n}", daemon=True)
                   for n, page in enumerate(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        close_pages(copies)
    return results


def check_side_by_side(adapter: PortalAdapter, claims: list[ClaimQuery],
                       pages: int) -> dict[str, Finding | BaseException]:
    """Each claim's finding, or what stopped its check, from `pages` pages of the session working at once."""
    found = map_side_by_side(adapter, lambda page, claim: page.check_claim_status(claim), claims, pages)
    return {claims[index].claim_number: result for index, result in found.items()}
