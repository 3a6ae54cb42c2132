"""Read a payer letter: PDF text, what kind of letter it is, and the numbers and dates it gives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pypdf import PdfReader

# Letter type -> phrases that announce it. The type whose phrase appears FIRST in the text wins, so the
# heading decides: a denial notice says "you may appeal", an appeal decision may mention the denial.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "records_request": ("request for medical records", "medical records request", "records request",
                        "additional documentation request", "request for additional information"),
    "appeal_decision": ("appeal decision", "appeal determination", "reconsideration decision"),
    "denial": ("notice of claim denial", "claim denial", "denial notice", "notice of denial"),
    "authorization_decision": ("prior authorization determination", "authorization determination",
                               "authorization decision", "prior authorization decision"),
    "remittance": ("explanation of benefits", "remittance advice", "provider remittance"),
}
CLAIM_LETTERS = ("records_request", "denial", "remittance", "appeal_decision")

_DATE = r"(\d{1,2}/\d{1,2}/\d{4})"
_FIELDS = {
    "payer_claim_number": r"Claim Number:\s*([A-Za-z0-9-]+)",
    "patient_account": r"Patient Account:\s*([A-Za-z0-9-]+)",
    "document_control_number": r"Document Control Number:\s*([A-Za-z0-9-]+)",
    "auth_number": r"Authorization Number:\s*([A-Za-z0-9-]+)",
}
_DUE = {
    "records_request": rf"\bby\s+{_DATE}",
    "denial": rf"Appeals must be received by\s+{_DATE}",
}


@dataclass(frozen=True)
class LetterFacts:
    """What a letter says, as far as the rules need it."""

    doc_type: str
    payer_claim_number: str | None = None
    patient_account: str | None = None
    document_control_number: str | None = None
    auth_number: str | None = None
    due_date: date | None = None


def pdf_text(path: Path) -> str:
    """The text of every page ('' if the file is not a readable PDF: the letter then goes to a person)."""
    try:
        reader = PdfReader(str(path))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception:  # noqa: BLE001 - a damaged or encrypted PDF is a review task, not a crash
        return ""


def classify(text: str, title: str = "") -> str:
    """records_request, denial, remittance, authorization_decision, appeal_decision or other."""
    for source in (text, title):
        lowered = " ".join(source.split()).casefold()
        best: tuple[int, str] | None = None
        for doc_type, phrases in KEYWORDS.items():
            for phrase in phrases:
                at = lowered.find(phrase)
                if at >= 0 and (best is None or at < best[0]):
                    best = (at, doc_type)
        if best:
            return best[1]
    return "other"


def _date(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        return None


def read_letter(text: str, title: str = "") -> LetterFacts:
    """Classify the letter and pull out its claim number, account, DCN, authorization and due date."""
    flat = " ".join(text.split())
    doc_type = classify(text, title)
    found = {}
    for name, pattern in _FIELDS.items():
        match = re.search(pattern, flat, flags=re.IGNORECASE)
        found[name] = match.group(1) if match else None
    due = None
    if doc_type in _DUE:
        match = re.search(_DUE[doc_type], flat, flags=re.IGNORECASE)
        due = _date(match.group(1)) if match else None
    return LetterFacts(doc_type=doc_type, due_date=due, **found)
