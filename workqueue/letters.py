"""Read a payer letter: PDF text, what kind of letter it is, and the numbers and dates it gives.

The wording is data: `letters_default.toml` beside this module holds the shared phrases and patterns, and a
payer adds its own in `payers/<id>/letters.toml` (same format); see `load_letter_wording`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pypdf import PdfReader

#: letter types the task rules know; a letter none of them announces is "other" (a person reviews it)
LETTER_TYPES = ("records_request", "appeal_decision", "denial", "authorization_decision", "remittance")
CLAIM_LETTERS = ("records_request", "denial", "remittance", "appeal_decision")
#: the numbers a letter may give (the LetterFacts fields of the same names)
FIELD_NAMES = ("payer_claim_number", "patient_account", "document_control_number", "auth_number")
#: the dates a letter may give; a letter type's `deadline` names one of them
DATE_NAMES = ("due_date", "appeal_deadline")
WORDING_FILE = "letters.toml"
DEFAULT_FILE = Path(__file__).with_name("letters_default.toml")

_TOP_KEYS = ("date_formats", "types", "fields", "dates")
_TYPE_KEYS = ("phrases", "titles", "deadline", "replace")
_PATTERN_KEYS = ("patterns", "replace")
_PROBE = date(2026, 3, 29)


class LetterWordingError(ValueError):
    """A letters.toml is broken: not TOML, an unknown key, a bad phrase, or a regex that fails or has no group."""


@dataclass(frozen=True)
class LetterType:
    """How one letter type announces itself, and which of the letter's dates is its deadline."""

    name: str
    phrases: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    deadline: str | None = None


@dataclass(frozen=True, eq=False)
class LetterWording:
    """Everything needed to read letters of one payer: types, field and date patterns, date formats."""

    source: str
    types: tuple[LetterType, ...]
    fields: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    dates: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ("%m/%d/%Y",)

    def type_named(self, name: str) -> LetterType | None:
        """The letter type of this name, if declared."""
        return next((t for t in self.types if t.name == name), None)


@dataclass(frozen=True)
class LetterFacts:
    """What a letter says, as far as the rules need it."""

    doc_type: str
    payer_claim_number: str | None = None
    patient_account: str | None = None
    document_control_number: str | None = None
    auth_number: str | None = None
    due_date: date | None = None


# --------------------------------------------------------------------------------------------- loading


def _flat(text: str) -> str:
    return " ".join(text.split())


class _Parser:
    """Validates one wording file's data, naming the file and the key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> LetterWordingError:
        return LetterWordingError(f"{self.source}: {key}: {problem}" if key else f"{self.source}: {problem}")

    def table(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        for name in value:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key (known: {', '.join(allowed)})")
        return value

    def strings(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, not {type(value).__name__}")
        for n, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key}[{n}]", "must be a non-empty string")
        return value

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def regex(self, pattern: str, key: str) -> re.Pattern[str]:
        try:
            compiled = re.compile(pattern, flags=re.IGNORECASE)
        except re.error as exc:
            raise self.fail(key, f"regex {pattern!r} does not compile: {exc}") from None
        if compiled.groups != 1:
            raise self.fail(key, f"regex {pattern!r} must have exactly one group (the value), "
                                 f"it has {compiled.groups}")
        return compiled

    def date_format(self, fmt: str, key: str) -> str:
        try:
            back = datetime.strptime(_PROBE.strftime(fmt), fmt).date()
        except ValueError as exc:
            raise self.fail(key, f"date format {fmt!r} does not read back: {exc}") from None
        if back != _PROBE:
            raise self.fail(key, f"date format {fmt!r} does not give day, month and year")
        return fmt

    def patterns(self, value: Any, key: str) -> tuple[tuple[re.Pattern[str], ...], bool]:
        """A list of patterns (extends), or a table {patterns = [...], replace = true|false}."""
        replace = False
        if isinstance(value, dict):
            entry = self.table(value, key, _PATTERN_KEYS)
            if "patterns" not in entry:
                raise self.fail(key, "needs patterns = [...]")
            replace = self.flag(entry.get("replace", False), f"{key}.replace")
            value, key = entry["patterns"], f"{key}.patterns"
        items = self.strings(value, key)
        return tuple(self.regex(p, f"{key}[{n}]") for n, p in enumerate(items)), replace

    def wording(self, data: dict[str, Any], base: LetterWording | None) -> LetterWording:
        """This file's wording on top of `base` (None: the file is the whole wording)."""
        self.table(data, "", _TOP_KEYS)
        formats = tuple(self.date_format(f, f"date_formats[{n}]")
                        for n, f in enumerate(self.strings(data.get("date_formats", []), "date_formats")))
        types = {t.name: t for t in base.types} if base else {}
        for name, entry in self.table(data.get("types", {}), "types", LETTER_TYPES).items():
            key = f"types.{name}"
            entry = self.table(entry, key, _TYPE_KEYS)
            phrases = tuple(_flat(p).casefold() for p in self.strings(entry.get("phrases", []), f"{key}.phrases"))
            titles = tuple(_flat(p).casefold() for p in self.strings(entry.get("titles", []), f"{key}.titles"))
            deadline = entry.get("deadline")
            if deadline is not None and deadline not in DATE_NAMES:
                raise self.fail(f"{key}.deadline", f"unknown date {deadline!r} (known: {', '.join(DATE_NAMES)})")
            replace = self.flag(entry.get("replace", False), f"{key}.replace")
            old = types.get(name)
            if old is not None and not replace:
                phrases, titles = phrases + old.phrases, titles + old.titles
                deadline = deadline or old.deadline
            types[name] = LetterType(name, phrases, titles, deadline)
        fields = dict(base.fields) if base else {}
        dates = dict(base.dates) if base else {}
        for section, names, into in (("fields", FIELD_NAMES, fields), ("dates", DATE_NAMES, dates)):
            for name, value in self.table(data.get(section, {}), section, names).items():
                compiled, replace = self.patterns(value, f"{section}.{name}")
                into[name] = compiled if replace else compiled + into.get(name, ())
        ordered = tuple(types[n] for n in LETTER_TYPES if n in types)
        all_formats = formats + (base.date_formats if base else ())
        return LetterWording(source=self.source, types=ordered, fields=fields, dates=dates,
                             date_formats=all_formats or ("%m/%d/%Y",))


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LetterWordingError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise LetterWordingError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    except OSError as exc:
        raise LetterWordingError(f"{path}: cannot be read: {exc.strerror or exc}") from None


@lru_cache(maxsize=1)
def default_wording() -> LetterWording:
    """The shared wording of `letters_default.toml`: what every payer starts from."""
    return _Parser(str(DEFAULT_FILE)).wording(_read(DEFAULT_FILE), None)


@lru_cache(maxsize=256)
def _payer_wording(path: str, _mtime_ns: int, _size: int) -> LetterWording:
    file = Path(path)
    return _Parser(path).wording(_read(file), default_wording())


def load_letter_wording(folder: Path | str) -> LetterWording:
    """A payer folder's wording: its `letters.toml` on top of the defaults (the defaults if it has none).

    Cached per folder (and re-read when the file changes). A broken file raises LetterWordingError naming
    the file and the key; it is never silently replaced by the defaults.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LetterWordingError(f"{folder}: no such payer folder")
    path = folder / WORDING_FILE
    try:
        stat = path.stat()
    except FileNotFoundError:
        return default_wording()
    except OSError as exc:
        raise LetterWordingError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return _payer_wording(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def wording_for_payer(payer_id: str) -> LetterWording:
    """The letter wording of a registered payer, found through its folder (`package_dir`)."""
    from bots.registry import get_adapter  # the registry imports every payer's adapter: only when needed

    return load_letter_wording(get_adapter(payer_id).package_dir)


# --------------------------------------------------------------------------------------------- reading


def pdf_text(path: Path) -> str:
    """The text of every page ('' if the file is not a readable PDF: the letter then goes to a person)."""
    try:
        reader = PdfReader(str(path))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception:  # noqa: BLE001 - a damaged or encrypted PDF is a review task, not a crash
        return ""


def _earliest(lowered: str, candidates: list[tuple[str, str]]) -> str | None:
    """The type whose phrase starts earliest in `lowered`; at the same place the longer phrase wins."""
    best: tuple[int, int, str] | None = None
    for doc_type, phrase in candidates:
        at = lowered.find(phrase)
        if at >= 0 and (best is None or (at, -len(phrase)) < best[:2]):
            best = (at, -len(phrase), doc_type)
    return best[2] if best else None


def classify(text: str, title: str = "", wording: LetterWording | None = None) -> str:
    """records_request, denial, remittance, authorization_decision, appeal_decision or other.

    Declared titles are looked for in the title first; then phrases in the text, then in the title.
    """
    wording = wording or default_wording()
    lowered_title = _flat(title).casefold()
    phrases = [(t.name, p) for t in wording.types for p in t.phrases]
    titles = [(t.name, p) for t in wording.types for p in t.titles]
    for source, candidates in ((lowered_title, titles), (_flat(text).casefold(), phrases),
                               (lowered_title, phrases)):
        found = _earliest(source, candidates)
        if found:
            return found
    return "other"


def _date(value: str, formats: tuple[str, ...]) -> date | None:
    value = _flat(value)
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def read_letter(text: str, title: str = "", wording: LetterWording | None = None) -> LetterFacts:
    """Classify the letter and pull out its claim number, account, DCN, authorization and due date.

    `wording` is the payer's (see `wording_for_payer`); None reads with the shared defaults.
    """
    wording = wording or default_wording()
    flat = _flat(text)
    doc_type = classify(text, title, wording)
    found: dict[str, str | None] = {}
    for name in FIELD_NAMES:
        match = next((m for p in wording.fields.get(name, ()) if (m := p.search(flat)) and m.group(1)), None)
        found[name] = match.group(1).strip() if match else None
    due = None
    letter_type = wording.type_named(doc_type)
    if letter_type is not None and letter_type.deadline:
        for pattern in wording.dates.get(letter_type.deadline, ()):
            match = pattern.search(flat)
            due = _date(match.group(1), wording.date_formats) if match and match.group(1) else None
            if due is not None:
                break
    return LetterFacts(doc_type=doc_type, due_date=due, **found)
