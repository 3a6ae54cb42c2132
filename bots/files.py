"""Private files: every folder payerbot creates is 0700 and every file 0600 from the moment it exists.

Patient data (letters, screenshots, packets, the database) and secrets (keys, credentials, sessions) are
written through these helpers, never with a plain `write_bytes` followed by a `chmod`: between the two a
file is briefly readable by every local user.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_CHUNK = 1 << 16


class NotPrivateError(PermissionError):
    """A secret file is readable or writable by group or others; payerbot refuses to use it."""


def private_umask() -> int:
    """Make every file and folder this process creates private (umask 077); return the previous umask.

    Process-wide: it also covers files other libraries create (SQLite's -wal/-shm, browser downloads).
    """
    return os.umask(0o077)


def private_dir(path: Path | str) -> Path:
    """Create `path` and any missing parents as 0700 folders (existing folders are left as they are)."""
    path = Path(path)
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            pass  # another process made it first
    return path


def _temp_beside(path: Path) -> tuple[int, Path]:
    # mkstemp creates the file 0600 whatever the umask is, under a name nobody else can predict.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    return fd, Path(name)


def write_private(path: Path | str, data: bytes | Iterable[bytes], *, exclusive: bool = False) -> Path:
    """Write `data` to `path` atomically as a 0600 file (temp file beside it, then rename).

    `data` is bytes or an iterable of byte chunks. With `exclusive=True` an existing file is never
    replaced: FileExistsError is raised instead (two processes creating the same key file).
    """
    path = Path(path)
    private_dir(path.parent)
    fd, temp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes | bytearray | memoryview):
                handle.write(data)
            else:
                for chunk in data:
                    handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temp, path)  # fails if the file exists: never overwrite
            temp.unlink()
        else:
            os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def copy_private(source: Path | str, target: Path | str, *, max_bytes: int | None = None) -> Path:
    """Copy a file into a 0600 file at `target`, streaming and atomic; ValueError past `max_bytes`."""
    source = Path(source)

    def chunks() -> Iterable[bytes]:
        total = 0
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                total += len(block)
                if max_bytes is not None and total > max_bytes:
                    raise ValueError(f"{source.name} is larger than {max_bytes} bytes")
                yield block

    return write_private(target, chunks())


def loose_mode(path: Path | str) -> int | None:
    """The group/other permission bits of an existing file (0 when private), or None off POSIX."""
    if os.name != "posix":
        return None
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077


def ensure_private(path: Path | str, what: str) -> None:
    """Refuse a secret file that group or others may read or write, naming it and the fix."""
    loose = loose_mode(path)
    if loose:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        raise NotPrivateError(
            f"{what} {path} is readable or writable by other users (mode {mode:04o}); payerbot refuses to use "
            f"it. Fix: chmod 600 {path} (and chmod 700 {Path(path).parent}); if others may have read it, "
            "treat its secrets as leaked and replace them.")
