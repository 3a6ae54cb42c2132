"""Walking a portal's lists: next links, load-more buttons, and finding our row by a cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from playwright.sync_api import Locator
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bots.errors import PortalChanged
from bots.kit.waits import Outcomes, Root
from bots.parsing import clean_text

#: a next page's answer, fixed or depending on its number (a pager reading "Page 3 of 7")
PageAnswer = Outcomes | Callable[[int], Outcomes]
#: most pages one list may have: a pager that never ends is a changed portal, not an endless night
MAX_PAGES = 500


class Paging:
    """The list half of the base adapter: `pages`, `load_all`, `find_row`."""

    def pages(self, next_link: str, answer: PageAnswer, *, navigates: bool = False,
              within: Root | None = None) -> Iterator[int]:
        """Yield 1, 2, ... for each page of a list, clicking `next_link` in between until it is gone."""
        root = within or self.page
        for number in range(1, MAX_PAGES + 1):
            yield number
            if root.locator(next_link).count() == 0:
                return
            wanted = answer(number + 1) if callable(answer) else answer
            self.click(next_link, wanted, navigates=navigates, within=within, again_if_unanswered=not navigates)
        self.fail(PortalChanged, f"a list went on for more than {MAX_PAGES} pages")

    def load_all(self, rows: str, more: str, *, within: Root | None = None,
                 until: Callable[[Locator], bool] | None = None) -> Locator:
        """Click a 'Load more' button until it is gone (or `until(rows)` holds); every row of the list, loaded."""
        root = within or self.page
        found = root.locator(rows)
        for _ in range(MAX_PAGES):
            if root.locator(more).count() == 0 or (until is not None and until(found)):
                return found
            before = found.count()
            root.locator(more).first.click()
            try:
                found.nth(before).wait_for(state="attached", timeout=self.wait_ms)
            except PlaywrightTimeout:
                self.check_interruptions()
                self.fail(PortalChanged, "'Load more' brought no more rows")
        self.fail(PortalChanged, f"'Load more' went on for more than {MAX_PAGES} pages")

    def find_row(self, rows: str, cell: str, value: str, *, next_link: str | None = None,
                 answer: PageAnswer | None = None, navigates: bool = False, more: str | None = None,
                 within: Root | None = None) -> tuple[Locator | None, int]:
        """(our row, rows looked at): the row whose `cell` reads `value`, over every page or load-more."""
        root = within or self.page
        seen = 0
        if more:  # stop loading once our row is there
            self.load_all(rows, more, within=within, until=lambda found: value in [
                clean_text(text) for text in found.locator(cell).all_inner_texts()])
        for _page in (self.pages(next_link, answer, navigates=navigates, within=within) if next_link else [1]):
            texts = [clean_text(text) for text in root.locator(rows).locator(cell).all_inner_texts()]
            if value in texts:
                return root.locator(rows).nth(texts.index(value)), seen + texts.index(value) + 1
            seen += len(texts)
        return None, seen
