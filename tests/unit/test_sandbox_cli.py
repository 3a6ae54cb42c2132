"""`payerbot sandbox` options: several practices with several logins each reach the sandbox as given."""

from __future__ import annotations

from typer.testing import CliRunner

from flows.cli import app
from sandbox.server import DEFAULT_PRACTICES, build_app

runner = CliRunner()


def test_practices_and_logins_per_practice_reach_the_sandbox(monkeypatch) -> None:
    served: dict = {}
    monkeypatch.setattr("sandbox.server.serve", lambda **kwargs: served.update(kwargs))
    result = runner.invoke(app, ["sandbox", "--port", "8799", "--practice", "harbor", "--practice", "lakeview",
                                 "--accounts-per-practice", "2"])
    assert result.exit_code == 0, result.output
    assert served["practices"] == ("harbor", "lakeview") and served["accounts_per_practice"] == 2
    _, states = build_app(claims=12, portals=["meridian"], practices=served["practices"],
                          accounts_per_practice=served["accounts_per_practice"])
    assert len(states["meridian"].accounts) == 4


def test_the_default_is_the_one_practice_world_and_a_repeated_practice_is_refused(monkeypatch) -> None:
    served: dict = {}
    monkeypatch.setattr("sandbox.server.serve", lambda **kwargs: served.update(kwargs))
    assert runner.invoke(app, ["sandbox"]).exit_code == 0
    assert served["practices"] == DEFAULT_PRACTICES and served["accounts_per_practice"] == 1
    repeated = runner.invoke(app, ["sandbox", "--practice", "harbor", "--practice", "harbor"])
    assert repeated.exit_code == 2 and "each practice once" in repeated.output
