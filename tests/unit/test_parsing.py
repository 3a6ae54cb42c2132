"""Money, dates and codes as portals print them."""

from datetime import date
from decimal import Decimal

import pytest

from bots.parsing import clean_text, optional_text, parse_codes, parse_date, parse_int, parse_money


@pytest.mark.parametrize(("text", "amount"), [
    ("$1,234.50", Decimal("1234.50")), ("($12.00)", Decimal("-12.00")), ("-$3.10", Decimal("-3.10")),
    ("0", Decimal("0.00")), ("  $ 92.18\xa0", Decimal("92.18")), ("-", None), ("", None), ("N/A", None),
])
def test_parse_money(text: str, amount: Decimal | None) -> None:
    assert parse_money(text) == amount


@pytest.mark.parametrize(("text", "day"), [
    ("11/02/2026", date(2026, 11, 2)), ("2026-11-02", date(2026, 11, 2)), ("Nov 2, 2026", date(2026, 11, 2)),
    ("November 2, 2026", date(2026, 11, 2)), ("02-Nov-2026", date(2026, 11, 2)), ("--", None),
])
def test_parse_date(text: str, day: date | None) -> None:
    assert parse_date(text) == day


def test_parse_date_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_date("soon")


def test_parse_codes_strips_group_prefix_and_keeps_order() -> None:
    assert parse_codes("CO-45, PR-3; N130 CO-45") == ["45", "3", "N130"]
    assert parse_codes("-") == []


def test_text_helpers() -> None:
    assert clean_text(" Paid \n  in\xa0full ") == "Paid in full"
    assert optional_text(" n/a ") is None
    assert parse_int("1,200 units") == 1200
