"""The routing and deadline rules, read from the shipped rules.toml merged with an operator's override file."""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workqueue.paths import payerbot_home

DEFAULT_RULES = Path(__file__).with_name("rules.toml")


class Owners(BaseModel):
    """Task routing: payer-specific table first, then by kind, then the default team."""

    model_config = ConfigDict(extra="forbid")
    default: str
    kinds: dict[str, str] = Field(default_factory=dict)
    payers: dict[str, dict[str, str]] = Field(default_factory=dict)


class Deadlines(BaseModel):
    """Day counts and thresholds used by the rules (documented in rules.toml)."""

    model_config = ConfigDict(extra="forbid")
    appeal_window_days: dict[str, int]
    records_response_days: int
    rejected_fix_days: int
    not_found_days: int
    correspondence_review_days: int
    operator_days: int
    underpayment_tolerance: Decimal
    follow_up_days: int
    recheck_after_hours: float
    correspondence_overlap_days: int
    upload_max_attempts: int
    auth_pending_days: int
    auth_pending_follow_up_days: int
    auth_denied_days: int
    auth_expiring_days: int
    auth_units_used_ratio: float
    auth_units_low_days: int
    auth_mismatch_days: int


class NightRules(BaseModel):
    """How a night treats portal faults: maintenance waits, the login budget, the account lease."""

    model_config = ConfigDict(extra="forbid")
    maintenance_wait_minutes: float = 60
    maintenance_retry_minutes: float = 10
    relogins_per_night: int = 2
    lease_seconds: float = 120


class Limits(BaseModel):
    """Size caps on what payerbot reads: inventory files and cells, portal downloads."""

    model_config = ConfigDict(extra="forbid")
    max_inventory_mb: float = 20
    max_cell_chars: int = 1000
    max_download_mb: float = 50


class Rules(BaseModel):
    """Everything configurable about tasks."""

    model_config = ConfigDict(extra="forbid")
    owners: Owners
    deadlines: Deadlines
    night: NightRules = Field(default_factory=NightRules)
    limits: Limits = Field(default_factory=Limits)
    priorities: dict[str, str] = Field(default_factory=dict)

    def owner(self, kind: str, payer_id: str | None) -> str:
        """Who owns a task of this kind for this payer."""
        by_payer = self.owners.payers.get(payer_id or "", {})
        return by_payer.get(kind) or self.owners.kinds.get(kind) or self.owners.default

    def priority(self, kind: str) -> str:
        """high / normal / low for a task kind."""
        return self.priorities.get(kind) or self.priorities.get("default", "normal")

    def appeal_window(self, payer_id: str) -> int:
        """Days to appeal at this payer."""
        windows = self.deadlines.appeal_window_days
        return windows.get(payer_id, windows.get("default", 90))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def override_path() -> Path | None:
    """The operator's rules file: $PAYERBOT_RULES, else <PAYERBOT_HOME>/rules.toml if it exists."""
    env = os.environ.get("PAYERBOT_RULES")
    if env:
        return Path(env)
    candidate = payerbot_home() / "rules.toml"
    return candidate if candidate.exists() else None


_CACHE: dict[tuple[str, float], Rules] = {}


def load_rules(path: Path | None = None) -> Rules:
    """The shipped rules merged with `path` (default `override_path()`); re-read when the file changes."""
    path = path or override_path()
    key = (str(path), path.stat().st_mtime if path else 0.0)
    if key not in _CACHE:
        data = tomllib.loads(DEFAULT_RULES.read_text())
        if path is not None:
            data = _merge(data, tomllib.loads(path.read_text()))
        _CACHE[key] = Rules.model_validate(data)
    return _CACHE[key]
