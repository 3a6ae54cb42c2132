"""Evidence files (screenshots, downloads) stored once by SHA-256 under the data folder."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path


def payerbot_home() -> Path:
    """The data folder: PAYERBOT_HOME, default ./var."""
    return Path(os.environ.get("PAYERBOT_HOME", "var")).resolve()


class EvidenceStore:
    """Content-addressed files: the same bytes are stored once, named by their hash."""

    def __init__(self, root: Path | None = None):
        self.root = root or payerbot_home() / "evidence"

    def put_bytes(self, data: bytes, suffix: str) -> tuple[str, Path]:
        """Store bytes; return (sha256, path). Suffix is ours (e.g. '.png'), never the portal's name."""
        digest = hashlib.sha256(data).hexdigest()
        folder = self.root / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{digest}{suffix}"
        if not path.exists():
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest, path

    def put_file(self, source: Path, suffix: str) -> tuple[str, Path]:
        """Store a file's content (a Playwright download) under its hash."""
        return self.put_bytes(source.read_bytes(), suffix)


def stamp() -> str:
    """A UTC timestamp for file names."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
