"""Record conformance cases from a live portal: a scrubbed HAR plus the operator-confirmed findings it must give.

The login happens in a context of its own (`bots.session.account_session`); the recording context only
carries its saved storage state, so no password or one-time code is ever recorded. Every request the
recording context makes is tagged with the case that made it, so `payer check` replays each case on its
own, in order (bots.replay). Expectations are what the operator confirmed on screen, scrubbed like the
HAR; values that change on every visit are listed in `volatile` and compared by shape only.
"""

from __future__ import annotations

import base64
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from playwright.sync_api import Browser
from pydantic import BaseModel, SecretStr

from bots.adapter import OneTimeCodeProvider, PortalAdapter, PortalSession
from bots.credentials import Credential, CredentialStore
from bots.errors import PortalError
from bots.evidence import EvidenceStore
from bots.fetching import HarEntries, RequestApiFetch, header_value
from bots.files import private_dir, write_private
from bots.findings import ClaimQuery, CorrespondenceFinding, RecordsPacket
from bots.har import scrub_har
from bots.replay import CASE_FIELD
from bots.session import account_session, portal_base_url

CASES_FILE = "cases.toml"
HAR_FILE = "recording.har"
FORMAT = 1
#: the stand-in for the account's user name wherever a page or URL shows it
USER_STAND_IN = "provider.user"
#: the synthetic claim a not-found case searches for: no practice or portal uses these keys
NOT_FOUND_CLAIM = "ZZ99999"
NOT_FOUND_MEMBER = "ZZ000000000"
#: finding fields never stored as expectations: where the run kept files, and where it was read
NOT_EXPECTED = {"provenance", "kind", "file_path", "sha256"}
_STAND_IN_NAMES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet",
                   "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango")


class RecordingError(Exception):
    """The recording cannot be made safely (login not carried over, a portal error, a leak)."""


# -- values as stored in cases.toml ---------------------------------------------------------------------
def normalize(value: Any) -> Any:
    """A finding value in the form cases.toml stores it: Decimal as text, None-valued keys dropped."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def finding_fields(finding: BaseModel) -> dict:
    """What a finding says, as stored in an expectation (no provenance, no local file paths)."""
    return normalize({key: value for key, value in finding.model_dump().items() if key not in NOT_EXPECTED})


def shape(value: Any) -> Any:
    """The pattern of a volatile value: digits -> 9, letters -> A, dates by type; compared instead of the value."""
    if isinstance(value, str):
        return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", value))
    if isinstance(value, date):
        return "date"
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


def differences(expected: Any, actual: Any, volatile: Iterable[str] = (), path: str = "") -> list[str]:
    """Where `actual` (normalized) differs from `expected`; a key left out of `expected` means none.

    A field named in `volatile` (at any depth) must be present with the same shape, not the same value.
    """
    volatile = set(volatile)
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[str] = []
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            want, got = expected.get(key), actual.get(key)
            if key not in expected:
                if got not in (None, [], {}):
                    found.append(f"{where}: expected none, got {got!r}")
            elif key in volatile:
                if got is None or shape(want) != shape(got):
                    found.append(f"{where}: volatile value {got!r} does not have the shape of {want!r}")
            else:
                found += differences(want, got, volatile, where)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} item(s), got {len(actual)}"]
        return [d for i, (w, g) in enumerate(zip(expected, actual, strict=True))
                for d in differences(w, g, volatile, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


# -- a small TOML writer (the standard library reads TOML but does not write it) -----------------------
def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def toml_value(value: Any) -> str:
    """One TOML value: strings (JSON escapes are valid TOML), numbers, booleans, dates, arrays, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return "[\n" + "".join(f"  {toml_value(item)},\n" for item in value) + "]"
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _table(name: str, values: dict) -> list[str]:
    return [f"[{name}]"] + [f"{_key(k)} = {toml_value(v)}" for k, v in values.items()]


# -- cases ------------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One recorded case: a capability called with a query, and the finding(s) it must give."""

    id: str
    capability: str
    query: dict
    expect: dict = field(default_factory=dict)
    volatile: list[str] = field(default_factory=list)
    confirmed: bool = False

    def lines(self) -> list[str]:
        """The case as a `[[case]]` block of cases.toml."""
        head = ["[[case]]", f"id = {toml_value(self.id)}", f"capability = {toml_value(self.capability)}",
                f"confirmed = {toml_value(self.confirmed)}", f"volatile = {toml_value(self.volatile)}"]
        if not self.confirmed:
            head.insert(1, "# NOT CONFIRMED by the operator: check fails until the expectation is fixed by hand")
        return head + _table("case.query", self.query) + _table("case.expect", self.expect)


def query_fields(query: ClaimQuery) -> dict:
    """A claim query as stored in a case (the payer id comes from the folder)."""
    return normalize(query.model_dump(exclude={"payer_id"}))


def claim_query_of(case: dict, payer_id: str) -> ClaimQuery:
    """The ClaimQuery a stored claim case replays."""
    return ClaimQuery(payer_id=payer_id, **case["query"])


def load_cases(folder: Path) -> dict:
    """A payer folder's `cases/cases.toml` (raises FileNotFoundError when it has none)."""
    with (folder / "cases" / CASES_FILE).open("rb") as handle:
        return tomllib.load(handle)


def write_cases(cases_dir: Path, *, payer_id: str, base_url: str, cases: list[Case],
                extra: dict[str, dict] | None = None) -> Path:
    """Write cases.toml (owner-only) next to the HAR."""
    lines = [
        f"# Conformance cases for {payer_id}, recorded by `payerbot payer record` on {datetime.now(UTC):%Y-%m-%d}",
        "# and replayed offline by `payerbot payer check` (tests/conformance/test_recorded_cases.py).",
        "# `expect` is what the operator confirmed on the portal; a key left out means the portal shows none.",
        "# Fields in `volatile` change on every visit and are compared by shape. Re-recording rewrites this",
        "# file and the HAR together.",
        f"format = {FORMAT}", f"payer = {toml_value(payer_id)}", f"har = {toml_value(HAR_FILE)}",
        f"base_url = {toml_value(base_url)}",
    ]
    for name, values in (extra or {}).items():
        lines += ["", *_table(name, values)]
    for case in cases:
        lines += ["", *case.lines()]
    return write_private(cases_dir / CASES_FILE, ("\n".join(lines) + "\n").encode("utf-8"))


# -- scrubbing ----------------------------------------------------------------------------------------------
def _stand_in_id(real: str, n: int) -> str:
    """A member id of the same shape: its letters kept, its digits a counter (no real id is all zeros)."""
    digits = sum(ch.isdigit() for ch in real)
    prefix = re.match(r"\D*", real).group(0)
    return f"{prefix}{n:0{max(digits, 3)}d}" if digits else f"MEMBER{n:03d}"


@dataclass(frozen=True)
class StandIn:
    """The synthetic patient that replaces one real patient everywhere in a recording."""

    member_id: str
    first_name: str
    last_name: str
    dob: date


def stand_ins(queries: Iterable[ClaimQuery], member_ids: Iterable[str] = ()) -> dict[str, StandIn]:
    """Real member id -> its synthetic patient, for the recorded claims and other members the portal showed."""
    found: dict[str, StandIn] = {}
    for member_id in [q.member_id for q in queries if q.claim_number != NOT_FOUND_CLAIM] + list(member_ids):
        if member_id and member_id not in found:
            n = len(found) + 1
            found[member_id] = StandIn(_stand_in_id(member_id, n), _STAND_IN_NAMES[(n - 1) % len(_STAND_IN_NAMES)],
                                       "Testperson", date(1970, 1, 1 + (n - 1) % 28))
    return found


def patient_replacements(queries: Iterable[ClaimQuery], member_ids: Iterable[str] = ()) -> dict[str, str]:
    """Synthetic stand-ins for the recorded patients: member ids, names (as portals print them), birth dates."""
    queries = list(queries)
    fakes = stand_ins(queries, member_ids)
    replacements = {real: fake.member_id for real, fake in fakes.items()}
    for query in queries:
        fake = fakes.get(query.member_id)
        if fake is None:
            continue
        if query.patient_first_name and query.patient_last_name:
            first, last = query.patient_first_name, query.patient_last_name
            for real, stand_in in ((f"{last}, {first}", f"{fake.last_name}, {fake.first_name}"),
                                   (f"{first} {last}", f"{fake.first_name} {fake.last_name}")):
                replacements[real] = stand_in
                replacements[real.upper()] = stand_in.upper()
        if query.patient_dob:
            replacements[query.patient_dob.isoformat()] = fake.dob.isoformat()
            replacements[f"{query.patient_dob:%m/%d/%Y}"] = f"{fake.dob:%m/%d/%Y}"
    return replacements


def scrub_query(query: dict, fakes: dict[str, StandIn]) -> dict:
    """A stored claim query with its patient (id, names, birth date) replaced by the synthetic one."""
    fake = fakes.get(query.get("member_id", ""))
    if fake is None:
        return query
    names = {"member_id": fake.member_id, "patient_first_name": fake.first_name,
             "patient_last_name": fake.last_name, "patient_dob": fake.dob}
    return {key: names[key] if key in names else value for key, value in query.items()}


def swap(value: Any, replacements: dict[str, str]) -> Any:
    """Replace real values inside every string of a nested value (queries and expectations)."""
    pairs = sorted(replacements.items(), key=lambda pair: len(pair[0]), reverse=True)
    if isinstance(value, str):
        for real, fake in pairs:
            value = value.replace(real, fake)
        return value
    if isinstance(value, dict):
        return {key: swap(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [swap(item, replacements) for item in value]
    return value


def secrets_of(credential: Credential, state: dict) -> list[str]:
    """Values that must never be in a recording: password, TOTP seed, user name, every cookie value."""
    values = [credential.password.get_secret_value(), credential.username]
    if credential.totp_seed:
        values.append(credential.totp_seed.get_secret_value())
    return values + [cookie["value"] for cookie in state.get("cookies", []) if len(cookie["value"]) >= 6]


def leaks(text: str, values: Iterable[str]) -> int:
    """How many of the values still appear in the text (case-insensitively)."""
    folded = text.casefold()
    return sum(1 for value in values if value and value.casefold() in folded)


def synthetic_pdf(path: Path, text: str) -> Path:
    """A one-page PDF holding no patient data, the same bytes every time (the upload case's packet)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # fixed, so the packet's hash is stable
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, text)
    return write_private(path, bytes(pdf.output()))


def packet_for(case: dict, work: Path) -> RecordsPacket:
    """The records packet an upload or find-submission case sends (a synthetic PDF)."""
    import hashlib

    query = case["query"]
    pdf = synthetic_pdf(work / f"{query['packet_id']}.pdf", f"Synthetic test document {query['packet_id']}")
    return RecordsPacket(packet_id=query["packet_id"], claim_number=query["claim_number"],
                         payer_claim_number=query.get("payer_claim_number"), document_type=query["document_type"],
                         file_path=str(pdf), sha256=hashlib.sha256(pdf.read_bytes()).hexdigest())


# -- recording ----------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """What to record: claims (their inventory queries), and which other capabilities."""

    claims: list[ClaimQuery]
    letters: bool = True
    letters_since: date | None = None
    authorizations: bool = True
    upload_claim: str | None = None
    scrub: dict[str, str] = field(default_factory=dict)


@dataclass
class Recording:
    """The recorded cases (scrubbed) and where the HAR and cases file went."""

    cases: list[Case]
    har_path: Path
    cases_path: Path


def _run_cases(adapter: PortalAdapter, plan: Plan, marks: list[tuple[datetime, str]],
               work: Path) -> tuple[list[Case], list[str], list[CorrespondenceFinding]]:
    """Call every planned capability once per case in the recording context.

    Returns the cases, the member ids the portal showed (authorizations) and the letters downloaded.
    """
    caps = adapter.manifest.capabilities
    cases: list[Case] = []
    members: list[str] = []
    letters: list[CorrespondenceFinding] = []
    today = date.today()

    def run(case_id: str, capability: str, query: dict, call: Callable[[], Any], volatile: list[str]) -> Any:
        marks.append((datetime.now(UTC), case_id))
        try:
            # Every case starts by confirming the saved login, so its replay can do the same first.
            if not adapter.is_logged_in():
                raise RecordingError("the portal did not accept the saved login in the recording context")
            result = call()
        except PortalError as error:
            raise RecordingError(f"{case_id}: {type(error).__name__}: {error}") from error
        if isinstance(result, list):
            expect = {capability_items(capability): [finding_fields(item) for item in result]}
        else:
            expect = finding_fields(result) if result is not None else {"found": False}
        # Today's dates (a letter dated today, a search stamped today) differ on the next visit.
        volatile += sorted(_today_fields(expect, today) - set(volatile))
        cases.append(Case(case_id, capability, query, expect, volatile))
        return result

    found_icn: dict[str, str | None] = {}
    for query in plan.claims:
        by_member = query.model_copy(update={"payer_claim_number": None})
        finding = run(f"claim-{query.claim_number}-member", "check_claim_status", query_fields(by_member),
                      lambda q=by_member: adapter.check_claim_status(q), [])
        icn = query.payer_claim_number or finding.payer_claim_number
        found_icn[query.claim_number] = icn
        if icn:
            by_number = query.model_copy(update={"payer_claim_number": icn})
            run(f"claim-{query.claim_number}-number", "check_claim_status", query_fields(by_number),
                lambda q=by_number: adapter.check_claim_status(q), [])
    if plan.claims:
        missing = ClaimQuery(claim_number=NOT_FOUND_CLAIM, payer_id=adapter.manifest.id, member_id=NOT_FOUND_MEMBER,
                             date_of_service=plan.claims[0].date_of_service)
        # Portals print a fresh inquiry reference for every search that finds nothing.
        run("claim-not-found", "check_claim_status", query_fields(missing),
            lambda: adapter.check_claim_status(missing), ["reference_number"])
    if plan.letters and "download_correspondence" in caps:
        query = {"since": plan.letters_since} if plan.letters_since else {}
        letters = run("letters", "download_correspondence", query,
                      lambda: adapter.download_correspondence(plan.letters_since, set()), [])
    if plan.authorizations and "pull_authorizations" in caps:
        auths = run("authorizations", "pull_authorizations", {}, adapter.pull_authorizations, [])
        members += [auth.member_id for auth in auths]
    if plan.upload_claim and "upload_records" in caps:
        query = {"packet_id": f"recording-{plan.upload_claim}-{today:%Y%m%d}", "claim_number": plan.upload_claim,
                 "payer_claim_number": found_icn.get(plan.upload_claim), "document_type": "medical_records"}
        query = normalize(query)
        packet = packet_for({"query": query}, work)
        # The portal numbers every upload afresh.
        run(f"upload-{plan.upload_claim}", "upload_records", query, lambda: adapter.upload_records(packet),
            ["confirmation_number"])
        run(f"find-submission-{plan.upload_claim}", "find_submission", query,
            lambda: adapter.find_submission(packet), ["confirmation_number"])
    return cases, members, letters


def capability_items(capability: str) -> str:
    """The expectation key holding a list-valued capability's findings."""
    return {"download_correspondence": "letters", "pull_authorizations": "authorizations"}[capability]


def _today_fields(value: Any, today: date, name: str | None = None) -> set[str]:
    if isinstance(value, dict):
        return {found for key, item in value.items() for found in _today_fields(item, today, key)}
    if isinstance(value, list):
        return {found for item in value for found in _today_fields(item, today, name)}
    return {name} if name and value == today else set()


def _add_fetched(har: dict, fetched: list[dict]) -> None:
    """Merge the adapter's own requests into the browser's HAR, every entry in the order it started."""
    entries = har["log"]["entries"] + fetched
    entries.sort(key=lambda entry: datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00")))
    har["log"]["entries"] = entries


def _tag_entries(har: dict, marks: list[tuple[datetime, str]]) -> None:
    """Tag each HAR entry with the case that was running when its request started."""
    for entry in har["log"]["entries"]:
        started = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
        running = [case_id for at, case_id in marks if at <= started]
        entry[CASE_FIELD] = running[-1] if running else marks[0][1]


def _attachment_name(entry: dict) -> str | None:
    """The file name a response sent in Content-Disposition (the RFC 5987 `filename*` form first), or None."""
    disposition = header_value(entry["response"].get("headers", []), "content-disposition")
    extended = re.search(r"filename\*=(?:UTF-8|utf-8)''([^;]+)", disposition)
    if extended:
        return unquote(extended.group(1).strip())
    plain = re.search(r'filename="?([^";]+)"?', disposition)
    return plain.group(1) if plain else None


def _embed_downloads(har: dict, letters: list[CorrespondenceFinding]) -> None:
    """Put each downloaded letter's bytes into its HAR entry: Playwright records a download without its body.

    An entry is matched to a letter by the file name the portal sent (Content-Disposition), in order among
    letters of the same name; its body becomes the stored file's bytes (base64), scrubbed afterwards.
    """
    pending: dict[str, list[CorrespondenceFinding]] = {}
    for letter in letters:
        pending.setdefault(letter.suggested_file_name, []).append(letter)
    for entry in har["log"]["entries"]:
        content = entry["response"].setdefault("content", {})
        name = _attachment_name(entry)
        if content.get("text") or entry["response"]["status"] != 200 or not pending.get(name or ""):
            continue
        data = Path(pending[name].pop(0).file_path).read_bytes()
        content.update(text=base64.b64encode(data).decode("ascii"), encoding="base64", size=len(data))


def record_cases(browser: Browser, adapter_cls: type[PortalAdapter], credential: Credential, plan: Plan, *,
                 store: CredentialStore, codes: OneTimeCodeProvider | None, cases_dir: Path, work: Path,
                 confirm: Callable[[Case], bool], extra: dict[str, dict] | None = None) -> Recording:
    """Log in, record every planned case, scrub, have each expectation confirmed, write HAR and cases.toml.

    Nothing is written when the login does not carry over, a case fails, or a secret survives scrubbing.
    """
    base_url = portal_base_url(adapter_cls, credential)
    with account_session(browser, adapter_cls, credential, store=store, one_time_codes=codes,
                         evidence=EvidenceStore(work / "evidence"), download_dir=work / "login-downloads") as logged:
        state = logged.session.context.storage_state()
    raw = work / "raw.har"
    context = browser.new_context(storage_state=state, accept_downloads=True, record_har_path=str(raw),
                                  record_har_content="embed", service_workers="block")
    context.set_default_timeout(15_000)
    marks: list[tuple[datetime, str]] = []
    # The request API goes past the browser, so its requests are not in Playwright's HAR: kept here.
    fetched = HarEntries()
    try:
        # The recording adapter never holds the password: a login attempt here could only fail.
        stand_in = credential.model_copy(update={"password": SecretStr("never-sent-while-recording"),
                                                 "totp_seed": None})
        session = PortalSession(page=context.new_page(), context=context, credential=stand_in, base_url=base_url,
                                evidence=EvidenceStore(work / "evidence"), download_dir=work / "downloads",
                                fetch=RequestApiFetch(context, observers=[fetched]))
        cases, members, letters = _run_cases(adapter_cls(session), plan, marks, work)
    finally:
        context.close()  # writes the HAR
    har = json.loads(raw.read_text(encoding="utf-8"))
    _add_fetched(har, fetched.entries)
    _tag_entries(har, marks)
    _embed_downloads(har, letters)
    raw.write_text(json.dumps(har), encoding="utf-8")

    replacements = {**patient_replacements(plan.claims, members), credential.username: USER_STAND_IN, **plan.scrub}
    scrubbed = work / "scrubbed.har"
    scrub_har(raw, scrubbed, replacements)
    text = scrubbed.read_text(encoding="utf-8")
    found = leaks(text, secrets_of(credential, state) + list(replacements))
    if found:
        raise RecordingError(f"{found} secret or real value(s) survived scrubbing; nothing was written")
    fakes = stand_ins(plan.claims, members)
    for case in cases:
        case.query = swap(scrub_query(case.query, fakes), replacements)
        case.expect = swap(case.expect, replacements)
        case.confirmed = confirm(case)
    private_dir(cases_dir)
    har_path = write_private(cases_dir / HAR_FILE, text.encode("utf-8"))
    cases_path = write_cases(cases_dir, payer_id=adapter_cls.manifest.id, base_url=swap(base_url, replacements),
                             cases=cases, extra=extra)
    return Recording(cases, har_path, cases_path)
