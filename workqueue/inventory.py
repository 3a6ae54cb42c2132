"""Import the practice's claims inventory (CSV): validate every row first, then upsert all or nothing.

The file is read as a stream (size-capped before reading); every problem names its line and column.
An optional `practice` column says which client practice each claim belongs to (blank: the default one);
a claim number stays unique in the installation, so one already held by another practice refuses the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from sqlalchemy import insert
from sqlmodel import Session, col, select

from bots.findings import utc_now
from workqueue.config import Limits, load_rules
from workqueue.models import Claim
from workqueue.practice_rows import move_claim_practice
from workqueue.practices import DEFAULT_PRACTICE, check_practice

REQUIRED_COLUMNS = ("claim_number", "payer_id", "member_id", "date_of_service")
KNOWN_COLUMNS = (
    "claim_number", "payer_id", "payer_name", "member_id", "patient_last_name", "patient_first_name",
    "patient_dob", "date_of_service", "submitted_date", "billed_amount", "expected_amount",
    "payer_claim_number", "procedure_codes", "units", "auth_number", "provider_npi",
)
# A billing company's inventories say whose claim each row is; a single practice's export has no such column.
PRACTICE_COLUMN = "practice"
ACCEPTED_COLUMNS = (*KNOWN_COLUMNS, PRACTICE_COLUMN)


class InventoryError(Exception):
    """The file was refused; `.errors` lists (line number, reason) with the header as line 1.

    Line 0 is the file as a whole (too big, unreadable). A reason names its column: the field name, and
    for an encoding problem the character position too. `messages()` gives each as one line of text that
    names the file.
    """

    def __init__(self, errors: list[tuple[int, str]], path: Path | None = None):
        self.errors = errors
        self.path = path
        where = f"{path.name}: " if path else ""
        super().__init__(f"{where}{len(errors)} bad line(s) in the claims inventory; nothing imported")

    def messages(self) -> list[str]:
        """'inventory.csv line 8: date_of_service: not a date ...', one per problem."""
        name = self.path.name if self.path else "the inventory"
        return [f"{name}: {reason}" if line == 0 else f"{name} line {line}: {reason}" for line, reason in self.errors]


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _parse_date(value: str) -> date:
    # Regular expressions and date() rather than strptime: ten times faster on a big inventory.
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
        if match := _US_DATE.fullmatch(value):
            month, day, year = (int(part) for part in match.groups())
            return date(year, month, day)
    except ValueError:
        pass
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
    practice: str = DEFAULT_PRACTICE

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: dict) -> dict:
        # Blank cells are "not given"; a blank required field is then reported as missing.
        return {k: v for k, v in data.items() if v is not None and str(v).strip() != ""}

    @field_validator("patient_dob", "date_of_service", "submitted_date", mode="before")
    @classmethod
    def _dates(cls, value):
        return _parse_date(value.strip()) if isinstance(value, str) else value

    @field_validator("practice", mode="before")
    @classmethod
    def _practice(cls, value):
        return check_practice(value) if isinstance(value, str) else value

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


def _reason(exc: ValidationError, header: list[str]) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "row"
        where = f"{field} (column {header.index(field) + 1})" if field in header else field
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {'missing' if err['type'] == 'missing' else message}")
    return "; ".join(parts)


_CHUNK_ROWS = 1000
_MAX_ERRORS = 200  # a file that is wrong everywhere: the first ones are enough to fix it


def _mb(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _check_size(path: Path, limits: Limits) -> None:
    size = path.stat().st_size
    cap = limits.max_inventory_mb * 1024 * 1024
    if size > cap:
        raise InventoryError([(0, f"the file is {_mb(size)}, over the {limits.max_inventory_mb:g} MB cap on inventory "
                                  "files; split it, or raise the cap in rules.toml: [limits] "
                                  "max_inventory_mb (in $PAYERBOT_RULES or $PAYERBOT_HOME/rules.toml)")], path)


class _Lines:
    """The file's lines decoded as UTF-8, one at a time; a byte that is not UTF-8 is noted by line and column."""

    def __init__(self, handle):
        self.handle = handle
        self.number = 0
        self.bad: dict[int, tuple[int, int]] = {}  # line -> (column, byte)

    def __iter__(self):
        for raw in self.handle:
            self.number += 1
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # the byte-order mark spreadsheets write
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                column = len(raw[:exc.start].decode("utf-8", errors="replace")) + 1
                self.bad[self.number] = (column, raw[exc.start])
                yield raw.decode("utf-8", errors="replace")


def _encoding_reason(column: int, byte: int, cells: list[str], header: list[str]) -> str:
    field = next((header[i] if i < len(header) else f"cell {i + 1}" for i, cell in enumerate(cells)
                  if "\ufffd" in cell), None)
    where = f"column {column}" + (f" ({field})" if field else "")
    return (f"{where}: byte 0x{byte:02x} is not UTF-8; save the file as UTF-8 (in a spreadsheet: "
            "'CSV UTF-8') and import it again")


def _rows(path: Path, limits: Limits, errors: list[tuple[int, str]],
          columns: dict[str, int] | None = None) -> Iterator[tuple[int, InventoryRow]]:
    """(line, row) for every good row, streaming; problems go to `errors` (the header raises at once).

    `columns`, if given, is filled with each header name's column number (1-based).
    """
    csv.field_size_limit(max(csv.field_size_limit(), int(limits.max_inventory_mb * 1024 * 1024) + 1))
    with path.open("rb") as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        try:
            first = next(reader, None)
        except csv.Error as exc:
            raise InventoryError([(1, f"the header cannot be read as CSV: {exc}")], path) from None
        if 1 in lines.bad:
            column, byte = lines.bad[1]
            raise InventoryError([(1, f"column {column} (header): byte 0x{byte:02x} is not UTF-8; save the file "
                                      "as UTF-8 and import it again")], path)
        header = [h.strip() for h in first or []]
        if not any(header):
            raise InventoryError([(1, "empty file: no header")], path)
        unknown = [h for h in header if h not in ACCEPTED_COLUMNS]
        missing = [h for h in REQUIRED_COLUMNS if h not in header]
        if unknown or missing:
            detail = []
            if unknown:
                detail.append(f"unknown column(s): {', '.join(unknown)}")
            if missing:
                detail.append(f"missing column(s): {', '.join(missing)}")
            raise InventoryError([(1, "; ".join(detail))], path)
        if columns is not None:
            columns.update({name: i + 1 for i, name in enumerate(header)})
        seen: dict[str, int] = {}
        last = reader.line_num
        while len(errors) < _MAX_ERRORS:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                errors.append((last + 1, f"not valid CSV: {exc}"))
                last = reader.line_num
                continue
            line, last = last + 1, reader.line_num
            bad = next((n for n in range(line, last + 1) if n in lines.bad), None)
            if bad is not None:
                column, byte = lines.bad[bad]
                errors.append((bad, _encoding_reason(column, byte, cells, header)))
                continue
            if len(cells) > len(header):
                errors.append((line, f"{len(cells)} cells, more than the header's {len(header)} columns "
                                     f"(column {len(header) + 1} has no name; a stray comma or quote?)"))
                continue
            if all(not cell.strip() for cell in cells):
                continue  # a blank line at the end of a spreadsheet export
            long = [(i, name) for i, (name, cell) in enumerate(zip(header, cells, strict=False))
                    if len(cell) > limits.max_cell_chars]
            if long:
                i, name = long[0]
                errors.append((line, f"{name} (column {i + 1}): {len(cells[i])} characters, over the "
                                     f"{limits.max_cell_chars}-character cap on a cell ([limits] max_cell_chars "
                                     "in rules.toml)"))
                continue
            try:
                row = InventoryRow.model_validate(dict(zip(header, cells, strict=False)))
            except ValidationError as exc:
                errors.append((line, _reason(exc, header)))
                continue
            if row.claim_number in seen:
                errors.append((line, f"claim_number {row.claim_number} repeats line {seen[row.claim_number]}"))
                continue
            seen[row.claim_number] = line
            yield line, row


def read_inventory(path: Path, limits: Limits | None = None) -> list[InventoryRow]:
    """Every row of the file, validated; raise InventoryError listing every bad line (nothing is kept)."""
    path = Path(path)
    limits = limits or load_rules().limits
    _check_size(path, limits)
    errors: list[tuple[int, str]] = []
    rows = [row for _line, row in _rows(path, limits, errors)]
    if errors:
        raise InventoryError(errors, path)
    return rows


def _validate(path: Path, limits: Limits, session: Session | None = None) -> int:
    """Check the whole file without keeping its rows; the number of rows, or InventoryError.

    With a session, claim numbers another practice already holds are errors too (looked up a chunk at a time).
    """
    _check_size(path, limits)
    errors: list[tuple[int, str]] = []
    columns: dict[str, int] = {}
    count = 0
    chunk: list[tuple[int, InventoryRow]] = []
    for line, row in _rows(path, limits, errors, columns):
        count += 1
        if session is not None:
            chunk.append((line, row))
            if len(chunk) >= _CHUNK_ROWS:
                errors += _other_practices(session, chunk, columns)
                chunk = []
    if session is not None:
        errors += _other_practices(session, chunk, columns)
    if errors:
        raise InventoryError(sorted(errors)[:_MAX_ERRORS], path)
    return count


def _other_practices(session: Session, chunk: list[tuple[int, InventoryRow]],
                     columns: dict[str, int]) -> list[tuple[int, str]]:
    """Rows whose claim number an inventory of another practice already imported."""
    if not chunk:
        return []
    numbers = [row.claim_number for _line, row in chunk]
    held = dict(session.exec(select(Claim.claim_number, Claim.practice).where(
        col(Claim.claim_number).in_(numbers), col(Claim.in_inventory).is_(True))).all())
    where = f"claim_number (column {columns.get('claim_number', 1)})"
    return [(line, f"{where}: claim {row.claim_number} already belongs to practice {held[row.claim_number]}, not "
                   f"{row.practice}; a claim number is unique in the installation (fix the practice column, or "
                   "the claim number)")
            for line, row in chunk if row.claim_number in held and held[row.claim_number] != row.practice]


def import_claims(path: Path, session: Session, *, limits: Limits | None = None) -> ImportReport:
    """Validate the whole file, then insert new claims and update known ones (status history is kept).

    Two streaming passes: the first checks every line and keeps nothing, so a bad file changes nothing;
    the second upserts in chunks of rows, looking known claims up a chunk at a time.
    """
    path = Path(path)
    limits = limits or load_rules().limits
    report = ImportReport(rows=_validate(path, limits, session))
    now = utc_now()
    errors: list[tuple[int, str]] = []
    chunk: list[InventoryRow] = []
    for _line, row in _rows(path, limits, errors):
        chunk.append(row)
        if len(chunk) >= _CHUNK_ROWS:
            _upsert(session, chunk, now, report)
            chunk = []
    if errors:  # the file changed between the two passes
        raise InventoryError(errors, path)
    _upsert(session, chunk, now, report)
    session.flush()
    return report


def _upsert(session: Session, rows: list[InventoryRow], now, report: ImportReport) -> None:
    if not rows:
        return
    numbers = [row.claim_number for row in rows]
    known = {c.claim_number: c for c in session.exec(select(Claim).where(col(Claim.claim_number).in_(numbers)))}
    fresh: list[dict] = []
    template = _new_claim_values()
    for row in rows:
        values = row.model_dump()
        claim = known.get(row.claim_number)
        if claim is None:
            fresh.append({**template, **values, "in_inventory": True, "imported_at": now})
            report.new += 1
            continue
        if not values["payer_claim_number"]:
            # Exports often lack the payer's number; never forget the one a portal gave us.
            values["payer_claim_number"] = claim.payer_claim_number
        changed = {k: v for k, v in values.items() if getattr(claim, k) != v}
        if "practice" in changed:  # only a claim known just from a portal answer moves (see _other_practices)
            move_claim_practice(session, claim.claim_number, changed["practice"])
        if changed or not claim.in_inventory:
            for key, value in changed.items():
                setattr(claim, key, value)
            claim.in_inventory = True
            claim.imported_at = now
            session.add(claim)
            report.updated += 1
        else:
            report.unchanged += 1
    if fresh:
        # One INSERT for the chunk's new claims (building ORM objects one by one was most of the time).
        session.execute(insert(Claim), fresh)
    session.flush()


def _new_claim_values() -> dict:
    """Every column of a new Claim with the model's defaults."""
    blank = Claim(claim_number="", payer_id="")
    return {column.name: getattr(blank, column.name) for column in Claim.__table__.columns}
