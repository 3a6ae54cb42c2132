"""Northwind Mutual page objects: the SPA's data-testid selectors and readers for its rendered views."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Locator

from bots.findings import Adjustment, ServiceLine
from bots.parsing import clean_text, optional_text, parse_date, parse_int, parse_money


def tid(name: str) -> str:
    """A CSS selector for one `data-testid` (CSS, so several can be joined for `expect_one_of`)."""
    return f'[data-testid="{name}"]'


# -- always possible: signed out by the server, or the maintenance banner ------------------------------
LOGIN_FORM = tid("login-form")
MAINTENANCE = tid("maintenance")
SERVER_ERROR = tid("server-error")  # the SPA's banner for a 5xx or a failed request (kept in every layout)
INTERRUPTIONS = {"login": LOGIN_FORM, "maintenance": MAINTENANCE, "server_error": SERVER_ERROR}

# The idle-timer modal the SPA throws over the page; a locator handler dismisses it.
TIMEOUT_MODAL = tid("session-timeout-modal")
STAY_SIGNED_IN = tid("stay-signed-in")

# -- sign in ----------------------------------------------------------------------------------------------
NAV = tid("nav")
APP_READY = {"signed_in": NAV, **INTERRUPTIONS}
LOGIN_EMAIL, LOGIN_PASSWORD, LOGIN_SUBMIT = tid("login-email"), tid("login-password"), tid("login-submit")
LOGIN_ERROR = tid("login-error") + ":visible"  # rendered hidden until the API refuses
LOGIN_CAPTCHA = tid("login-captcha")
AFTER_PASSWORD = {"code": tid("code-form"), "error": LOGIN_ERROR, "captcha": LOGIN_CAPTCHA,
                  "maintenance": MAINTENANCE, "server_error": SERVER_ERROR}
CODE_INPUT, CODE_SUBMIT, CODE_PROMPT = tid("code-input"), tid("code-submit"), tid("code-prompt")
AFTER_CODE = {"signed_in": NAV, "error": tid("code-error") + ":visible", **INTERRUPTIONS}

# -- claims -----------------------------------------------------------------------------------------------
SEARCH_FORM = {"form": tid("claims-search-form"), **INTERRUPTIONS}
SEARCH_MEMBER, SEARCH_DOS = tid("search-member-id"), tid("search-dos")
SEARCH_CLAIM_NUMBER, SEARCH_SUBMIT = tid("search-claim-number"), tid("search-submit")
SEARCH_OUTCOMES = {"results": tid("claim-results"), "none": tid("no-results"), "error": tid("search-error"),
                   **INTERRUPTIONS}
SEARCH_REFERENCE = tid("search-reference")
NO_RESULTS_TEXT = tid("no-results-text")
CARD, CARD_OPEN = tid("claim-card"), tid("claim-card-open")
CARD_ACCOUNT, CARD_ICN = tid("claim-card-account"), tid("claim-card-icn")
LOAD_MORE = tid("load-more") + ":visible"  # hidden once the API says has_more is false
DETAIL = {"detail": tid("claim-detail"), "missing": tid("claim-not-found"), **INTERRUPTIONS}
STATUS_CHIP, STATUS_DESCRIPTION = tid("claim-status"), tid("claim-status-description")
COB_PREFIX = "Coordination of benefits: forwarded to "
PAYMENT_METHODS = {"electronic funds transfer": "EFT", "paper check": "CHK"}

# -- documents and authorizations ----------------------------------------------------------------------
DOCUMENTS = {"list": tid("documents-list"), "empty": tid("documents-empty"), "error": tid("documents-error"),
             **INTERRUPTIONS}
DOCUMENT_ROW, DOCUMENT_DOWNLOAD = tid("document-row"), tid("document-download")
AUTHORIZATIONS = {"list": tid("auths-table"), "empty": tid("auths-empty"), **INTERRUPTIONS}
AUTH_ROW = tid("auth-row")
AUTH_STATUSES = {"approved": "approved", "in review": "pended", "not approved": "denied",
                 "approved with changes": "partially_approved"}


def cell(root: Locator, name: str) -> str | None:
    """The cleaned text of one test id inside `root`, or None when the element is absent."""
    found = root.locator(tid(name))
    return clean_text(found.first.inner_text()) if found.count() else None


def cells(root: Locator, names: list[str]) -> dict[str, str | None]:
    """Several test ids at once: name -> text (None when absent)."""
    return {name: cell(root, name) for name in names}


def reference_id(text: str | None) -> str | None:
    """'Reference ID: SR01234567' -> 'SR01234567'."""
    match = re.search(r"\bSR\d+\b", text or "")
    return match.group(0) if match else None


def display_date(text: str | None) -> date | None:
    """The SPA prints dates like 'Nov 2, 2026'; an em dash means none."""
    return parse_date(text)


DETAIL_FIELDS = ["claim-detail-icn", "claim-detail-account", "claim-billed", "claim-allowed", "claim-paid",
                 "claim-patient-resp", "claim-processed-date", "claim-pending-reason", "claim-cob",
                 "payment-method", "payment-reference", "payment-date"]


def service_lines(detail: Locator) -> list[ServiceLine]:
    """The service-line table of a claim detail, adjustments and remark codes included."""
    lines = []
    for row in detail.locator(tid("service-line")).all():
        text = cells(row, ["line-number", "line-code", "line-dos", "line-units", "line-billed",
                           "line-allowed", "line-paid", "line-patient-resp"])
        adjustments = [
            Adjustment(group_code=cell(adj, "adj-group") or "", carc=cell(adj, "adj-reason") or "",
                       amount=parse_money(cell(adj, "adj-amount")))
            for adj in row.locator(tid("line-adjustment")).all()
        ]
        carcs: list[str] = []
        for adjustment in adjustments:
            if adjustment.carc not in carcs:
                carcs.append(adjustment.carc)
        remarks = [clean_text(t) for t in row.locator(tid("line-remark")).all_inner_texts()]
        lines.append(ServiceLine(
            line_number=parse_int(text["line-number"]) or len(lines) + 1,
            procedure_code=text["line-code"] or "",
            service_date=display_date(text["line-dos"]),
            units=parse_int(text["line-units"]) or 1,
            billed=parse_money(text["line-billed"]),
            allowed=parse_money(text["line-allowed"]),
            paid=parse_money(text["line-paid"]),
            patient_responsibility=parse_money(text["line-patient-resp"]),
            adjustments=adjustments, carc_codes=carcs, rarc_codes=remarks,
        ))
    return lines


def crossover_payer(text: str | None) -> str | None:
    """'Coordination of benefits: forwarded to X' -> 'X'."""
    text = optional_text(text)
    if text and text.startswith(COB_PREFIX):
        return text[len(COB_PREFIX):].strip() or None
    return text
