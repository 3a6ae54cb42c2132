"""What adapters return: plain pydantic findings with provenance; only `workqueue/` stores them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bots import parsing


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


def _text_parser(parse):
    """A before-validator that parses portal text (a str) and leaves typed values alone."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def _codes(value):
    if value is None:
        return []
    if isinstance(value, str):
        return parsing.parse_codes(value)
    return parsing.parse_codes(" ".join(value)) if isinstance(value, list | tuple) else value


# The portal's own text is accepted wherever a typed value is: adapters pass what the page shows.
Money = Annotated[Decimal | None, _text_parser(parsing.parse_money)]
Day = Annotated[date | None, _text_parser(parsing.parse_date)]
Count = Annotated[int | None, _text_parser(parsing.parse_int)]
Codes = Annotated[list[str], BeforeValidator(_codes)]
Text = Annotated[str | None, _text_parser(parsing.optional_text)]
#: payment methods as portals spell them -> the X12 BPR04 codes billers know
PAYMENT_METHODS = {"eft": "EFT", "electronic funds transfer": "EFT", "ach": "EFT", "chk": "CHK", "check": "CHK",
                   "paper check": "CHK", "virtual card": "VCP"}
PaymentMethod = Annotated[str | None, _text_parser(
    lambda text: (lambda t: PAYMENT_METHODS.get(t.casefold(), t) if t else None)(parsing.optional_text(text)))]


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (SQLModel rejects naive datetimes)."""
    return datetime.now(UTC)


class _Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Finding):
    """Where and when a finding was read: enough to find it again and to trust it."""

    payer_id: str
    account: str
    url: str = Field(description="page URL without query string (queries may carry patient data)")
    observed_at: AwareDatetime = Field(default_factory=utc_now)
    raw_text: str | None = Field(default=None, description="the portal's own words the finding rests on")
    screenshot_sha256: str | None = None
    screenshot_path: str | None = None


class Adjustment(_Finding):
    """One claim adjustment: group code (CO, PR, OA, PI, CR), CARC code, amount."""

    group_code: str
    carc: str
    amount: Money


class ServiceLine(_Finding):
    """One service line as the portal shows it."""

    line_number: Annotated[int, _text_parser(parsing.parse_int)]
    procedure_code: str
    service_date: Day = None
    units: Annotated[int, _text_parser(lambda text: parsing.parse_int(text) or 1)] = 1
    billed: Money = None
    allowed: Money = None
    paid: Money = None
    patient_responsibility: Money = None
    adjustments: list[Adjustment] = Field(default_factory=list)
    carc_codes: Codes = Field(default_factory=list, description="default: the adjustments' CARCs in order")
    rarc_codes: Codes = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _codes_from_adjustments(cls, data):
        if isinstance(data, dict) and "carc_codes" not in data and data.get("adjustments"):
            adjustments = [a if isinstance(a, Adjustment) else Adjustment.model_validate(a)
                           for a in data["adjustments"]]
            data = {**data, "adjustments": adjustments, "carc_codes": _unique(a.carc for a in adjustments)}
        return data


class ClaimQuery(_Finding):
    """What a bot needs to look a claim up: the practice's claim number and search keys."""

    claim_number: str = Field(description="the practice's claim number (patient control number, CLM01)")
    payer_id: str
    member_id: str
    date_of_service: date
    payer_claim_number: str | None = None
    billed_amount: Decimal | None = None
    # Everything else the inventory knows: some portals search by name and birth date, NPI or amount.
    patient_first_name: str | None = None
    patient_last_name: str | None = None
    patient_dob: date | None = None
    procedure_codes: list[str] = Field(default_factory=list)
    provider_npi: str | None = None
    submitted_date: date | None = None
    # The claim's client practice: only that practice's portal accounts look it up.
    practice: str = "default"


class ClaimStatusFinding(_Finding):
    """A claim's status on the portal, in the portal's words and as an X12 claim status category."""

    kind: Literal["claim_status"] = "claim_status"
    claim_number: str
    payer_claim_number: str | None = None
    raw_status: str
    status_category: str | None = Field(
        default=None, description="X12 277 STC01-1 category (A0-A8, P0-P5, F0-F4, R0-R17, E0-E4, D0); "
        "None when the wording is not in the payer's status map"
    )
    reference_number: str | None = Field(
        default=None, description="the payer's reference for this answer: ICN, or the search reference "
        "when the claim is not on file"
    )
    billed: Money = None
    allowed: Money = None
    paid: Money = None
    patient_responsibility: Money = None
    adjudication_date: Day = None
    payment_method: PaymentMethod = None
    check_number: Text = None
    payment_date: Day = None
    pending_reason: Text = None
    carc_codes: Codes = Field(default_factory=list, description="default: every line's CARCs, in order")
    rarc_codes: Codes = Field(default_factory=list, description="default: every line's RARCs, in order")
    adjustments: list[Adjustment] = Field(default_factory=list, description="default: every line's")
    service_lines: list[ServiceLine] = Field(default_factory=list)
    crossover_payer: Text = None
    provenance: Provenance

    @model_validator(mode="before")
    @classmethod
    def _totals_from_lines(cls, data):
        """Claim-level adjustments and codes default to the service lines' (what portals print per line)."""
        if not isinstance(data, dict) or not data.get("service_lines"):
            return data
        lines = [line if isinstance(line, ServiceLine) else ServiceLine.model_validate(line)
                 for line in data["service_lines"]]
        data = {**data, "service_lines": lines}
        data.setdefault("adjustments", [a for line in lines for a in line.adjustments])
        data.setdefault("carc_codes", _unique(a.carc for line in lines for a in line.adjustments))
        data.setdefault("rarc_codes", _unique(code for line in lines for code in line.rarc_codes))
        return data


class CorrespondenceFinding(_Finding):
    """A letter downloaded from the portal's document center; the file is on disk, named by hash."""

    kind: Literal["correspondence"] = "correspondence"
    portal_document_id: str
    title: str
    letter_date: date | None = None
    suggested_file_name: str = Field(description="the name the portal sent, untrusted (may contain ../)")
    file_path: str
    sha256: str
    content_type: str = "application/pdf"
    provenance: Provenance


class RecordsPacket(_Finding):
    """A biller's records packet queued for upload against one claim."""

    packet_id: str
    claim_number: str
    payer_claim_number: str | None = None
    document_type: str = "medical_records"
    reference_number: str | None = Field(default=None, description="document control number asked for")
    file_path: str
    sha256: str


class UploadConfirmation(_Finding):
    """The portal's receipt for an uploaded packet."""

    kind: Literal["upload_confirmation"] = "upload_confirmation"
    packet_id: str
    claim_number: str
    confirmation_number: str
    duplicate_flagged: bool = False
    reconciled: bool = Field(default=False, description="found in the portal's submission history, not just sent")
    provenance: Provenance


class AuthorizationFinding(_Finding):
    """A prior authorization as the portal shows it."""

    kind: Literal["authorization"] = "authorization"
    auth_number: str
    member_id: str
    service: str
    procedure_codes: Codes = Field(default_factory=list)
    provider: Text = None
    facility: Text = None
    raw_status: str
    status: Literal["approved", "pended", "denied", "partially_approved"] | None = None
    approved_units: Count = None
    used_units: Count = None
    start_date: Day = None
    end_date: Day = None
    requested_date: Day = None
    decision_date: Day = None
    provenance: Provenance


class PortalProblem(_Finding):
    """A typed failure from a portal step, safe to store: no secrets, no patient data."""

    kind: Literal["portal_problem"] = "portal_problem"
    error_type: str
    message: str
    claim_number: str | None = None
    packet_id: str | None = None
    during_login: bool = Field(default=False, description="raised while logging in (blocks the account)")
    page_html_path: str | None = Field(default=None, description="the page's HTML, scrubbed of text and values")
    provenance: Provenance


Finding = (
    ClaimStatusFinding | CorrespondenceFinding | UploadConfirmation | AuthorizationFinding | PortalProblem
)
