"""`payerbot edi import` and the night's inbox, with real X12 files (the reader's guide-style examples) on SQLite."""

from __future__ import annotations

import shutil
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from flows.edi_cli import edi_app
from flows.edi_intake import import_inbox
from tests.workqueue.conftest import add_claim
from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import AuditEvent, Claim, EdiFile, StatusFinding, Task, TaskHistory

FILES = Path(__file__).parents[1] / "edi" / "files"
runner = CliRunner()
BROKEN = ["missing_se.835", "truncated_no_iea.835", "truncated_mid_segment.835", "wrong_separator.835",
          "se_count.835", "clp04_not_number.835"]


@pytest.fixture
def inventory(home: Path) -> None:
    """Two of the example 835's three claims are the practice's (PCN1003 is not)."""
    home.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    init_db(engine)
    with session_scope(engine) as session:
        add_claim(session, "PCN1001", expected="170.00", date_of_service=date(2026, 2, 15))
        add_claim(session, "PCN1002", date_of_service=date(2026, 2, 15))


def _counts() -> dict[str, int]:
    with session_scope(get_engine()) as session:
        return {table.__name__: session.exec(select(func.count()).select_from(table)).one()
                for table in (Claim, StatusFinding, Task, TaskHistory, EdiFile)}


def test_an_835_imports_into_the_worklist_once(inventory) -> None:
    result = runner.invoke(edi_app, ["import", str(FILES / "x221a1_example.835")])
    assert result.exit_code == 0, result.output
    assert "x221a1_example.835: 835, 1 interchange(s), 3 claims (2 matched, 1 unmatched)" in result.stdout
    assert "2 portal visits saved" in result.stdout
    with session_scope(get_engine()) as session:
        paid, denied = session.get(Claim, "PCN1001"), session.get(Claim, "PCN1002")
        assert (paid.status_category, str(paid.paid), paid.check_number) == ("F1", "150.00", "CHK0012345")
        assert paid.finalized and denied.finalized and paid.last_checked_at is None
        tasks = {(t.kind, t.claim_number): t for t in session.exec(select(Task))}
        assert set(tasks) == {("denial_review", "PCN1002"), ("unmatched_remittance", None)}
        assert tasks[("denial_review", "PCN1002")].reference_number == "ICN2026000002"
        assert "PCN1003" in tasks[("unmatched_remittance", None)].title
        assert session.get(Claim, "PCN1003") is None
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "edi_import")).all()
        assert [a.object_id for a in audit] == ["x221a1_example.835"]
    before = _counts()
    again = runner.invoke(edi_app, ["import", str(FILES / "x221a1_example.835")])
    assert again.exit_code == 0 and "already imported" in again.stdout and "nothing changed" in again.stdout
    assert _counts() == before


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_file_names_file_segment_and_element_and_changes_nothing(inventory, name: str) -> None:
    before = _counts()
    result = runner.invoke(edi_app, ["import", str(FILES / "x221a1_example.835"), str(FILES / name)])
    assert result.exit_code == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"{name}: segment ") and "(nothing imported)" in message
    after = _counts()
    assert after["EdiFile"] == before["EdiFile"] + 1  # the good file of the same command went in, alone


def test_the_inbox_moves_files_to_processed_or_rejected_with_a_reason(inventory, home: Path) -> None:
    inbox = home / "edi" / "inbox"
    inbox.mkdir(parents=True)
    for name in ("x221a1_example.835", "missing_se.835"):
        shutil.copy(FILES / name, inbox / name)
    shutil.copy(FILES / "x221a1_example.835", inbox / "same-bytes-again.835")
    outcomes = import_inbox()
    assert sorted(o.path.parent.name for o in outcomes) == ["processed", "processed", "rejected"]
    assert list(inbox.iterdir()) == []
    reason = home / "edi" / "rejected" / "missing_se.835.reason.txt"
    assert reason.read_text().startswith("missing_se.835: segment ")
    assert stat.S_IMODE(reason.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "edi" / "processed" / "x221a1_example.835").stat().st_mode) == 0o600
    assert _counts()["EdiFile"] == 1  # the copy with the same bytes was a no-op
    assert import_inbox() == []


def test_a_remark_that_does_not_stop_the_import_is_shown_as_a_warning(inventory) -> None:
    result = runner.invoke(edi_app, ["import", str(FILES / "invalid_code_warning.835")])
    assert result.exit_code == 0, result.output
    assert ("1 warning(s), first: invalid_code_warning.835: segment 26 (CLP), element CLP06: invalid code value"
            in result.stdout)
    assert _counts()["EdiFile"] == 1
