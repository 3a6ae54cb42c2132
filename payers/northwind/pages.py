"""Northwind Mutual page objects: the SPA's hash routes and data-testid selectors, in one place."""

from __future__ import annotations

from bots.errors import AccountLocked, LoginFailed
from bots.kit import Interruptions, LoginForm, MfaForm


def tid(name: str, state: str = "") -> str:
    """A CSS selector for one `data-testid` (the redesign renames every one: a changed portal)."""
    return f'[data-testid="{name}"]{state}'


def tids(**fields: str) -> dict[str, str]:
    """field -> selector, from field=test id."""
    return {field: tid(name) for field, name in fields.items()}


SHOWN = ":visible"  # the SPA renders its error lines and the load-more button hidden until needed
INTERRUPTIONS = Interruptions(
    maintenance=tid("maintenance"), captcha=tid("login-captcha", SHOWN), signed_out=tid("login-form"),
    server_error=tid("server-error"),  # a 5xx or a failed request; the one test id every layout keeps
    error_page=tid("app-error"),  # the SPA itself failed to render a view
    dismiss={tid("session-timeout-modal"): tid("stay-signed-in")})  # the idle timer's modal, at any moment
LOGIN = LoginForm(
    path="#/login", home="", form=tid("login-form"), signed_in=tid("nav"), navigates=False,
    fields={tid("login-email"): "username", tid("login-password"): "password"}, submit=tid("login-submit"),
    refusals={tid("login-error", ":has-text('locked')"): AccountLocked, tid("login-error", SHOWN): LoginFailed},
    # "Enter the code we sent to b***@...": the code is e-mailed (manifest mfa = "email_code")
    mfa=MfaForm(form=tid("code-form"), code=tid("code-input"), submit=tid("code-submit"),
                refused=tid("code-error", SHOWN)))
LOAD_MORE = tid("load-more", SHOWN)  # hidden once the API says has_more is false
REFERENCE = r"\bSR\d+\b"  # "Reference ID: SR01234567"


class Claims:
    """`#/claims`: claim number, or member ID + date of service (ISO); cards five at a time; `#/claims/<icn>`."""

    path = "#/claims"
    form, submit, error = tid("claims-search-form"), tid("search-submit"), tid("search-error")
    number, member, dos = tid("search-claim-number"), tid("search-member-id"), tid("search-dos")
    results, none, none_text = tid("claim-results"), tid("no-results"), tid("no-results-text")
    reference, cards, account, open_card = (tid("search-reference"), tid("claim-card"), tid("claim-card-account"),
                                            tid("claim-card-open"))
    detail, missing = tid("claim-detail"), tid("claim-not-found")
    fields = {**tids(patient_account="claim-detail-account", payer_claim_number="claim-detail-icn",
                     raw_status="claim-status", billed="claim-billed", allowed="claim-allowed", paid="claim-paid",
                     patient_responsibility="claim-patient-resp", adjudication_date="claim-processed-date",
                     pending_reason="claim-pending-reason", payment_method="payment-method",
                     check_number="payment-reference", payment_date="payment-date"),
              "crossover_payer": (tid("claim-cob"), r"forwarded to\s+(.+)")}
    lines, line, remark = tid("service-lines"), tid("service-line"), tid("line-remark")  # remarks: chips
    columns = {"#": "line_number", "Code": "procedure_code", "Date": "service_date", "Units": "units",
               "Billed": "billed", "Allowed": "allowed", "Paid": "paid", "Member owes": "patient_responsibility",
               "Adjustments": "adjustments"}


class Api:
    """The JSON API the SPA renders from (cookie session): claim search, paged five at a time, and detail.

    `/api/claims?claim_number=ICN` or `?member_id=&dos=YYYY-MM-DD` with `offset`/`limit` -> reference_id,
    total, has_more, results (cards); `/api/claims/<icn>` -> the detail view's payload; `/api/config` says
    which layout the SPA renders (the adapter knows `layouts`; a redesign is a changed portal).
    """

    config, claims, claim, page_size, layouts = "api/config", "api/claims", "api/claims/", 5, (1,)
    search_keys = ("reference_id", "total", "has_more", "results")
    detail_keys = ("claim_number", "patient_account", "status", "billed", "allowed", "paid",
                   "patient_responsibility", "processed_date", "pending_reason", "payment", "cob_forwarded_to",
                   "lines")
    line_keys = ("line_number", "procedure_code", "date_of_service", "units", "billed", "allowed", "paid",
                 "patient_responsibility", "adjustments", "remarks")
    #: what the SPA shows for a search with no claims (its own words; the status map knows them)
    no_results = "We couldn't find any claims that match."


class Documents:
    """`#/documents?since=YYYY-MM-DD`: ten letters at a time behind "Load more"."""

    path, shown, empty, error = "#/documents", tid("documents-list"), tid("documents-empty"), tid("documents-error")
    table, rows, download = tid("documents-list", " table"), tid("document-row"), tid("document-download")
    columns = {"Document ID": "letter_id", "Title": "title", "Date": "date"}


class Auths:
    """`#/authorizations`: one table showing every field the detail view does."""

    path, table, empty = "#/authorizations", tid("auths-table"), tid("auths-empty")
    columns = {"Authorization": "auth_number", "Member": "member_id", "Service": "service",
               "Codes": "procedure_codes", "Provider": "provider", "Facility": "facility", "Status": "raw_status",
               "Approved": "approved_units", "Used": "used_units", "Valid from": "start_date",
               "Valid to": "end_date", "Requested": "requested_date", "Decided": "decision_date"}
    statuses = {"approved": "approved", "in review": "pended", "not approved": "denied",
                "approved with changes": "partially_approved"}
