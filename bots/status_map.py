"""Map a portal's status wording to an X12 claim status category; unknown wording maps to None."""

from __future__ import annotations

import csv
import tomllib
from functools import cache
from pathlib import Path

from bots.parsing import clean_text

CATEGORY_CODES_CSV = Path(__file__).with_name("codes") / "claim_status_category.csv"


@cache
def claim_status_categories() -> dict[str, tuple[str, str]]:
    """X12 277 STC01-1 categories: code -> (group, meaning), from the project's copy of the code list."""
    with CATEGORY_CODES_CSV.open(newline="") as handle:
        return {row["code"]: (row["group"], row["meaning"]) for row in csv.DictReader(handle)}


def _key(wording: str) -> str:
    return clean_text(wording).casefold()


class StatusMap:
    """A payer's wording table: exact phrases (case and spacing ignored) to category codes."""

    def __init__(self, phrases: dict[str, str]):
        known = claim_status_categories()
        unknown = {code for code in phrases.values() if code not in known}
        if unknown:
            raise ValueError(f"status map uses unknown X12 categories: {sorted(unknown)}")
        self.phrases = {_key(text): code for text, code in phrases.items()}

    @classmethod
    def load(cls, path: Path) -> StatusMap:
        """Read `status_map.toml` ([statuses] table: "portal wording" = "X12 code")."""
        with path.open("rb") as handle:
            return cls(tomllib.load(handle).get("statuses", {}))

    def category(self, wording: str) -> str | None:
        """The category for this wording, or None when the adapter has never seen it."""
        return self.phrases.get(_key(wording))


def category_group(code: str | None) -> str | None:
    """'F2' -> 'finalized'; None for unknown codes."""
    if code is None:
        return None
    entry = claim_status_categories().get(code)
    return entry[0] if entry else None
