"""URLs safe to keep: a portal address without the query or fragment that can carry patient data."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def safe_url(url: str) -> str:
    """A URL without its query string or fragment (queries can carry member ids and names)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
