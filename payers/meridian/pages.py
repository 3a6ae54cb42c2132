"""Meridian page objects: every selector and portal phrase the adapter relies on, in one place."""

from __future__ import annotations

from bots.errors import AccountLocked, LoginFailed
from bots.kit import Interruptions, LoginForm, MfaForm

INTERRUPTIONS = Interruptions(maintenance="#maintenance", captcha="#captcha", signed_out="form#login-form",
                              error_page="#page-error")  # 403 token errors, 404s
LOGIN = LoginForm(
    path="login", home="home", form="form#login-form", fields={"#userid": "username", "#password": "password"},
    submit="#login-button", signed_in="#logout-link",
    refusals={"#login-error:has-text('locked')": AccountLocked, "#login-error:has-text('incorrect')": LoginFailed},
    mfa=MfaForm(form="form#mfa-form", code="#code", submit="#mfa-button", refused="#mfa-error",
                remember="#remember_device"))
NEXT = "a#next-page"  # every list pages ten (twenty) rows at a time
REFERENCE = r"\bSR\d{8}\b"
# What the results page says for a search with no claims: also the answer for a claim not on file.
NO_RESULTS = "No claims match your search criteria."


class Search:
    """`/claims/search`: by Claim Number (ICN) or by Member ID + dates of service (MM/DD/YYYY)."""

    path, form, error = "claims/search", "#member_id", "#search-error"
    icn, icn_submit = "#icn", "#icn-search-button"
    member_id, dos_from, dos_to, member_submit = "#member_id", "#dos_from", "#dos_to", "#member-search-button"
    results, rows, none, reference = "table#claim-results", "tr.result-row", "#no-results", "#inquiry-ref"
    account, link = "td.col-account", "td.col-icn a"
    # The same search as the pages post it (the parsed-HTML path): each form with its fields' names.
    icn_form, member_form = "form#icn-search", "form#member-search"
    columns = {"Patient Account #": "account"}  # plus '_href': the row's first link, the claim's ICN


class Claim:
    """`/claims/{icn}`: header fields, the service-line grid, totals, payment and crossover notes."""

    header, lines = "table#claim-header", "table#service-lines"
    fields = {"patient_account": "#patient-account", "payer_claim_number": "#claim-number",
              "raw_status": "#claim-status", "adjudication_date": "#processed-date", "pending_reason": "#pend-reason",
              "billed": "#total-billed", "allowed": "#total-allowed", "paid": "#total-paid",
              "patient_responsibility": "#total-patient-resp",
              # "Payment: EFT 1T123 issued 11/02/2026", "Payment: Check #4417 issued ...", "Payment: None"
              "payment_method": ("#payment-info", r"Payment:\s*(EFT|Check)"),
              "check_number": ("#payment-info", r"(?:EFT\s+|Check\s+#)(\S+)"),
              "payment_date": ("#payment-info", r"issued\s+(\S+)"),
              "crossover_payer": ("#crossover-info", r"forwarded to:\s*(.+)")}
    columns = {"Line #": "line_number", "DOS": "service_date", "Procedure": "procedure_code", "Units": "units",
               "Billed": "billed", "Allowed": "allowed", "Paid": "paid", "Patient Resp.": "patient_responsibility",
               "Adjustments": "adjustments", "Remark Codes": "rarc_codes"}


class Documents:
    """`/documents?from=MM/DD/YYYY`: 20 letters a page, newest first."""

    path, table, empty, error = "documents", "table#documents", "#no-documents", "#documents-error"
    rows, link, columns = "table#documents tbody tr.doc-row", "a.download", {"Date": "date", "Document": "title"}
    letter_id = r"/documents/([^/]+)/download"


class Attach:
    """`/attachments/new` (ICN, document type, one PDF) and `/attachments/history` (10 a page)."""

    path, form, icn, document_type, file, submit = ("attachments/new", "form#attach-form", "#attach-icn",
                                                   "#document_type", "#attachment", "#attach-button")
    done, error, claim_unknown = "#attach-confirmation", "#attach-error", "#attach-error:has-text('not found')"
    confirmation = {"number": "#confirmation-number", "shown": done, "duplicate": "#duplicate-warning"}
    # our packet document types -> the portal's select labels
    document_types = {"medical_records": "Medical Records", "itemized_bill": "Itemized Bill",
                      "operative_report": "Operative Report"}
    history, history_table, history_empty = "attachments/history", "table#attachment-history", "#no-history"
    history_columns = {"Received": "received", "Claim Number": "claim_number", "File Name": "file_name",
                       "Confirmation #": "confirmation_number"}


class Auths:
    """`/authorizations` (10 a page) and `/authorizations/{auth}` detail."""

    path, table, detail = "authorizations", "table#authorizations", "table#auth-detail"
    fields = {"auth_number": "#auth-number", "member_id": "#auth-member-id", "service": "#auth-service",
              "procedure_codes": "#auth-codes", "provider": "#auth-provider", "facility": "#auth-facility",
              "raw_status": "#auth-status", "requested_date": "#auth-requested", "decision_date": "#auth-decision",
              "start_date": "#auth-start", "end_date": "#auth-end",
              # "Visits requested: 12  Visits approved: 12  Visits used: 4" (or Units)
              "approved_units": ("#auth-units", r"(?:Visits|Units) approved:\s*(\d+)"),
              "used_units": ("#auth-units", r"(?:Visits|Units) used:\s*(\d+)")}
    statuses = {"approved": "approved", "pending review": "pended", "denied": "denied",
                "partially approved": "partially_approved"}
