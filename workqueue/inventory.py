"""Import the practice's claims inventory (CSV): validate every row first, then upsert all or nothing."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from sqlmodel import Session

from bots.findings import utc_now
from workqueue.models import Claim

REQUIRED_COLUMNS = ("claim_number", "payer_id", "member_id", "date_of_service")
KNOWN_COLUMNS = (
    "claim_number", "payer_id", "payer_name", "member_id", "patient_last_name", "patient_first_name",
    "patient_dob", "date_of_service", "submitted_date", "billed_amount", "expected_amount",
    "payer_claim_number", "procedure_codes", "units", "auth_number", "provider_npi",
)


class InventoryError(Exception):
    """The file was refused; `.errors` lists (line number, reason) with the header as line 1."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__(f"{len(errors)} bad line(s) in the claims inventory; nothing imported")


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _parse_date(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date (YYYY-MM-DD or MM/DD/YYYY): {value!r}")


def _parse_money(value: str) -> Decimal:
    text = value.replace("$", "").replace(",", "").strip()
    if not re.fullmatch(r"-?\d+(\.\d{1,2})?", text):
        raise ValueError(f"not an amount: {value!r}")
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


class InventoryRow(BaseModel):
    """One inventory row, checked: required fields present, dates, money, codes and units agree."""

    model_config = ConfigDict(str_strip_whitespace=True)

    claim_number: str
    payer_id: str
    payer_name: str | None = None
    member_id: str
    patient_last_name: str | None = None
    patient_first_name: str | None = None
    patient_dob: date | None = None
    date_of_service: date
    submitted_date: date | None = None
    billed_amount: Decimal | None = None
    expected_amount: Decimal | None = None
    payer_claim_number: str | None = None
    procedure_codes: str = ""
    units: str = ""
    auth_number: str | None = None
    provider_npi: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: dict) -> dict:
        # Blank cells are "not given"; a blank required field is then reported as missing.
        return {k: v for k, v in data.items() if v is not None and str(v).strip() != ""}

    @field_validator("patient_dob", "date_of_service", "submitted_date", mode="before")
    @classmethod
    def _dates(cls, value):
        return _parse_date(value.strip()) if isinstance(value, str) else value

    @field_validator("billed_amount", "expected_amount", mode="before")
    @classmethod
    def _money(cls, value):
        return _parse_money(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _codes_and_units(self) -> InventoryRow:
        codes = [c.strip() for c in self.procedure_codes.split(";") if c.strip()]
        units = [u.strip() for u in self.units.split(";") if u.strip()]
        if units and not all(u.isdigit() for u in units):
            raise ValueError(f"units must be whole numbers separated by ';': {self.units!r}")
        if units and len(units) != len(codes):
            raise ValueError(f"{len(units)} units for {len(codes)} procedure codes")
        return self


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "row"
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {'missing' if err['type'] == 'missing' else message}")
    return "; ".join(parts)


def read_inventory(path: Path) -> list[InventoryRow]:
    """Every row of the file, validated; raise InventoryError listing every bad line."""
    errors: list[tuple[int, str]] = []
    rows: list[InventoryRow] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise InventoryError([(1, "empty file: no header")])
        unknown = [h for h in header if h not in KNOWN_COLUMNS]
        missing = [h for h in REQUIRED_COLUMNS if h not in header]
        if unknown or missing:
            detail = []
            if unknown:
                detail.append(f"unknown column(s): {', '.join(unknown)}")
            if missing:
                detail.append(f"missing column(s): {', '.join(missing)}")
            raise InventoryError([(1, "; ".join(detail))])
        reader.fieldnames = header
        seen: dict[str, int] = {}
        for raw in reader:
            line = reader.line_num
            if None in raw:
                errors.append((line, "more cells than the header has columns"))
                continue
            if all(not (v or "").strip() for v in raw.values()):
                continue  # a blank line at the end of a spreadsheet export
            try:
                row = InventoryRow.model_validate(raw)
            except ValidationError as exc:
                errors.append((line, _reason(exc)))
                continue
            if row.claim_number in seen:
                errors.append((line, f"claim_number {row.claim_number} repeats line {seen[row.claim_number]}"))
                continue
            seen[row.claim_number] = line
            rows.append(row)
    if errors:
        raise InventoryError(errors)
    return rows


def import_claims(path: Path, session: Session) -> ImportReport:
    """Validate the whole file, then insert new claims and update known ones (status history is kept)."""
    rows = read_inventory(Path(path))
    report = ImportReport(rows=len(rows))
    now = utc_now()
    for row in rows:
        values = row.model_dump()
        claim = session.get(Claim, row.claim_number)
        if claim is None:
            session.add(Claim(**values, in_inventory=True, imported_at=now))
            report.new += 1
            continue
        if not values["payer_claim_number"]:
            # Exports often lack the payer's number; never forget the one a portal gave us.
            values["payer_claim_number"] = claim.payer_claim_number
        changed = {k: v for k, v in values.items() if getattr(claim, k) != v}
        if changed or not claim.in_inventory:
            for key, value in changed.items():
                setattr(claim, key, value)
            claim.in_inventory = True
            claim.imported_at = now
            session.add(claim)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report
