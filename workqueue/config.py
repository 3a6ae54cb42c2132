"""The routing and deadline rules, read from the shipped rules.toml merged with an operator's override file."""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workqueue.paths import payerbot_home

DEFAULT_RULES = Path(__file__).with_name("rules.toml")


class Owners(BaseModel):
    """Task routing: payer-specific table first, then by kind, then the default team."""

    model_config = ConfigDict(extra="forbid")
    default: str
    kinds: dict[str, str] = Field(default_factory=dict)
    payers: dict[str, dict[str, str]] = Field(default_factory=dict)


Days = Annotated[int, Field(ge=0, le=3650)]  # up to ten years: anything longer is a typo


class Deadlines(BaseModel):
    """Day counts and thresholds used by the rules (documented in rules.toml)."""

    model_config = ConfigDict(extra="forbid")
    appeal_window_days: dict[str, Annotated[int, Field(ge=1, le=3650)]]
    records_response_days: Days
    rejected_fix_days: Days
    not_found_days: Days
    correspondence_review_days: Days
    operator_days: Days
    underpayment_tolerance: Annotated[Decimal, Field(ge=0, le=100000)]
    follow_up_days: Days
    recheck_after_hours: Annotated[float, Field(ge=0, le=24 * 366)]
    correspondence_overlap_days: Days
    upload_max_attempts: Annotated[int, Field(ge=1, le=20)]
    auth_pending_days: Days
    auth_pending_follow_up_days: Days
    auth_denied_days: Days
    auth_expiring_days: Days
    auth_units_used_ratio: Annotated[float, Field(ge=0, le=1)]
    auth_units_low_days: Days
    auth_mismatch_days: Days
    unmatched_remittance_days: Days = 5


class NightRules(BaseModel):
    """How a night treats portal faults: maintenance waits, the login budget, the account lease."""

    model_config = ConfigDict(extra="forbid")
    maintenance_wait_minutes: float = Field(default=60, ge=0, le=24 * 60)
    maintenance_retry_minutes: float = Field(default=10, gt=0, le=24 * 60)
    relogins_per_night: int = Field(default=2, ge=0, le=10)
    lease_seconds: float = Field(default=120, ge=5, le=24 * 3600)


class Limits(BaseModel):
    """Size caps on what payerbot reads: inventory files and cells, portal downloads."""

    model_config = ConfigDict(extra="forbid")
    max_inventory_mb: float = Field(default=20, gt=0, le=4096)
    max_cell_chars: int = Field(default=1000, ge=1, le=1_000_000)
    max_download_mb: float = Field(default=50, gt=0, le=4096)


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


class RulesError(ValueError):
    """A rules file is not valid TOML or has a bad value; the message names the file and the key."""


def _has_key(data: dict[str, Any], loc: tuple) -> bool:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _key_name(loc: tuple) -> str:
    """('deadlines', 'auth_units_used_ratio') -> '[deadlines] auth_units_used_ratio'."""
    parts = [str(p) for p in loc]
    if len(parts) < 2:
        return parts[0] if parts else "(top level)"
    return f"[{'.'.join(parts[:-1])}] {parts[-1]}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from None


def validate_rules(data: dict[str, Any], override: dict[str, Any] | None = None,
                   override_file: Path | None = None) -> Rules:
    """The merged rules, or RulesError naming the file each bad key came from, the key and the allowed range."""
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            # The key is the operator's if their file sets it (or, for an unknown key, any part of it).
            source = override_file if override is not None and override_file is not None and (
                _has_key(override, loc) or _has_key(override, loc[:-1]) and err["type"] == "missing"
            ) else DEFAULT_RULES
            value = f" = {err['input']!r}" if err["type"] not in ("missing", "extra_forbidden") else ""
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{source}: {_key_name(loc)}{value}: {message}")
        raise RulesError("bad rules: " + "; ".join(problems)) from None


_CACHE: dict[tuple[str, float], Rules] = {}


def load_rules(path: Path | None = None) -> Rules:
    """The shipped rules merged with `path` (default `override_path()`); re-read when the file changes.

    Every value is checked with its range (no negative windows, ratios 0..1, sensible maxima); a bad file
    raises RulesError naming the file and the key.
    """
    path = path or override_path()
    key = (str(path), path.stat().st_mtime if path else 0.0)
    if key not in _CACHE:
        data = _read_toml(DEFAULT_RULES)
        override = None
        if path is not None:
            override = _read_toml(path)
            data = _merge(data, override)
        _CACHE[key] = validate_rules(data, override, path)
    return _CACHE[key]
