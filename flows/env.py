"""Prefect environment for a machine with no Prefect server and no internet (see TOOLCHAIN.md)."""

from __future__ import annotations

import os
from pathlib import Path


def configure_prefect() -> None:
    """Set Prefect's settings before Prefect is imported; values already in the environment win."""
    home = Path(os.environ.get("PAYERBOT_HOME", "var")).resolve()
    defaults = {
        # Telemetry and analytics try to reach the internet.
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The first flow on a fresh PREFECT_HOME runs database migrations (~23 s) and can miss the
        # default 20 s start-up timeout of the temporary local server.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_LOGGING_LOG_PRINTS": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect's temporary server cannot create its SQLite file in a folder that does not exist yet.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
