"""One way to download a letter: wait for it, check it, cap it, store it once under its hash, retry a cut one.

Every adapter calls `download_letter(adapter, click)` (or `fetch_pdf(page, click, ...)` directly):

- the click must start a browser download; a click that starts none, a download the browser reports
  as failed (`download.failure()`), a 5xx answer or a body cut short is tried again a few times,
  spaced out, then raises `PortalUnavailable` (transient);
- at most `max_bytes` are read: a bigger file raises `DownloadTooLarge` and nothing is stored;
- the bytes must start with the PDF magic `%PDF-` (else `PortalChanged`) and end with `%%EOF`
  (else the body was cut short: tried again);
- the file is stored as `<target_dir>/<sha256>.pdf` through a temporary file in the same folder and an
  atomic rename, so a crash never leaves a half file under the final name;
- the browser's own copy is deleted (`download.delete()`) whatever happens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import Download, Page
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Response as PlaywrightResponse

from bots.errors import MaintenanceWindow, PortalChanged, PortalError, PortalUnavailable
from bots.urls import safe_url

if TYPE_CHECKING:
    from bots.adapter import PortalAdapter, PortalSession

log = logging.getLogger("payerbot.downloads")

PDF_MAGIC = b"%PDF-"
PDF_END = b"%%EOF"
DEFAULT_ATTEMPTS = 3
FETCHED_ATTEMPTS = 5  # a fetched attempt is one request (no browser download to wait for and delete)
DEFAULT_START_TIMEOUT_S = 30.0
DEFAULT_SPACING_S = 0.5  # first pause between attempts; doubles each time, at most MAX_SPACING_S
MAX_SPACING_S = 4.0


class DownloadTooLarge(PortalError):
    """A download is bigger than the configured cap: nothing was stored (not retried)."""

    task_kind = "download_too_large"


class _Retry(Exception):
    """One attempt failed in a way worth trying again (the reason is the message)."""


@dataclass(frozen=True)
class StoredDownload:
    """A letter stored once, under its content hash."""

    path: Path
    sha256: str
    size: int
    suggested_filename: str


def store_once(data: bytes, target_dir: Path, suffix: str = ".pdf") -> tuple[Path, str]:
    """Write bytes as `<sha256><suffix>` via a temp file + rename (0600, folder 0700); (path, sha256)."""
    sha = hashlib.sha256(data).hexdigest()
    target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = target_dir / f"{sha}{suffix}"
    if final.exists() and final.stat().st_size == len(data):
        return final, sha
    handle, temp = tempfile.mkstemp(dir=target_dir, prefix=".part-", suffix=suffix)  # created 0600
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, final)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return final, sha


def _read_capped(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `max_bytes` (never more is read)."""
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def _local_copy(download: Download, target_dir: Path) -> tuple[Path, bool]:
    """The downloaded file on this machine, and whether it is a copy the caller must remove.

    A browser behind a server (bots.browser_server) has no local path: `save_as` streams the file into
    a temporary name in the target folder (owner-only, like everything under PAYERBOT_HOME).
    """
    try:
        return Path(download.path()), False
    except PlaywrightError:
        target_dir.mkdir(parents=True, exist_ok=True)
        copy = target_dir / f".incoming-{os.getpid()}-{threading.get_ident()}.part"
        download.save_as(copy)
        return copy, True


def _store_pdf(data: bytes | None, target_dir: Path, max_bytes: int, where: str) -> tuple[Path, str, bytes]:
    """Check a downloaded body (None: over the cap) and store it once: (path, sha256, bytes)."""
    if data is None or len(data) > max_bytes:
        raise DownloadTooLarge(f"the download is larger than the {_human(max_bytes)} cap; nothing was "
                               "stored (raise [limits] max_download_mb in the rules if such letters are "
                               "expected)", url=where)
    if not data.startswith(PDF_MAGIC):
        raise PortalChanged("a letter download is not a PDF", url=where)
    if PDF_END not in data[-2048:]:
        raise _Retry(f"the PDF was cut short ({_human(len(data))} received)")
    return (*store_once(data, target_dir), data)


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def _wait_for_download(page: Page, click: Callable[[], None], timeout_s: float) -> Download:
    """Click and wait for the download; a 5xx page or no download at all is one failed attempt."""
    events: list[Download | PlaywrightResponse] = []

    def on_response(response: PlaywrightResponse) -> None:
        if response.status >= 500 and response.request.resource_type == "document":
            events.append(response)

    def on_download(download: Download) -> None:
        events.append(download)

    page.on("download", on_download)
    page.on("response", on_response)
    try:
        try:
            click()
        except PlaywrightError as exc:
            raise _Retry(f"the download link could not be clicked ({type(exc).__name__})") from exc
        deadline = time.monotonic() + timeout_s
        while not events and time.monotonic() < deadline:
            page.wait_for_timeout(50)
    finally:
        page.remove_listener("download", on_download)
        page.remove_listener("response", on_response)
    downloads = [event for event in events if isinstance(event, Download)]
    for extra in downloads[1:]:  # never keep a stray copy
        extra.delete()
    if downloads:
        return downloads[0]
    if events:
        raise _Retry(f"the portal answered HTTP {events[0].status}")
    raise _Retry(f"no download started within {timeout_s:g} s")


def fetch_pdf(page: Page, click: Callable[[], None], *, target_dir: Path, max_bytes: int,
              attempts: int = DEFAULT_ATTEMPTS, start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
              spacing_s: float = DEFAULT_SPACING_S, after_failure: Callable[[], None] | None = None,
              url: str | None = None) -> StoredDownload:
    """Download one PDF by `click()` and store it once under its hash (see the module docstring).

    `after_failure` runs after each failed attempt (an adapter raises SessionExpired or
    MaintenanceWindow there if the portal put up its login or maintenance page instead).
    """
    where = url or page.url
    reasons: list[str] = []
    for attempt in range(1, attempts + 1):
        page_before = page.url
        download: Download | None = None
        copy: Path | None = None
        try:
            download = _wait_for_download(page, click, start_timeout_s)
            failure = download.failure()  # waits until the browser has finished (or given up)
            if failure:
                raise _Retry(f"the browser reported the download as failed: {failure}")
            local, is_copy = _local_copy(download, target_dir)
            copy = local if is_copy else None
            path, sha, data = _store_pdf(_read_capped(local, max_bytes), target_dir, max_bytes, where)
            return StoredDownload(path=path, sha256=sha, size=len(data),
                                  suggested_filename=download.suggested_filename)
        except _Retry as why:
            reasons.append(str(why))
            log.info("download attempt %d/%d failed: %s", attempt, attempts, why)
        finally:
            if copy is not None:
                copy.unlink(missing_ok=True)
            if download is not None:
                try:
                    download.delete()
                except PlaywrightError:
                    log.warning("could not delete the browser's copy of a download")
        if after_failure is not None:
            after_failure()
        if page.url != page_before:  # an error page replaced the list: back to the list to try again
            try:
                page.go_back(wait_until="domcontentloaded")
            except PlaywrightError:
                pass
        if attempt < attempts:
            time.sleep(min(MAX_SPACING_S, spacing_s * 2 ** (attempt - 1)))
    raise PortalUnavailable(f"letter download failed {attempts} times: {'; '.join(reasons)}", url=where)


def fetch_pdf_at(get: Callable[[], tuple[int, bytes]], *, target_dir: Path, max_bytes: int, url: str,
                 file_name: str, refused: Callable[[bytes], None] | None = None,
                 attempts: int = FETCHED_ATTEMPTS, spacing_s: float = DEFAULT_SPACING_S) -> StoredDownload:
    """Download one PDF by fetching its link's address (`get()` -> status, body), checked as `fetch_pdf` checks.

    No browser download is involved, so none is spaced out or deleted. The request API holds the whole
    answer in memory; one over `max_bytes` is still never stored. An answer that is no PDF goes to
    `refused` first (an adapter raises SessionExpired or MaintenanceWindow there for its sign-in or
    maintenance page); a 4xx or 5xx one is then tried again, spaced out, as a click that started no
    download would be.
    """
    reasons: list[str] = []
    for attempt in range(1, attempts + 1):
        try:
            status, data = get()
            if not data.startswith(PDF_MAGIC):
                if refused is not None:
                    refused(data)
                if status >= 400:
                    raise _Retry(f"the portal answered HTTP {status}")
            path, sha, data = _store_pdf(data, target_dir, max_bytes, url)
            return StoredDownload(path=path, sha256=sha, size=len(data), suggested_filename=file_name)
        except MaintenanceWindow:
            raise
        except (_Retry, PortalUnavailable) as why:  # PortalUnavailable: the answer broke off (a cut body)
            reasons.append(why.message if isinstance(why, PortalUnavailable) else str(why))
            log.info("download attempt %d/%d failed: %s", attempt, attempts, reasons[-1])
        if attempt < attempts:
            time.sleep(min(MAX_SPACING_S, spacing_s * 2 ** (attempt - 1)))
    raise PortalUnavailable(f"letter download failed {attempts} times: {'; '.join(reasons)}", url=url)


def letter_dir(session: PortalSession) -> Path:
    """Where a session's letters are stored: its download folder, else `downloads` beside its evidence."""
    return session.download_dir or session.evidence.root.parent / "downloads"


def download_letter(adapter: PortalAdapter, click: Callable[[], None], *,
                    after_failure: Callable[[], None] | None = None, **options) -> StoredDownload:
    """`fetch_pdf` with the adapter's page, download folder and size cap (what every adapter calls)."""
    session = adapter.session
    return fetch_pdf(adapter.page, click, target_dir=letter_dir(session), max_bytes=session.max_download_bytes,
                     after_failure=after_failure, url=safe_url(adapter.page.url), **options)
