"""The quality scale: rules each payer marks done, todo or exempt (with a reason) in `quality.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class Rule:
    """One rule of the scale and the level that first requires it."""

    id: str
    level: str
    text: str


RULES: tuple[Rule, ...] = (
    Rule("manifest", "bronze", "manifest.toml is valid, its id is the folder name and unique"),
    Rule("capabilities-declared", "bronze", "the manifest lists exactly the capabilities the adapter implements"),
    Rule("login-once", "bronze", "a refused login raises LoginFailed after exactly one attempt"),
    Rule("status-map", "bronze", "every status wording the portal documents maps to an X12 category"),
    Rule("no-storage-imports", "bronze", "the adapter imports only bots (never workqueue, flows, prefect, sqlmodel)"),
    Rule("not-found", "silver", "an unknown claim is reported as not found (D0) with the portal's reference"),
    Rule("portal-changed", "silver", "a changed layout raises PortalChanged, never empty or wrong data"),
    Rule("session-reuse", "silver", "is_logged_in recognises a saved session, so night two needs no MFA"),
    Rule("cases-pass", "silver", "the conformance cases pass against the sandbox portal or a recorded HAR"),
    Rule("site-tests", "silver", "the payer folder has its own tests against its portal"),
    Rule("all-capabilities", "gold", "every capability the portal offers is implemented (others exempt with a reason)"),
    Rule("har-recording", "gold", "a scrubbed HAR of the real portal replays the cases offline"),
    Rule("transient-errors", "gold", "maintenance pages and 5xx raise PortalUnavailable; captchas CaptchaChallenge"),
)


def missing_submission_lookup(adapter_cls) -> bool:
    """True when an adapter declares `upload_records` but does not implement `find_submission`.

    An upload whose outcome is unknown is reconciled against the portal's own submission history
    before anything is sent again, so every adapter that uploads must be able to read that history.
    """
    from bots.adapter import PortalAdapter

    uploads = "upload_records" in adapter_cls.manifest.capabilities
    return uploads and adapter_cls.find_submission is PortalAdapter.find_submission


class QualityError(ValueError):
    """quality.toml is missing rules, names unknown ones, or marks one badly."""


def load_checklist(path: Path) -> dict[str, str | dict]:
    """The `[rules]` table: rule id -> "done" | "todo" | {exempt = "reason"}."""
    with path.open("rb") as handle:
        rules = tomllib.load(handle).get("rules", {})
    known = {rule.id for rule in RULES}
    missing, unknown = known - set(rules), set(rules) - known
    if missing or unknown:
        raise QualityError(f"{path}: missing rules {sorted(missing)}, unknown rules {sorted(unknown)}")
    for rule_id, mark in rules.items():
        ok = mark in ("done", "todo") or (isinstance(mark, dict) and set(mark) == {"exempt"} and mark["exempt"])
        if not ok:
            raise QualityError(f"{path}: rule {rule_id!r} must be \"done\", \"todo\" or {{exempt = \"reason\"}}")
    return rules


def achieved_level(checklist: dict[str, str | dict]) -> str:
    """The highest level whose rules (and every lower level's) are all done or exempt; 'todo' if none."""
    achieved = "todo"
    for level in LEVELS:
        needed = [rule for rule in RULES if LEVELS.index(rule.level) <= LEVELS.index(level)]
        if all(checklist.get(rule.id) == "done" or isinstance(checklist.get(rule.id), dict) for rule in needed):
            achieved = level
        else:
            break
    return achieved


def checklist_template() -> str:
    """A quality.toml with every rule marked todo (for the scaffold)."""
    lines = ["# Quality checklist: mark each rule \"done\", \"todo\" or {exempt = \"why\"}.",
             "# The manifest's `quality` must equal the level these marks reach (the conformance suite checks).",
             "[rules]"]
    for rule in RULES:
        lines.append(f'{rule.id} = "todo"  # {rule.level}: {rule.text}')
    return "\n".join(lines) + "\n"
