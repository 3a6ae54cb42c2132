"""How the web pages write things: labels, US dates, local times, dollars, deadline flags, evidence rows."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workqueue.models import ACTIVE_STATUSES
from workqueue.web.files import servable

DUE_SOON_DAYS = 3
MAX_NAME = 80
# Evidence keys that name a file on disk, shown as links under these labels (never as raw paths).
EVIDENCE_FILES = {"screenshot": ("screenshot_path", "Screenshot"), "document": ("document_path", "Document (PDF)")}
_HIDDEN_EVIDENCE_KEYS = {"source", "url", "observed_at", "screenshot_path", "document_path", "screenshot_sha256",
                         "document_sha256", "page_html_path"}


def label(value: str | None) -> str:
    """'waiting_on_payer' -> 'waiting on payer'."""
    return "" if value is None else str(value).replace("_", " ")


def mdy(value: date | datetime | str | None) -> str:
    """A date as MM/DD/YYYY (how US billers read dates); '' for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value:%m/%d/%Y}"


def when(value: datetime | str | None) -> str:
    """A timestamp in the server's local time, e.g. '03/02/2026 08:00 EST'."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%m/%d/%Y %H:%M %Z").strip()


def money(value: Decimal | float | str | None) -> str:
    """'$1,234.56', or '' for no amount."""
    if value is None or value == "":
        return ""
    try:
        return f"${Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def due(deadline: date | None, status: str, today: date) -> tuple[str, str]:
    """(css class, words) for a deadline: overdue, due within DUE_SOON_DAYS, or nothing to flag."""
    if deadline is None or status not in ACTIVE_STATUSES:
        return "", ""
    days = (deadline - today).days
    if days < 0:
        return "overdue", f"overdue by {-days} day{'s' if days != -1 else ''}"
    if days == 0:
        return "due-soon", "due today"
    if days <= DUE_SOON_DAYS:
        return "due-soon", f"due in {days} day{'s' if days != 1 else ''}"
    return "", ""


def http_url(value: Any) -> str | None:
    """The URL if it is http(s), else None: evidence URLs come from portals and must not become javascript:."""
    if not isinstance(value, str):
        return None
    return value if urlsplit(value).scheme in ("http", "https") else None


def clean_name(text: str) -> str:
    """A name as typed: control characters dropped, spaces collapsed, at most MAX_NAME characters."""
    text = "".join(ch for ch in text if ch.isprintable())
    return re.sub(r"\s+", " ", text).strip()[:MAX_NAME]


def safe_file_name(name: str | None) -> str:
    """The uploaded file's own name without any folder part (browsers and tools may send one)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return base[:120] or "packet.pdf"


def evidence_rows(entries: list, home: Path, base: str) -> list[dict]:
    """The task's evidence for the page: portal link (http only), file links (servable only), other facts."""
    rows = []
    for index, entry in enumerate(entries):
        entry = entry if isinstance(entry, dict) else {"value": entry}
        files = [{"label": text, "href": f"{base}/{index}/{which}" if servable(entry.get(key), home) else None}
                 for which, (key, text) in EVIDENCE_FILES.items() if entry.get(key)]
        details = [(label(k), v) for k, v in entry.items()
                   if k not in _HIDDEN_EVIDENCE_KEYS and v not in (None, "")]
        rows.append({"source": entry.get("source") or "finding", "observed_at": entry.get("observed_at"),
                     "url": http_url(entry.get("url")), "raw_url": entry.get("url"), "files": files,
                     "details": details})
    return rows


FILTERS = {"label": label, "mdy": mdy, "when": when, "money": money}
