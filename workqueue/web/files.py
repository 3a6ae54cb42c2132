"""Which stored files the web app may serve (evidence, documents, packets) and how: never cached, never HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse, Response

from bots.evidence import from_stored

# Only these folders under the data folder hold files a page links to; the database, keys, downloads in
# progress and everything else are never served, whatever path a row holds.
SERVABLE_FOLDERS = ("evidence", "documents", "packets")
# Served inline with their real type; anything else is a download (a stored .html must never render here).
_INLINE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                 ".pdf": "application/pdf", ".txt": "text/plain; charset=utf-8"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def servable(path_text: Any, home: Path) -> Path | None:
    """The file if it exists inside one of SERVABLE_FOLDERS (after following symlinks), else None.

    Stored paths are relative to the data folder (older rows may be absolute): `from_stored` resolves both.
    """
    if not isinstance(path_text, str) or not path_text:
        return None
    try:
        path = from_stored(path_text, home).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    root = home.resolve()
    inside = any(path.is_relative_to(root / folder) for folder in SERVABLE_FOLDERS)
    return path if inside and path.is_file() else None


def not_found() -> Response:
    """The same 404 for a missing file and for a path outside the servable folders (never say which)."""
    return Response("Not found", status_code=404, media_type="text/plain", headers=NO_STORE)


def file_response(path: Path | None, download_name: str | None = None) -> Response:
    """A servable file with `Cache-Control: no-store`, or 404."""
    if path is None:
        return not_found()
    media_type = _INLINE_TYPES.get(path.suffix.lower())
    if media_type is None:
        return FileResponse(path, media_type="application/octet-stream", filename=download_name or path.name,
                            headers=NO_STORE)
    return FileResponse(path, media_type=media_type, filename=download_name or path.name,
                        content_disposition_type="inline", headers=NO_STORE)
