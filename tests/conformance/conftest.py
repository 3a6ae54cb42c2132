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
        metafunc.parametrize("payer_id", chosen)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A capability no chosen payer declares has nothing to check: deselect it rather than skip it."""
    unused = [item for item in items if "payer_id" in getattr(item, "fixturenames", ())
              and not hasattr(item, "callspec")]
    if unused:
        config.hook.pytest_deselected(items=unused)
        items[:] = [item for item in items if item not in unused]
