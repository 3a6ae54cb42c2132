"""Derive each payer's quality level from the conformance run: which tests passed, plus its exemptions.

Hooked into tests/conformance/conftest.py. Per payer (the test's `payer_id`, or `har_payer` / `site_payer`
for the tests generated only for payers with a HAR or with site tests) it records which test functions were
generated and which passed, then prints `quality <payer>: <level> (...)` and writes the outcome to
`$PAYERBOT_HOME/checks/<payer>.json`.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.quality import QualityError, check_file, load_exemptions, proved_rules, quality_report, summary_line

__all__ = ["pytest_itemcollected", "pytest_runtest_logreport", "pytest_sessionfinish", "pytest_terminal_summary"]

PAYER_PARAMS = ("payer_id", "har_payer", "site_payer")

# Module state for one pytest run (conftest plugins live for the whole session; there is one session).
_TESTS: dict[str, tuple[str, str]] = {}  # node id -> (payer id, test function name)
_CALL_PASSED: set[str] = set()  # node ids whose call phase passed
_FAILED: defaultdict[str, set[str]] = defaultdict(set)  # payer -> node ids that failed in any phase
_REPORTS: list[dict] = []


def _payer_of(item: pytest.Item) -> str | None:
    """The payer a conformance item runs for, from its parametrisation; None for payer-independent tests."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return next((params[name] for name in PAYER_PARAMS if name in params), None)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Remember every generated (payer, test) item: one deselected, skipped or not reached proves nothing."""
    payer = _payer_of(item)
    if payer is not None:
        name = getattr(item, "originalname", item.name)
        _TESTS[item.nodeid] = (payer, name)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test passes only when its call passed; a failure in setup, call or teardown counts against it."""
    if report.nodeid not in _TESTS:
        return
    if report.failed:
        _FAILED[_TESTS[report.nodeid][0]].add(report.nodeid)
    elif report.when == "call" and report.passed:
        _CALL_PASSED.add(report.nodeid)


def _passed_functions(payer: str) -> set[str]:
    """Test functions all of whose items for the payer ran and passed (one failing HAR case fails it)."""
    items: defaultdict[str, set[str]] = defaultdict(set)
    for node, (item_payer, name) in _TESTS.items():
        if item_payer == payer:
            items[name].add(node)
    return {name for name, nodes in items.items() if nodes <= _CALL_PASSED and not nodes & _FAILED[payer]}


def _write_owner_only(path: Path, text: str) -> None:
    """Write a file only its owner can read, in a folder only its owner can open (atomic replace)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    partial = path.with_suffix(".json.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    os.replace(partial, path)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Derive and store each checked payer's level; an exempt rule the run proved fails the session."""
    from bots.registry import registry

    _REPORTS.clear()
    # Only payers something ran for: a run with `--payer X` says nothing about the others.
    ran = {payer for node, (payer, _name) in _TESTS.items() if node in _CALL_PASSED}
    checked = ran | {payer for payer, failed in _FAILED.items() if failed}
    chosen = session.config.getoption("--payer", default=None)
    if chosen:
        # `payer check X` runs the HAR replay for every recorded payer too; only X's outcome is X's check.
        checked &= set(chosen)
    checked = sorted(checked)
    for payer in checked:
        errors: list[str] = []
        try:
            exemptions = load_exemptions(registry()[payer].package_dir / "quality.toml")
        except QualityError as exc:
            exemptions, errors = {}, [str(exc)]
        adapter = registry()[payer]
        proved = proved_rules(_passed_functions(payer), adapter.manifest.capabilities)
        report = quality_report(payer, proved, exemptions)
        report["errors"] = errors + report["errors"]
        report["failed_tests"] = sorted(_FAILED[payer])
        report["checked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        # A run narrowed with -k (`payer check --only`) proves only part of the rules: shown, not recorded.
        report["partial"] = bool(session.config.getoption("keyword", default=""))
        if not report["partial"]:
            _write_owner_only(check_file(payer), json.dumps(report, indent=2) + "\n")
        _REPORTS.append(report)
    if any(report["errors"] for report in _REPORTS) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per checked payer: its derived level and what is still unproved."""
    if _REPORTS:
        terminalreporter.section("quality")
        for report in _REPORTS:
            terminalreporter.write_line(summary_line(report) + (" [partial run: not recorded]"
                                                                 if report.get("partial") else ""))
