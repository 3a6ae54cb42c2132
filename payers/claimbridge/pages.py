"""ClaimBridge page objects: selectors per page and readers that turn its tables into plain dicts."""

from __future__ import annotations

import re

from playwright.sync_api import Locator

from bots.findings import Adjustment, ServiceLine
from bots.parsing import clean_text, optional_text, parse_codes, parse_date, parse_int, parse_money


class LoginPage:
    """The sign-in form (it may also show up inside the claim search iframe after an idle expiry)."""

    FORM = "form#cbLoginForm"
    USERNAME = "#username"
    PASSWORD = "#password"
    SUBMIT = "#loginBtn"
    ERROR = ".cb-alert-error"


class PayerPicker:
    """'Select a payer' after login: one button per payer the clearinghouse lists."""

    LIST = "#cbPayerList"
    ERROR = ".cb-alert-error"


class Workspace:
    """The payer workspace: three tabs, each a server-rendered panel."""

    ROOT = "#cbWorkspace"
    TABS = "nav#cbTabs"
    PANELS = {"Claim Status": "#panel-claims", "Authorizations": "#panel-authorizations",
              "Letters": "#panel-letters"}
    MAINTENANCE = "#cbMaintenance"
    AUTH_TABLE = "table#authTable"
    AUTH_NEXT = "a#authNext"
    AUTH_PAGE = "#authPageInfo"
    AUTH_DETAIL = "table#authDetail"
    LETTER_TABLE = "table#letterTable"
    LETTER_FROM = "#lettersFrom"
    LETTER_APPLY = "#applyFilter"
    LETTER_NEXT = "a#letterNext"
    LETTER_PAGE = "#letterPageInfo"


class SearchFrame:
    """The claim status inquiry, served inside an iframe: form, results, detail, interstitials."""

    IFRAME = "iframe#claimSearchFrame"
    FORM = "form#claimSearchForm"
    ICN = "#payerClaimId"
    SUBSCRIBER = "#subscriberId"
    SERVICE_DATE = "#serviceDate"
    SUBMIT = "#searchBtn"
    FORM_ERROR = ".cb-alert-error"
    TRANSACTION = "#txnId"
    RESULTS = "table#claimResults"
    NO_RESULTS = "#noResults"
    ROWS = "table#claimResults tbody tr"
    PAGE_INFO = "#pageInfo"
    NEXT = "a#nextPage"
    DETAIL = "#claimDetail"
    CAPTCHA = "#cbCaptcha"
    MAINTENANCE = "#cbMaintenance"
    LOGIN = LoginPage.FORM

    @staticmethod
    def page_info(number: int) -> str:
        """The pager once page `number` has loaded (the old page stays visible until then)."""
        return f"{SearchFrame.PAGE_INFO}:text-matches('^Page {number} of')"


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
  for (let i = 0; i + 1 < cells.length; i += 2) {
    pairs.push([cells[i].innerText.trim(), cells[i + 1].innerText]);
  }
  return pairs; }))"""
_DETAIL_JS = """(root) => {
  const text = id => { const el = root.querySelector('#' + id); return el ? el.innerText : null; };
  const lines = root.querySelector('#serviceLines');
  const heads = lines ? [...lines.querySelectorAll('thead th')].map(th => th.innerText.trim()) : [];
  return {
    icn: text('detailIcn'), pcn: text('detailPcn'), status: text('claimStatus'),
    processed: text('processedDate'), pend: text('pendReason'), crossover: text('crossover'),
    charges: text('totCharges'), allowed: text('totAllowed'), paid: text('totPaid'),
    patient: text('totPatientResp'), pay_type: text('paymentType'),
    pay_number: text('paymentNumber'), pay_date: text('paymentDate'),
    lines: lines ? [...lines.querySelectorAll('tbody tr')].map(tr => {
      const row = {}; [...tr.cells].forEach((td, i) => { row[heads[i]] = td.innerText; });
      return row; }) : null,
  };
}"""
_ADJUSTMENT = re.compile(r"\b(CO|PR|OA|PI|CR)-(\w+)\s+(\(?-?\$?[\d,]+\.\d{2}\)?)")
PAYMENT_TYPES = {"electronic funds transfer": "EFT", "paper check": "CHK"}


def read_table(table: Locator) -> list[dict[str, str]]:
    """Rows of a header-labelled table as dicts keyed by column header (plus '_href': the row's link)."""
    return [{key: clean_text(value) if key != "_href" else value for key, value in row.items()}
            for row in table.evaluate(_TABLE_JS)]


def read_labelled(table: Locator) -> dict[str, str]:
    """A two-column (label, value) detail table as a dict."""
    return {clean_text(k): clean_text(v) for k, v in table.evaluate(_LABELLED_JS).items()}


def read_claim_detail(root: Locator) -> dict:
    """The claim detail panel, raw text by field (None where an element is absent)."""
    return root.evaluate(_DETAIL_JS)


def parse_adjustments(text: str | None) -> list[Adjustment]:
    """'CO-45 $1,037.45 PR-3 $20.00' -> Adjustment(group, CARC, amount) in the order shown."""
    return [Adjustment(group_code=g, carc=carc, amount=parse_money(amount))
            for g, carc, amount in _ADJUSTMENT.findall(clean_text(text))]


def parse_service_line(row: dict[str, str]) -> ServiceLine:
    """One row of the Service Lines table."""
    adjustments = parse_adjustments(row["Adjustments"])
    return ServiceLine(
        line_number=parse_int(row["Line"]) or 0, procedure_code=clean_text(row["Procedure"]),
        service_date=parse_date(row["Service Date"]), units=parse_int(row["Units"]) or 1,
        billed=parse_money(row["Charges"]), allowed=parse_money(row["Allowed"]),
        paid=parse_money(row["Paid"]), patient_responsibility=parse_money(row["Patient Resp."]),
        adjustments=adjustments,
        carc_codes=unique(a.carc for a in adjustments), rarc_codes=parse_codes(row["Remark Codes"]),
    )


def crossover_payer(text: str | None) -> str | None:
    """'Crossover: Medigap Plan F (synthetic)' -> 'Medigap Plan F (synthetic)'."""
    value = optional_text(text)
    return optional_text(value.split(":", 1)[1]) if value and ":" in value else None


def unique(values) -> list[str]:
    """Values without repeats, first occurrence order kept."""
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
