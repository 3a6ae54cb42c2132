"""How the server-rendered sandbox portals print money and dates, and read dates typed into forms."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal


def money(value: Decimal | None) -> str:
    """'$1,234.50', or '-' for an amount the payer has not decided yet."""
    return "-" if value is None else f"${value:,.2f}"


def mdy(value: date | None) -> str:
    """MM/DD/YYYY, or '-' for no date."""
    return "-" if value is None else f"{value:%m/%d/%Y}"


def parse_mdy(text: str) -> date | None:
    """A date typed as MM/DD/YYYY, or None when it isn't one."""
    try:
        return datetime.strptime(text.strip(), "%m/%d/%Y").date()
    except ValueError:
        return None
