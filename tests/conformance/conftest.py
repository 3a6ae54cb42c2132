"""Parametrise the conformance suite over every registered payer, or one with `--payer ID`."""

from __future__ import annotations

import pytest

from bots.registry import registry
from tests.conformance.quality_plugin import *  # noqa: F403  (the quality level is derived from this run)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--payer", action="append", default=[], help="run the conformance suite for this payer only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "payer_id" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--payer") or sorted(registry())
        marker = metafunc.definition.get_closest_marker("capability")
        if marker:
            # Capability tests run for the payers that declare the capability (a subset is allowed).
            chosen = [p for p in chosen if marker.args[0] in registry()[p].manifest.capabilities]
        cases = metafunc.definition.get_closest_marker("per_payer_cases")
        if cases is None:
            metafunc.parametrize("payer_id", chosen)
            return
        # Cases that depend on the payer (no MFA: no refused code to test): cases(adapter) -> {id: values}
        names, build = cases.args
        rows = [pytest.param(p, *values, id=f"{p}-{case}") for p in chosen
                for case, values in build(registry()[p]).items()]
        metafunc.parametrize(("payer_id", *names), rows)


#: fixtures that start a sandbox portal: a check using one needs a live portal
LIVE_PORTAL_FIXTURES = ("sandbox", "fresh_sandbox")


class LivePortalReport:
    """The checks not run because the payer has no sandbox portal: named in the terminal summary."""

    def __init__(self) -> None:
        self.needs_live_portal: dict[str, list[str]] = {}

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for payer_id, names in sorted(self.needs_live_portal.items()):
            terminalreporter.write_line(f"{payer_id}: needs a live portal: {', '.join(sorted(set(names)))}",
                                        yellow=True)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(LivePortalReport(), "payerbot-live-portal-report")


def _needs_live_portal(item: pytest.Item) -> str | None:
    """The payer of a sandbox-using item whose manifest names no sandbox portal (it cannot run offline)."""
    payer_id = getattr(item, "callspec", None) and item.callspec.params.get("payer_id")
    if not isinstance(payer_id, str) or not set(LIVE_PORTAL_FIXTURES) & set(getattr(item, "fixturenames", ())):
        return None
    return None if registry()[payer_id].manifest.sandbox_portal else payer_id


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A capability no chosen payer declares has nothing to check: deselect it rather than skip it.

    A check that needs a live portal, for a payer with no sandbox portal, is deselected too and named in
    the summary ("needs a live portal: ..."): its recorded cases are what `payer check` replays instead.
    """
    # an empty parameter set (no chosen payer declares the capability) shows up with no callspec or
    # with pytest's NOTSET as the payer: nothing to check either way
    unused = [item for item in items if {"payer_id", "har_payer"} & set(getattr(item, "fixturenames", ()))
              and not any(isinstance(item.callspec.params.get(name), str) for name in ("payer_id", "har_payer")
                          if hasattr(item, "callspec"))]
    report = config.pluginmanager.get_plugin("payerbot-live-portal-report")
    for item in items:
        payer_id = _needs_live_portal(item)
        if payer_id:
            unused.append(item)
            report.needs_live_portal.setdefault(payer_id, []).append(getattr(item, "originalname", item.name))
    if unused:
        config.hook.pytest_deselected(items=unused)
        items[:] = [item for item in items if item not in unused]
