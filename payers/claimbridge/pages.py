"""ClaimBridge page objects: sign-in, payer picker, workspace tabs and the claim search iframe, declared once."""

from __future__ import annotations

from bots.errors import AccountLocked, LoginFailed, PortalChanged
from bots.kit import Interruptions, LoginForm

ALERT = ".cb-alert-error"  # the one red banner every ClaimBridge page (and the frame) uses for a refusal
PICKER, WORKSPACE, TABS = "#cbPayerList", "#cbWorkspace", "nav#cbTabs"
# `/workspace`: one server-rendered panel per tab, switched by the tab links
PANELS = {"Claim Status": "#panel-claims", "Authorizations": "#panel-authorizations", "Letters": "#panel-letters"}
DEFAULT_PAYER = "Lakeside Health Cooperative"  # when the credential names no `payer_name`
# The sign-in form may also turn up inside the search iframe after an idle expiry; the kit looks there too.
INTERRUPTIONS = Interruptions(maintenance="#cbMaintenance", captcha="#cbCaptcha, #cbLoginCaptcha",
                              signed_out="form#cbLoginForm")
LOGIN = LoginForm(
    path="login", home="workspace", form="form#cbLoginForm", submit="#loginBtn",
    fields={"#username": "username", "#password": "password"},
    signed_in=f"{WORKSPACE}, {PICKER}",  # a sign-in lands on the picker; after_login picks the payer
    refusals={f"{ALERT}:has-text('disabled'), {ALERT}:has-text('locked')": AccountLocked,
              f"{ALERT}:has-text('login failed')": LoginFailed, ALERT: PortalChanged})



def pager(info: str):
    """A list's answer per page number: its pager reading "Page N of M" (the old page stays up until then)."""
    return lambda number: f"{info}:text-matches('^Page {number} of')"


class Search:
    """The claim status inquiry in `iframe#claimSearchFrame`: by ICN or by subscriber + service date."""

    iframe, form, submit = "iframe#claimSearchFrame", "form#claimSearchForm", "#searchBtn"
    icn, subscriber, service_date = "#payerClaimId", "#subscriberId", "#serviceDate"
    results, rows, none, next = "table#claimResults", "table#claimResults tbody tr", "#noResults", "a#nextPage"
    transaction = ("#txnId", r"Transaction ID:\s*(SR\d+)")  # printed by every search, found or not
    account = {"Patient Control #": "account"}  # our claim number: a subscriber search lists 180 days of claims
    page = pager("#pageInfo")


class Claim:
    """`/frames/claims/{icn}`: summary, service lines, totals and payment, all inside `#claimDetail`."""

    detail, lines = "#claimDetail", "#serviceLines"
    fields = {"patient_account": "#detailPcn", "payer_claim_number": "#detailIcn", "raw_status": "#claimStatus",
              "adjudication_date": "#processedDate", "pending_reason": "#pendReason", "billed": "#totCharges",
              "allowed": "#totAllowed", "paid": "#totPaid", "patient_responsibility": "#totPatientResp",
              # "Electronic Funds Transfer" / "Paper Check"; the trace or check number; the date
              "payment_method": "#paymentType", "check_number": "#paymentNumber", "payment_date": "#paymentDate",
              "crossover_payer": ("#crossover", r"Crossover:\s*(.+)")}
    columns = {"Line": "line_number", "Procedure": "procedure_code", "Service Date": "service_date",
               "Units": "units", "Charges": "billed", "Allowed": "allowed", "Paid": "paid",
               "Patient Resp.": "patient_responsibility", "Adjustments": "adjustments", "Remark Codes": "rarc_codes"}


class Letters:
    """The Letters tab: a date filter and 15 letters a page; the list shows each letter's file name."""

    since, apply, table, link = "#lettersFrom", "#applyFilter", "table#letterTable", "a.cb-download"
    filter = "form#letterFilter"  # a GET form: the tab and the date as the query
    next, page = "a#letterNext", pager("#letterPageInfo")
    columns = {"Document ID": "id", "Title": "title", "Letter Date": "date", "File Name": "file_name"}


class Auths:
    """The Authorizations tab (10 a page) and `/workspace/authorizations/{auth}`, a label/value table."""

    table, next, page, detail = "table#authTable", "a#authNext", pager("#authPageInfo"), "table#authDetail"
    labels = {"Authorization #": "auth_number", "Member ID": "member_id", "Service": "service",
              "Procedure Codes": "procedure_codes", "Servicing Provider": "provider", "Facility": "facility",
              "Status": "raw_status", "Units Approved": "approved_units", "Units Used": "used_units",
              "Effective From": "start_date", "Effective Through": "end_date", "Request Date": "requested_date",
              "Decision Date": "decision_date"}
    statuses = {"certified": "approved", "pended": "pended", "not certified": "denied",
                "modified": "partially_approved"}
