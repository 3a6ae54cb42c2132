"""Where the work queue keeps its files: the database, letters and records packets under PAYERBOT_HOME."""

from __future__ import annotations

import os
from pathlib import Path


def payerbot_home() -> Path:
    """The data folder: PAYERBOT_HOME, default ./var (the same rule as bots.evidence)."""
    return Path(os.environ.get("PAYERBOT_HOME", "var")).resolve()


def documents_dir() -> Path:
    """Downloaded letters, one folder per payer, named by us (never by the portal)."""
    return payerbot_home() / "documents"


def packets_dir() -> Path:
    """Records packets billers attach, named by content hash."""
    return payerbot_home() / "packets"


def downloads_dir() -> Path:
    """Where the bots' browsers save downloads during a run; a letter's copy there is removed once stored."""
    return payerbot_home() / "downloads"
