"""Bad input, one table: each case's message names the line and column (or the file and the key), and
nothing is imported or changed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from bots.manifest import ManifestError
from bots.registry import RegistryError, load_adapter
from sandbox.world import PROFILES, World, rows_to_csv
from tests.workqueue.conftest import status
from workqueue.config import RulesError, load_rules
from workqueue.inventory import KNOWN_COLUMNS, InventoryError, import_claims, read_inventory
from workqueue.models import Claim, StatusFinding, Task
from workqueue.persist import persist_findings


def _rows() -> list[dict[str, str]]:
    return World(PROFILES["meridian"], seed=5, today=date(2026, 3, 1), claims=12).inventory_rows()


def _csv(rows: list[dict[str, str]]) -> bytes:
    return rows_to_csv(rows).encode()


def _lines(rows: list[dict[str, str]]) -> list[bytes]:
    return _csv(rows).splitlines(keepends=True)


def _inventory(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "claims-export.csv"
    path.write_bytes(data)
    return path


def _snapshot(session: Session) -> list[tuple]:
    claims = session.exec(select(Claim).order_by(Claim.claim_number)).all()
    tasks = session.exec(select(func.count()).select_from(Task)).one()
    findings = session.exec(select(func.count()).select_from(StatusFinding)).one()
    return [tuple(c.model_dump().items()) for c in claims] + [("tasks", tasks), ("findings", findings)]


@dataclass
class Case:
    """Prepare the bad input under tmp_path; `act` must raise `error` whose text holds every `expect` string."""

    act: Callable[[Session, Path], object]
    error: type[Exception]
    expect: Callable[[Path], list[str]]
    line: int | None = None  # for inventory cases: the line the problem is reported on


def _bad_encoding(session: Session, tmp_path: Path):
    rows = _rows()
    rows[2]["patient_first_name"] = "RENEE"
    lines = _lines(rows)
    lines[3] = lines[3].replace(b"RENEE", b"REN\xe9E")  # line 4: 'RENéE' in Latin-1, as old spreadsheets save it
    return import_claims(_inventory(tmp_path, b"".join(lines)), session)


def _encoding_column(tmp_path: Path) -> list[str]:
    line = (tmp_path / "claims-export.csv").read_bytes().splitlines()[3]
    column = len(line[:line.index(b"\xe9")].decode()) + 1
    return ["line 4", f"column {column} (patient_first_name)", "0xe9", "not UTF-8", "claims-export.csv"]


def _oversized_cell(session: Session, tmp_path: Path):
    rows = _rows()
    rows[4]["payer_name"] = "x" * 1001  # line 6; the default cap is 1000 characters
    return import_claims(_inventory(tmp_path, _csv(rows)), session)


def _too_many_columns(session: Session, tmp_path: Path):
    lines = _lines(_rows())
    lines[7] = lines[7].rstrip(b"\r\n") + b",surplus,cells\r\n"  # line 8
    return import_claims(_inventory(tmp_path, b"".join(lines)), session)


def _file_too_big(session: Session, tmp_path: Path):
    (tmp_path / "rules.toml").write_text("[limits]\nmax_inventory_mb = 0.001\n")
    rules = load_rules(tmp_path / "rules.toml")
    return import_claims(_inventory(tmp_path, _csv(_rows())), session, limits=rules.limits)


def _bad_date(session: Session, tmp_path: Path):
    rows = _rows()
    rows[9]["date_of_service"] = "31/02/2026"  # line 11
    return import_claims(_inventory(tmp_path, _csv(rows)), session)


def _with_rules(text: str) -> Callable[[Session, Path], object]:
    def act(session: Session, tmp_path: Path):
        path = tmp_path / "override-rules.toml"
        path.write_text(text)
        import os

        os.environ["PAYERBOT_RULES"] = str(path)
        try:
            # Both paths that read the rules refuse them before they change anything.
            with pytest.raises(RulesError):
                import_claims(_inventory(tmp_path, _csv(_rows()[:3])), session)
            return persist_findings(session, [status("NEW-1", "P1", "In process")])
        finally:
            del os.environ["PAYERBOT_RULES"]
    return act


def _bad_manifest(text: str) -> Callable[[Session, Path], object]:
    def act(session: Session, tmp_path: Path):
        folder = tmp_path / "acme"
        folder.mkdir()
        (folder / "manifest.toml").write_text(text)
        return load_adapter(folder)
    return act


MANIFEST = ('id = "acme"\nname = "Acme"\nportal_url = "https://acme.example/"\ncapabilities = ["login"]\n')

CASES = {
    "bad encoding": Case(_bad_encoding, InventoryError, _encoding_column, line=4),
    "oversized cell": Case(_oversized_cell, InventoryError, lambda _: [
        "line 6", "payer_name (column 3)", "1001 characters", "1000-character cap", "max_cell_chars"], line=6),
    "too many columns": Case(_too_many_columns, InventoryError, lambda _: [
        "line 8", f"{len(KNOWN_COLUMNS) + 2} cells", f"header's {len(KNOWN_COLUMNS)} columns",
        f"column {len(KNOWN_COLUMNS) + 1}"], line=8),
    "file too big": Case(_file_too_big, InventoryError, lambda _: [
        "claims-export.csv:", "MB, over the 0.001 MB cap", "[limits] max_inventory_mb", "rules.toml"], line=0),
    "bad date": Case(_bad_date, InventoryError, lambda _: [
        "line 11", "date_of_service", "not a date", "31/02/2026"], line=11),
    "negative rule window": Case(_with_rules("[deadlines]\nrecords_response_days = -3\n"), RulesError, lambda tmp: [
        f"{tmp / 'override-rules.toml'}: [deadlines] records_response_days = -3", "greater than or equal to 0"]),
    "negative appeal window": Case(_with_rules("[deadlines.appeal_window_days]\nmeridian = -30\n"), RulesError,
                                   lambda tmp: [f"{tmp / 'override-rules.toml'}: [deadlines.appeal_window_days] "
                                                "meridian = -30"]),
    "out-of-range ratio": Case(_with_rules("[deadlines]\nauth_units_used_ratio = 1.5\n"), RulesError, lambda tmp: [
        f"{tmp / 'override-rules.toml'}: [deadlines] auth_units_used_ratio = 1.5", "less than or equal to 1"]),
    "unknown rules key": Case(_with_rules("[night]\nrelogins = 5\n"), RulesError, lambda tmp: [
        f"{tmp / 'override-rules.toml'}: [night] relogins: unknown key"]),
    "broken rules TOML": Case(_with_rules("[limits\nmax_cell_chars = 5\n"), RulesError, lambda tmp: [
        f"{tmp / 'override-rules.toml'}: not valid TOML", "line 1"]),
    "bad manifest key": Case(_bad_manifest(MANIFEST + "max_sessions = 0\nbatch_size = 9000\n"), RegistryError,
                             lambda tmp: [str(tmp / "acme" / "manifest.toml"), "max_sessions = 0",
                                          "batch_size = 9000", "greater than or equal to 1"]),
    "unknown manifest key": Case(_bad_manifest(MANIFEST + "max_session = 2\n"), RegistryError,
                                 lambda tmp: [str(tmp / "acme" / "manifest.toml"), "max_session: unknown key"]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_refused_with_where_and_changes_nothing(session: Session, tmp_path: Path, case: Case):
    before_rows = _rows()
    for row in before_rows:
        row["claim_number"] = f"KEEP-{row['claim_number']}"
    (tmp_path / "first").mkdir()
    import_claims(_inventory(tmp_path / "first", _csv(before_rows)), session)
    session.commit()
    before = _snapshot(session)

    with pytest.raises(case.error) as caught:
        case.act(session, tmp_path)
    text = "\n".join(caught.value.messages()) if isinstance(caught.value, InventoryError) else str(caught.value)
    for expected in case.expect(tmp_path):
        assert expected in text, (expected, text)
    if case.line is not None:
        assert [line for line, _ in caught.value.errors] == [case.line]
    session.rollback()  # what the CLI's session scope does with the exception
    assert _snapshot(session) == before


def test_inventory_problems_are_all_listed_with_their_lines(session: Session, tmp_path: Path):
    rows = _rows()
    rows[1]["billed_amount"] = "lots"     # line 3
    rows[5]["units"] = "x" * 2000          # line 7
    lines = _lines(rows)
    lines[9] = lines[9].replace(b",", b",\xff", 1)  # line 10
    with pytest.raises(InventoryError) as caught:
        import_claims(_inventory(tmp_path, b"".join(lines)), session)
    assert [line for line, _ in caught.value.errors] == [3, 7, 10]
    assert "billed_amount" in caught.value.errors[0][1] and "units" in caught.value.errors[1][1]
    assert "0xff" in caught.value.errors[2][1] and "(payer_id)" in caught.value.errors[2][1]
    assert session.exec(select(func.count()).select_from(Claim)).one() == 0


def test_the_size_cap_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _inventory(tmp_path, _csv(_rows()))
    rules = load_rules(_write(tmp_path / "rules.toml", "[limits]\nmax_inventory_mb = 0.0001\n"))

    def no_reading(*_a, **_kw):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    with pytest.raises(InventoryError) as caught:
        read_inventory(path, rules.limits)
    assert caught.value.errors[0][0] == 0 and "max_inventory_mb" in caught.value.errors[0][1]


def test_a_big_inventory_streams(session: Session, tmp_path: Path):
    """A 10,000-claim file (1.5 MB) imports in seconds, in chunks; importing it again changes nothing."""
    template = _rows()[0]
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(template) + "\r\n")
        for i in range(10_000):
            row = {**template, "claim_number": f"BIG{i:06d}", "member_id": f"MRD{i:09d}"}
            handle.write(",".join(f'"{v}"' for v in row.values()) + "\r\n")
    started = time.monotonic()
    report = import_claims(path, session)
    assert (report.rows, report.new) == (10_000, 10_000)
    again = import_claims(path, session)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 10_000)
    assert time.monotonic() - started < 30


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_shipped_rules_and_manifests_are_valid(tmp_path: Path):
    from bots.manifest import Manifest
    from bots.registry import registry

    assert load_rules().limits.max_cell_chars >= 1
    assert registry()
    broken = _write(tmp_path / "manifest.toml", 'id = "acme\n')
    with pytest.raises(ManifestError, match=f"{broken}: not valid TOML"):
        Manifest.load(broken)
