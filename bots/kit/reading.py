"""Reading portal pages into findings: text by selector, tables by header, the not-on-file answer, letters."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from datetime import date

from playwright.sync_api import Locator
from pydantic import BaseModel, ValidationError

from bots.downloads import DownloadTooLarge, StoredDownload, download_letter
from bots.errors import PortalChanged
from bots.findings import (
    AuthorizationFinding,
    ClaimQuery,
    ClaimStatusFinding,
    CorrespondenceFinding,
    PortalProblem,
    RecordsPacket,
    ServiceLine,
    UploadConfirmation,
)
from bots.kit import dom
from bots.kit.waits import Root
from bots.parsing import clean_text, optional_text, parse_adjustments, parse_date

# One round trip per table: header texts, cell texts and the first link of each row.
_TABLE_JS = """(table) => {
  const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
  return [...table.querySelectorAll('tbody tr')].map(tr => {
    const row = {}; [...tr.cells].forEach((td, i) => { row[heads[i] || ('col' + i)] = td.innerText; });
    const link = tr.querySelector('a[href]'); row._href = link ? link.href : '';
    return row; });
}"""
_LABELLED_JS = """(table) => Object.fromEntries([...table.querySelectorAll('tr')].flatMap(tr => {
  const cells = [...tr.children]; const pairs = [];
  for (let i = 0; i + 1 < cells.length; i += 2) { pairs.push([cells[i].innerText.trim(), cells[i + 1].innerText]); }
  return pairs; }))"""
#: a letter row as an adapter yields it: (portal id, title, letter date text, its download), optionally
#: followed by the file name the list shows (the suggested name then; else the download's own). The download
#: is the click that starts the browser's download, or the link's address, fetched (`Html.fetch_letter`)
LetterRow = (tuple[str, str, str | None, Callable[[], None] | str]
             | tuple[str, str, str | None, Callable[[], None] | str, str])


def _one(element: Locator, script: str):
    """`script` run on the one element: one round trip when it is there (`evaluate` costs three).

    Absent or ambiguous, `evaluate` decides as before (it waits for the element, or refuses two).
    """
    answer = element.evaluate_all(f"(found) => found.length === 1 ? [({script})(found[0])] : null")
    return answer[0] if answer is not None else element.evaluate(script)


def by_columns(rows: list[dict[str, str]], columns: dict[str, str]) -> tuple[list[dict[str, str | None]], list[str]]:
    """Header-keyed rows as field dicts (`columns`: header -> field, plus '_href'), and the headers missing."""
    missing = [header for header in columns if rows and header not in rows[0]]
    if missing:
        return [], missing
    return [{**{field: optional_text(row[header]) for header, field in columns.items()}, "_href": row["_href"]}
            for row in rows], []


class Reading:
    """The reading half of the base adapter."""

    #: seconds between download clicks (Chromium silently drops downloads a page starts ~10 a second)
    download_spacing_s = 0.15
    #: letters with plain links fetched at once in the session (the night's runner sets the manifest's
    #: `downloads_per_session`; `payer try`, `record` and the replay keep one at a time, in order)
    downloads_at_once = 1

    def texts(self, fields: dict[str, str | tuple[str, str]], *, within: Root | None = None) -> dict[str, str | None]:
        """field -> the cleaned text of its selector (None where the element is absent or a placeholder).

        A field given as (selector, regex) is the regex's first group in that element's text, or None:
        several fields can come out of one sentence ("Payment: EFT 1T123 issued 11/02/2026").
        """
        root = within or self.page
        wheres = {name: where if isinstance(where, tuple) else (where, None) for name, where in fields.items()}
        # Every plain-CSS field in one round trip; a Playwright-only selector (or a failed read) one by one.
        read = dom.texts(root, [selector for selector, _pattern in wheres.values()]) or [dom.UNSUPPORTED] * len(wheres)
        found = {}
        for (name, (selector, pattern)), text in zip(wheres.items(), read, strict=True):
            if text is dom.UNSUPPORTED:
                locator = root.locator(selector)
                text = locator.first.inner_text() if locator.count() else None
            text = optional_text(text) if text is not None else None
            if pattern and text is not None:
                match = re.search(pattern, text)
                text = optional_text(match.group(1)) if match else None
            found[name] = text
        return found

    def required(self, fields: dict[str, str | None], *names: str) -> None:
        """PortalChanged unless every named field was read (a page that lost them changed)."""
        missing = [name for name in names if not fields.get(name)]
        if missing:
            self.fail(PortalChanged, f"the page no longer shows {', '.join(missing)}")

    def table(self, table: Locator) -> list[dict[str, str]]:
        """Rows of a header-labelled table as dicts keyed by column header (plus '_href': the row's link)."""
        return [{key: value if key == "_href" else clean_text(value) for key, value in row.items()}
                for row in _one(table, _TABLE_JS)]

    def labelled(self, table: Locator) -> dict[str, str]:
        """A (label, value) detail table as a dict."""
        return {clean_text(k): clean_text(v) for k, v in _one(table, _LABELLED_JS).items()}

    def rows(self, table: Locator, columns: dict[str, str]) -> list[dict[str, str | None]]:
        """A header-labelled table's rows as field dicts (`columns`: header -> field, plus '_href')."""
        rows, missing = by_columns(self.table(table), columns)
        if missing:
            self.fail(PortalChanged, f"a table lost its columns {missing}")
        return rows

    def build(self, model: type[BaseModel], **fields):
        """A finding from the page's texts; a value that no longer parses (money, date) means the page changed."""
        try:
            return model(**fields)
        except ValidationError as error:
            # the field names only: the values are the portal's text and may be patient data
            names = sorted({".".join(str(part) for part in problem["loc"]) for problem in error.errors()})
            self.fail(PortalChanged, f"the page's {', '.join(names)} no longer read as {model.__name__} fields")

    def service_lines(self, table: Locator, columns: dict[str, str]) -> list[ServiceLine]:
        """The service-line grid: one ServiceLine per row; the 'adjustments' column is parsed ("CO-45 $52.82")."""
        return self.service_lines_from(self.rows(table, columns))

    def service_lines_from(self, rows: list[dict[str, str | None]]) -> list[ServiceLine]:
        """ServiceLines from a grid's rows already read as field dicts (a rendered page's or a fetched one's)."""
        lines = []
        for row in rows:
            row.pop("_href")
            adjustments = parse_adjustments(row.pop("adjustments", None))
            if adjustments is None:
                self.fail(PortalChanged, "a service line's adjustments no longer read as group, CARC and amount")
            lines.append(self.build(ServiceLine, **row, adjustments=adjustments))
        if not lines:
            self.fail(PortalChanged, "the claim shows no service lines")
        return lines

    def claim_finding(self, claim: ClaimQuery, *, raw_status: str | None, screenshot: bool = False,
                      url: str | None = None, **fields) -> ClaimStatusFinding:
        """A claim's status from the page's texts, its wording mapped through the payer's status map."""
        if not raw_status:
            self.fail(PortalChanged, "the claim shows no status")
        if "patient_account" in fields and fields.pop("patient_account") != claim.claim_number:
            self.fail(PortalChanged, "the page shows another claim than the one opened")
        fields.setdefault("reference_number", fields.get("payer_claim_number"))
        category = self.map_status(raw_status)
        return self.build(ClaimStatusFinding, claim_number=claim.claim_number, raw_status=raw_status,
                          status_category=category,
                          provenance=self.provenance(raw_status, screenshot=screenshot, url=url),
                          **fields)

    def fill(self, values: dict[str, str | None], *, within: Root | None = None) -> None:
        """Type each value into its field (None leaves a field empty)."""
        root = within or self.page
        for selector, value in values.items():
            root.locator(selector).fill(value or "")

    def confirmation(self, packet: RecordsPacket, *, number: str | None, shown: str | None,
                     duplicate: str | None = None) -> UploadConfirmation:
        """The portal's receipt for an upload: its number, its words (and duplicate warning), a screenshot."""
        if not number:
            self.fail(PortalChanged, "the upload answer shows no confirmation number")
        return UploadConfirmation(packet_id=packet.packet_id, claim_number=packet.claim_number,
                                  confirmation_number=number, duplicate_flagged=duplicate is not None,
                                  provenance=self.provenance(" ".join(filter(None, [shown, duplicate])),
                                                             screenshot=True))

    def history_entry(self, packet: RecordsPacket, rows: Iterable[dict[str, str | None]], *,
                      file_name: str) -> UploadConfirmation | None:
        """The packet's row in a portal's submission history (same file name, same claim if shown), or None.

        Each row needs 'file_name' and 'confirmation_number'; 'claim_number' is compared when present.
        """
        claim = (packet.payer_claim_number or "").upper()
        for row in rows:
            same_claim = not claim or not row.get("claim_number") or row["claim_number"].upper() == claim
            if row.get("file_name") == file_name and same_claim:
                shown = " ".join(v for k, v in row.items() if v and not k.startswith("_"))
                return UploadConfirmation(packet_id=packet.packet_id, claim_number=packet.claim_number,
                                          confirmation_number=row.get("confirmation_number") or "", reconciled=True,
                                          provenance=self.provenance(f"submission history: {shown}", screenshot=True))
        return None

    def search(self, pattern: str | re.Pattern, text: str | None, *, group: int | str = 1,
               fatal: bool = True, what: str = "value") -> str | None:
        """The regex group in the text; missing -> PortalChanged (or None when not `fatal`)."""
        found = re.search(pattern, text or "")
        if found is None:
            if fatal:
                self.fail(PortalChanged, f"the page no longer shows the {what}")
            return None
        return found.group(group)

    def not_on_file(self, claim: ClaimQuery, reference: str | None, *, wording: str | None = None,
                    listed: int = 0, url: str | None = None) -> ClaimStatusFinding:
        """The answer for a claim the portal does not have, in one shape for every payer.

        `wording` is the portal's no-results text (mapped through the status map); `listed` the number
        of other claims the search showed when none was ours. The evidence is the portal's own words
        (`url`: where they were read, when not the tab's page).
        """
        if wording:
            raw, category = wording, self.map_status(wording)
        else:
            raw, category = f"{listed} claim(s) found; none with this patient account number", "D0"
        return ClaimStatusFinding(claim_number=claim.claim_number, raw_status=raw, status_category=category,
                                  reference_number=reference,
                                  provenance=self.provenance(" ".join(filter(None, [raw, reference])), url=url))

    def authorization(self, fields: dict[str, str | None], statuses: dict[str, str], *,
                      url: str | None = None) -> AuthorizationFinding:
        """An authorization from its field texts (read at `url` when fetched); status words mapped by `statuses`."""
        self.required(fields, "auth_number", "raw_status")
        status = statuses.get(fields["raw_status"].casefold())
        return self.build(AuthorizationFinding, **{**fields, "status": status},
                          provenance=self.provenance(fields["raw_status"], url=url))

    def letters(self, rows: Iterable[LetterRow], known_ids: set[str], *,
                since: date | None = None) -> list[CorrespondenceFinding | PortalProblem]:
        """Download each letter not known yet, once (bots.downloads: capped, checked, retried, stored by hash).

        A letter over the download cap is not stored: it becomes a `download_too_large` problem for the
        operator and the other letters go on (it is tried again next night, under the cap then in force).
        Letters whose link is a plain address are fetched `downloads_at_once` at a time (`fetch_letters`).
        """
        findings: list[CorrespondenceFinding | PortalProblem] = []
        seen = set(known_ids)
        last_click = 0.0
        linked: list[tuple[str, str | None, date | None, str, str, str]] = []  # fetched together, in list order

        def fetch_linked() -> None:
            for (letter_id, title, letter_date, date_text, href, name), stored in zip(
                    linked, self.fetch_letters([(href, name) for *_, href, name in linked]), strict=True):
                findings.append(self._letter_finding(letter_id, title, letter_date or date_text, stored, name,
                                                     url=href))
            linked.clear()

        for letter_id, title, date_text, click, *listed_name in rows:
            letter_date = parse_date(date_text)
            if not letter_id:
                self.fail(PortalChanged, "a letter row has no document id")
            if letter_id in seen or (since and letter_date and letter_date < since):
                continue
            seen.add(letter_id)
            name = next(filter(None, listed_name), "")
            if isinstance(click, str):
                linked.append((letter_id, title, letter_date, date_text, click, name))
                continue
            fetch_linked()  # a clicked letter needs its own list page in the tab: what was listed before goes first

            def spaced(click=click) -> None:
                nonlocal last_click
                time.sleep(max(0.0, last_click + self.download_spacing_s - time.monotonic()))
                last_click = time.monotonic()
                click()

            try:
                stored: StoredDownload | DownloadTooLarge = download_letter(self, spaced,
                                                                             after_failure=self.check_interruptions)
            except DownloadTooLarge as error:
                stored = error
            findings.append(self._letter_finding(letter_id, title, letter_date or date_text, stored, name, url=None))
        fetch_linked()
        return findings

    def fetch_letters(self, links: list[tuple[str, str]]) -> list[StoredDownload | DownloadTooLarge]:
        """Each (link, listed name) fetched and stored (`fetch_letter`); over the cap is handed back, not raised.

        With `downloads_at_once` > 1 (the runner sets it from the manifest's `downloads_per_session`) that many
        are fetched at once on copies of the logged-in session (bots.session_pages); a letter a copy could not
        fetch for any other reason is fetched again here, in the lane, where its error is the step's error.
        """
        from bots.session_pages import map_side_by_side  # it builds on the adapter, which builds on this kit

        def one(reader: Reading, link: tuple[str, str]) -> StoredDownload | DownloadTooLarge:
            try:
                return reader.fetch_letter(*link)
            except DownloadTooLarge as error:
                return error

        ready: dict = map_side_by_side(self, one, links, self.downloads_at_once) \
            if self.downloads_at_once > 1 and len(links) > 1 else {}
        return [found if isinstance(found := ready.get(n), StoredDownload | DownloadTooLarge) else one(self, link)
                for n, link in enumerate(links)]

    def _letter_finding(self, letter_id: str, title: str | None, dated: date | str | None,
                        stored: StoredDownload | DownloadTooLarge, listed_name: str,
                        url: str | None) -> CorrespondenceFinding | PortalProblem:
        if isinstance(stored, DownloadTooLarge):
            return PortalProblem(error_type="DownloadTooLarge", provenance=self.provenance(),
                                 message=f"letter {letter_id} dated {dated}: {stored.message}"[:500])
        return CorrespondenceFinding(
            portal_document_id=letter_id, title=title, letter_date=dated if isinstance(dated, date) else None,
            suggested_file_name=listed_name or stored.suggested_filename, file_path=str(stored.path),
            sha256=stored.sha256, provenance=self.provenance(title, url=url))
