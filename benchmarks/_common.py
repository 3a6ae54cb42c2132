"""Shared benchmark plumbing: timing, medians, a plain-text table and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bots.findings import Finding

#: where every benchmark writes its JSON (under the repo's git-ignored var/)
RESULTS_DIR = Path(__file__).resolve().parent.parent / "var" / "benchmarks"


def quiet_environment() -> None:
    """No telemetry from Prefect or anything else (the machine has no internet)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, wall clock."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def median(values: list[float]) -> float:
    """The median of the repetitions (robust against one slow outlier on a 2-core machine)."""
    return statistics.median(values)


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, rounded for reports."""
    return round(numerator / denominator, 2) if denominator else float("inf")


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """A small fixed-width table on stdout."""
    cells = [header] + [[_fmt(value) for value in row] for row in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(str(value).rjust(width) if i else str(value).ljust(width)
                        for i, (value, width) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:.1f}"
    return str(value)


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write `var/benchmarks/<name>.json` with the machine facts alongside the numbers."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **results,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nresults written to {path}")
    return path


class MemorySink:
    """Findings kept in memory: the runner's network work and nothing else."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def persist(self, step: str, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    def mark_uploading(self, packet_ids: list[str]) -> None:
        pass

    def mark_unconfirmed(self, packet_ids: list[str]) -> None:
        pass

    def record_login(self, payer_id: str, account: str) -> None:
        pass
