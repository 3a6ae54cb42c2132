"""The quality scale: each rule names the conformance tests that prove it; a payer declares only exemptions.

A payer's level is derived from what its last conformance run proved plus the exemptions (each with a
reason) in its `quality.toml`; nobody marks a rule "done" by hand. The conformance suite's quality plugin
(tests/conformance/quality_plugin.py) writes the outcome to `$PAYERBOT_HOME/checks/<payer>.json`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("bronze", "silver", "gold")
NO_LEVEL = "todo"


@dataclass(frozen=True)
class Rule:
    """One rule of the scale, the level that first requires it, and the conformance tests that prove it.

    A rule is proved when every one of its tests that applies to the payer ran and passed. A capability's
    test applies only to payers that declare the capability (the suite generates it for no other), unless
    `every_test`: then a capability the payer lacks leaves the rule unproved.
    """

    id: str
    level: str
    text: str
    proved_by: tuple[str, ...]
    every_test: bool = False


#: the conformance test that exercises each capability; the last three run only for payers declaring it
CAPABILITY_TESTS = {"login": "test_good_login_works", "check_claim_status": "test_claim_status_matches_cases",
                    "download_correspondence": "test_correspondence_matches_cases",
                    "upload_records": "test_upload_matches_cases",
                    "pull_authorizations": "test_authorizations_match_cases"}
#: tests marked `@pytest.mark.capability(...)`: generated only for payers that declare the capability
CONDITIONAL_TESTS = {test: capability for capability, test in CAPABILITY_TESTS.items()
                     if capability not in ("login", "check_claim_status")}

RULES: tuple[Rule, ...] = (
    Rule("manifest", "bronze",
         "manifest.toml is valid, its id is the folder name and unique; quality.toml and letters.toml are valid",
         ("test_manifest_valid_and_id_unique", "test_quality_exemptions_are_valid", "test_letter_wording_is_valid")),
    Rule("capabilities-declared", "bronze", "the manifest lists exactly the capabilities the adapter implements",
         ("test_declared_capabilities_match_implemented_methods",
          "test_uploading_adapters_can_find_their_submissions")),
    Rule("login-once", "bronze", "a refused login raises LoginFailed after exactly one attempt",
         ("test_bad_login_raises_login_failed_after_one_attempt",
          "test_login_problems_are_typed_errors_after_one_attempt")),
    Rule("status-map", "bronze", "every status wording the portal documents maps to an X12 category",
         ("test_claim_status_matches_cases",)),
    Rule("no-storage-imports", "bronze", "the adapter imports only bots (never workqueue, flows, prefect, sqlmodel)",
         ("test_adapter_imports_only_bots",)),
    Rule("not-found", "silver", "an unknown claim is reported as not found (D0) with the portal's reference",
         ("test_unknown_claim_is_not_found",)),
    Rule("portal-changed", "silver", "a changed layout raises PortalChanged, never empty or wrong data",
         ("test_changed_layout_raises_portal_changed",)),
    Rule("session-reuse", "silver", "is_logged_in recognises a saved session, so night two needs no MFA",
         ("test_good_login_works", "test_saved_session_is_recognised")),
    Rule("cases-pass", "silver", "the conformance cases pass against the sandbox portal or a recorded HAR",
         ("test_claim_status_matches_cases", "test_correspondence_matches_cases", "test_authorizations_match_cases",
          "test_upload_matches_cases")),
    Rule("site-tests", "silver", "the payer folder has its own tests against its portal",
         ("test_payer_folder_has_site_tests",)),
    Rule("all-capabilities", "gold", "every capability the portal offers is implemented (others exempt with a reason)",
         tuple(CAPABILITY_TESTS.values()), every_test=True),
    Rule("har-recording", "gold", "a scrubbed HAR of the real portal replays the cases offline",
         ("test_har_case_matches_expectations", "test_unrecorded_request_aborts_with_a_typed_error",
          "test_recorded_har_holds_no_secrets")),
    Rule("transient-errors", "gold", "maintenance pages and 5xx raise PortalUnavailable; captchas CaptchaChallenge",
         ("test_maintenance_is_portal_unavailable", "test_captcha_is_captcha_challenge",
          "test_maintenance_or_5xx_at_login_sends_no_password", "test_session_ended_mid_run_is_session_expired")),
)
RULE_IDS = frozenset(rule.id for rule in RULES)


def missing_submission_lookup(adapter_cls) -> bool:
    """True when an adapter declares `upload_records` but does not implement `find_submission`.

    An upload whose outcome is unknown is reconciled against the portal's own submission history
    before anything is sent again, so every adapter that uploads must be able to read that history.
    """
    from bots.adapter import PortalAdapter

    uploads = "upload_records" in adapter_cls.manifest.capabilities
    return uploads and adapter_cls.find_submission is PortalAdapter.find_submission


class QualityError(ValueError):
    """quality.toml is not valid TOML, has keys other than `[exempt]`, names an unknown rule or gives no reason."""


def load_exemptions(path: Path) -> dict[str, str]:
    """The `[exempt]` table of a quality.toml: rule id -> reason. A missing file exempts nothing."""
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise QualityError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"exempt"})
    if extra:
        # Old checklists marked rules done by hand; the level is derived now, so such keys are refused.
        raise QualityError(f"{path}: unknown keys {extra}; quality.toml holds only [exempt] rule-id = \"reason\"")
    exempt = data.get("exempt", {})
    if not isinstance(exempt, dict):
        raise QualityError(f"{path}: exempt must be a table of rule-id = \"reason\"")
    unknown = sorted(set(exempt) - RULE_IDS)
    if unknown:
        raise QualityError(f"{path}: unknown rules {unknown}; known: {sorted(RULE_IDS)}")
    for rule_id, reason in exempt.items():
        if not isinstance(reason, str) or not reason.strip():
            raise QualityError(f"{path}: exemption of {rule_id!r} needs a reason: "
                               f"{rule_id} = \"why it does not apply\"")
    return dict(exempt)


def required_tests(rule: Rule, capabilities: Iterable[str]) -> set[str]:
    """The tests that must pass for a payer with these capabilities to prove `rule`."""
    declared = set(capabilities)
    return {test for test in rule.proved_by
            if rule.every_test or CONDITIONAL_TESTS.get(test, "login") in declared}


def proved_rules(passed: Iterable[str], capabilities: Iterable[str]) -> set[str]:
    """Rule ids proved for a payer: `passed` are the test functions all of whose items for it passed."""
    passed = set(passed)
    return {rule.id for rule in RULES if required_tests(rule, capabilities) <= passed}


def derive_level(proved: Iterable[str], exempt: Iterable[str]) -> str:
    """The highest level whose rules (and every lower level's) are all proved or exempt; 'todo' if none."""
    covered = set(proved) | set(exempt)
    achieved = NO_LEVEL
    for level in LEVELS:
        needed = {rule.id for rule in RULES if LEVELS.index(rule.level) <= LEVELS.index(level)}
        if not needed <= covered:
            break
        achieved = level
    return achieved


def quality_report(payer_id: str, proved: Iterable[str], exemptions: dict[str, str]) -> dict:
    """The level, the proved, exempt and unproved rules, and any errors (an exempt rule the run proved)."""
    proved = set(proved)
    errors = [f"{rule_id} is exempt but the suite proved it: remove the exemption"
              for rule_id in sorted(proved & set(exemptions))]
    return {
        "payer": payer_id,
        "level": derive_level(proved, exemptions),
        "proved": sorted(proved),
        "exempt": dict(sorted(exemptions.items())),
        "not_proved": [rule.id for rule in RULES if rule.id not in proved and rule.id not in exemptions],
        "errors": errors,
    }


def summary_line(report: dict) -> str:
    """`quality <payer>: <level> (proved: N rules, exempt: M, not proved: a, b)` for the terminal."""
    not_proved = ", ".join(report["not_proved"]) or "none"
    line = (f"quality {report['payer']}: {report['level']} (proved: {len(report['proved'])} rules, "
            f"exempt: {len(report['exempt'])}, not proved: {not_proved})")
    return line + "".join(f"; ERROR {error}" for error in report["errors"])


def check_file(payer_id: str, home: Path | None = None) -> Path:
    """Where the last conformance run's quality outcome for a payer is kept."""
    from bots.evidence import payerbot_home

    return (home or payerbot_home()) / "checks" / f"{payer_id}.json"


def last_check(payer_id: str, home: Path | None = None) -> dict | None:
    """The last written quality outcome for a payer, or None when it was never checked (or is unreadable)."""
    path = check_file(payer_id, home)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def exemptions_template() -> str:
    """A quality.toml exempting nothing, listing the rules (for the scaffold)."""
    lines = ["# Quality: the level is derived from what `payerbot payer check` proves (bots/quality.py).",
             "# List here only rules that cannot apply to this portal, each with its reason, e.g.",
             '#   all-capabilities = "the portal has no records upload; records go by fax"',
             "# Rules:"]
    lines += [f"#   {rule.id} ({rule.level}): {rule.text}" for rule in RULES]
    lines.append("[exempt]")
    return "\n".join(lines) + "\n"
