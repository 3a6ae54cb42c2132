"""Fixtures for the work-queue tests: a SQLite database and data folder in tmp_path, finding builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from bots.findings import ClaimStatusFinding, Provenance
from workqueue.db import get_engine, init_db
from workqueue.models import Claim

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PAYERBOT_HOME in tmp_path, no rules override, no database URL from the environment."""
    path = tmp_path / "home"
    monkeypatch.setenv("PAYERBOT_HOME", str(path))
    monkeypatch.delenv("PAYERBOT_RULES", raising=False)
    monkeypatch.delenv("PAYERBOT_DATABASE_URL", raising=False)
    return path


@pytest.fixture
def session(home: Path) -> Iterator[Session]:
    """A session on a fresh SQLite file under the test's PAYERBOT_HOME."""
    home.mkdir(parents=True, exist_ok=True)
    engine = get_engine(f"sqlite:///{home / 'test.db'}")
    init_db(engine)
    with Session(engine, expire_on_commit=False) as s:
        yield s


def prov(payer: str = "meridian", when: datetime = NOW, **kw) -> Provenance:
    """Provenance of a finding read at `when`."""
    return Provenance(payer_id=payer, account="main", url=f"https://portal.example/{payer}/claims",
                      observed_at=when, screenshot_path=f"/evidence/{payer}.png", **kw)


def status(claim_number: str, category: str | None, raw: str = "Some status", *, payer: str = "meridian",
           when: datetime = NOW, **kw) -> ClaimStatusFinding:
    """A claim status finding."""
    kw.setdefault("payer_claim_number", f"ICN-{claim_number}")
    return ClaimStatusFinding(claim_number=claim_number, raw_status=raw, status_category=category,
                              provenance=prov(payer, when), **kw)


def add_claim(session: Session, claim_number: str = "C100", *, payer: str = "meridian",
              expected: str | None = "100.00", **kw) -> Claim:
    """An inventory claim."""
    kw.setdefault("member_id", "MRD123456789")
    kw.setdefault("date_of_service", date(2026, 1, 10))
    claim = Claim(claim_number=claim_number, payer_id=payer, expected_amount=Decimal(expected) if expected else None,
                  **kw)
    session.add(claim)
    session.flush()
    return claim
