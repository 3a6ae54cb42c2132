"""Meridian portal page objects: every selector and portal phrase the adapter relies on, in one place."""

from __future__ import annotations

import re
from datetime import date

from bots.findings import Adjustment, ServiceLine
from bots.parsing import optional_text, parse_codes, parse_date, parse_int, parse_money

# Adjustments print as "CO-45 $52.82; PR-3 $20.00"; payments as "Payment: EFT 1T123 issued 11/02/2026".
ADJUSTMENT = re.compile(r"([A-Z]{2})-([A-Z0-9]+)\s+(\(?-?\$[\d,]+\.\d{2}\)?)")
PAYMENT = re.compile(r"Payment:\s*(?:EFT\s+(?P<eft>\S+)|Check\s+#(?P<chk>\S+))"
                     r"\s+issued\s+(?P<date>\d\d/\d\d/\d{4})")
REFERENCE = re.compile(r"\bSR\d{8}\b")
NO_RESULTS = "No claims match your search criteria."


class Common:
    """Elements every Meridian page may show."""

    logout = "#logout-link"
    maintenance = "#maintenance"
    captcha = "#captcha"
    error_page = "#page-error"  # 403 token errors, 404s
    next_page = "a#next-page"


class LoginPage:
    """`/login`: User ID, Password and a hidden token; errors come back on the same page."""

    path = "login"
    form = "form#login-form"
    user = "#userid"
    password = "#password"
    submit = "#login-button"
    bad_credentials = "#login-error:has-text('incorrect')"
    locked = "#login-error:has-text('locked')"


class MfaPage:
    """`/mfa`: the authenticator code and the remember-this-device box."""

    form = "form#mfa-form"
    code = "#code"
    remember = "#remember_device"
    submit = "#mfa-button"
    refused = "#mfa-error"


class ClaimSearchPage:
    """`/claims/search`: by Claim Number (ICN) or by Member ID + dates of service (MM/DD/YYYY)."""

    path = "claims/search"
    icn = "#icn"
    icn_submit = "#icn-search-button"
    member_id = "#member_id"
    dos_from = "#dos_from"
    dos_to = "#dos_to"
    member_submit = "#member-search-button"
    error = "#search-error"


class ResultsPage:
    """`/claims/results`: the results table (10 rows a page) or the no-results notice, plus a reference."""

    table = "table#claim-results"
    rows = "table#claim-results tbody tr.result-row"
    detail_link = "td.col-icn a"
    account = "td.col-account"
    no_results = "#no-results"
    reference = "#inquiry-ref"


class ClaimDetailPage:
    """`/claims/{icn}`: header fields, service-line grid, totals, payment and crossover notes."""

    header = "table#claim-header"
    claim_number = "#claim-number"
    status = "#claim-status"
    account = "#patient-account"
    processed = "#processed-date"
    pend_reason = "#pend-reason"
    lines = "table#service-lines tbody tr.line-row"
    line_cells = 10  # line, DOS, procedure, units, billed, allowed, paid, pt resp, adjustments, remarks
    # finding field -> the totals cell it is read from
    totals = {"billed": "#total-billed", "allowed": "#total-allowed", "paid": "#total-paid",
              "patient_responsibility": "#total-patient-resp"}
    payment = "#payment-info"
    crossover = "#crossover-info"

    @staticmethod
    def service_line(cells: list[str]) -> ServiceLine | None:
        """One grid row (cells already cleaned) as a ServiceLine; None when it doesn't read as one."""
        if len(cells) != ClaimDetailPage.line_cells:
            return None
        adjustments = [Adjustment(group_code=g, carc=c, amount=parse_money(a))
                       for g, c, a in ADJUSTMENT.findall(cells[8])]
        if optional_text(cells[8]) and len(adjustments) != len(cells[8].split(";")):
            return None
        return ServiceLine(line_number=parse_int(cells[0]), service_date=parse_date(cells[1]),
                           procedure_code=cells[2], units=parse_int(cells[3]) or 1,
                           billed=parse_money(cells[4]), allowed=parse_money(cells[5]),
                           paid=parse_money(cells[6]),
                           patient_responsibility=parse_money(cells[7]), adjustments=adjustments,
                           carc_codes=list(dict.fromkeys(a.carc for a in adjustments)),
                           rarc_codes=parse_codes(cells[9]))

    @staticmethod
    def parse_payment(text: str) -> tuple[str | None, str | None, date | None]:
        """(method 'EFT'/'CHK', EFT trace or check number, issue date); Nones for "Payment: None"."""
        found = PAYMENT.search(text)
        if found is None:
            return None, None, None
        return ("EFT" if found["eft"] else "CHK"), found["eft"] or found["chk"], parse_date(found["date"])


class DocumentsPage:
    """`/documents?from=MM/DD/YYYY`: 20 letters a page, newest first."""

    path = "documents"
    table = "table#documents"
    rows = "table#documents tbody tr.doc-row"
    date = "td.col-date"
    title = "td.col-title"
    link = "a.download"
    empty = "#no-documents"
    error = "#documents-error"


class AttachmentPage:
    """`/attachments/new`: ICN, document type, one PDF; a confirmation number or an error comes back."""

    path = "attachments/new"
    form = "form#attach-form"
    icn = "#attach-icn"
    document_type = "#document_type"
    file = "#attachment"
    submit = "#attach-button"
    confirmation = "#attach-confirmation"
    confirmation_number = "#confirmation-number"
    duplicate = "#duplicate-warning"
    error = "#attach-error"
    # our packet document types -> the portal's select labels
    document_types = {"medical_records": "Medical Records", "itemized_bill": "Itemized Bill",
                      "operative_report": "Operative Report"}
    claim_unknown = "Claim number not found"

    @staticmethod
    def file_name(packet_id: str) -> str:
        """The name a packet's PDF is uploaded under: the portal's history shows it, so it is matched there."""
        return f"{packet_id}.pdf"


class HistoryPage:
    """`/attachments/history`: every attachment the account sent, newest first, 10 a page."""

    path = "attachments/history"
    table = "table#attachment-history"
    rows = "table#attachment-history tbody tr.history-row"
    empty = "#no-history"
    # name -> the cell it is read from
    cells = {"received": "td.col-received", "claim_number": "td.col-icn", "document_type": "td.col-type",
             "file_name": "td.col-file", "confirmation_number": "td.col-confirmation"}


class AuthorizationsPage:
    """`/authorizations` (10 a page) and `/authorizations/{auth}` detail."""

    path = "authorizations"
    table = "table#authorizations"
    links = "table#authorizations tbody tr.auth-row td.col-auth a"
    detail = "table#auth-detail"
    # name -> the detail cell it is read from
    fields = {"auth_number": "#auth-number", "member_id": "#auth-member-id", "service": "#auth-service",
              "codes": "#auth-codes", "provider": "#auth-provider", "facility": "#auth-facility",
              "status": "#auth-status", "units": "#auth-units", "requested": "#auth-requested",
              "decision": "#auth-decision", "start": "#auth-start", "end": "#auth-end"}
    @staticmethod
    def parse_units(text: str) -> tuple[int | None, int | None]:
        """(approved, used) from "Visits requested: 12  Visits approved: 12  Visits used: 4" (or Units)."""
        approved = re.search(r"(?:Visits|Units) approved:\s*(\d+)", text)
        used = re.search(r"(?:Visits|Units) used:\s*(\d+)", text)
        return (int(approved[1]) if approved else None), (int(used[1]) if used else None)

    # the portal's words -> our authorization status
    statuses = {"approved": "approved", "pending review": "pended", "denied": "denied",
                "partially approved": "partially_approved"}
