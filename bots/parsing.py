"""Parse what portals print: money, dates, codes and optional fields, the same way for every adapter."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_EMPTY = {"", "-", "--", "n/a", "na", "none", "—", "pending", "not available"}
_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d %b %Y", "%m-%d-%Y")


def clean_text(value: str | None) -> str:
    """Collapse runs of white space (portals pad cells with newlines and nbsp)."""
    return re.sub(r"\s+", " ", (value or "").replace("\xa0", " ")).strip()


def optional_text(value: str | None) -> str | None:
    """Text, or None where the portal shows a placeholder such as '-' or 'N/A'."""
    text = clean_text(value)
    return None if text.lower() in _EMPTY else text


def parse_money(value: str | None) -> Decimal | None:
    """'$1,234.50' -> Decimal('1234.50'); '($12.00)' and '-$12.00' are negative; blanks are None."""
    text = optional_text(value)
    if text is None:
        return None
    negative = text.startswith("(") and text.endswith(")") or text.startswith("-")
    digits = re.sub(r"[^0-9.]", "", text)
    if not digits:
        return None
    try:
        amount = Decimal(digits).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    return -amount if negative else amount


def parse_date(value: str | None) -> date | None:
    """Parse the date formats portals print (MM/DD/YYYY, ISO, 'Mar 5, 2026', '05-Mar-2026')."""
    text = optional_text(value)
    if text is None:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r}")


def parse_int(value: str | None) -> int | None:
    """'12' -> 12, '1,200' -> 1200, blanks -> None."""
    text = optional_text(value)
    if text is None:
        return None
    digits = re.sub(r"[^0-9-]", "", text)
    return int(digits) if digits else None


def parse_codes(value: str | None) -> list[str]:
    """'CO-45, N130' or 'CARC 45; 97' -> ['45', 'N130'] / ['45', '97']: bare codes, order kept, no duplicates."""
    text = optional_text(value)
    if text is None:
        return []
    codes: list[str] = []
    for token in re.split(r"[,;/\s]+", text):
        token = re.sub(r"^(CO|PR|OA|PI|CR)-", "", token.strip().upper())
        if token in {"", "CARC", "RARC"}:
            continue
        if token not in codes:
            codes.append(token)
    return codes


# "CO-45 $52.82; PR-3 $20.00" or "CO-45 $1,037.45 PR-3 $20.00": group code, CARC, amount
_ADJUSTMENT = re.compile(r"\b(CO|PR|OA|PI|CR)-(\w+)\s+(\(?-?\$?[\d,]+\.\d{2}\)?)")
_GROUP_CODE = re.compile(r"\b[A-Z]{2}-\w+")


def parse_adjustments(value: str | None) -> list[dict[str, str]] | None:
    """Adjustments as portals print them, in order; None when some of them do not read as one."""
    text = clean_text(value)
    found = [{"group_code": g, "carc": carc, "amount": amount} for g, carc, amount in _ADJUSTMENT.findall(text)]
    return found if len(found) == len(_GROUP_CODE.findall(text)) else None
