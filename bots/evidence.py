"""Evidence files (screenshots, downloads) stored once by SHA-256 under the data folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bots.files import private_dir, private_umask, write_private


def payerbot_home() -> Path:
    """The data folder: PAYERBOT_HOME, default ./var."""
    return Path(os.environ.get("PAYERBOT_HOME", "var")).resolve()


def to_stored(path: Path | str, home: Path | None = None) -> str:
    """How a file's path is kept in the database: relative to PAYERBOT_HOME when inside it, else absolute.

    Relative paths keep every link when the data folder moves; `from_stored` turns them back into paths.
    A relative path is taken as one already stored (relative to PAYERBOT_HOME), so this is idempotent.
    """
    home = (home or payerbot_home()).resolve()
    if not Path(path).is_absolute():
        path = home / path
    absolute = Path(path).resolve()
    if absolute.is_relative_to(home):
        return absolute.relative_to(home).as_posix()
    return str(absolute)


def from_stored(value: str | Path, home: Path | None = None) -> Path:
    """The file a stored path names: relative ones under PAYERBOT_HOME, absolute ones (older rows) as they are."""
    path = Path(value)
    return path if path.is_absolute() else (home or payerbot_home()) / path


class EvidenceStore:
    """Content-addressed files: the same bytes are stored once, named by their hash."""

    def __init__(self, root: Path | None = None):
        private_umask()
        self.root = root or payerbot_home() / "evidence"

    def put_bytes(self, data: bytes, suffix: str) -> tuple[str, Path]:
        """Store bytes (a 0600 file); return (sha256, path). Suffix is ours (e.g. '.png'), never the portal's."""
        digest = hashlib.sha256(data).hexdigest()
        folder = private_dir(self.root / digest[:2])
        path = folder / f"{digest}{suffix}"
        if not path.exists():
            write_private(path, data)
        return digest, path
