"""Evidence files (screenshots, downloads) stored once by SHA-256 under the data folder."""

from __future__ import annotations

import hashlib
import os
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

