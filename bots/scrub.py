"""A portal page's HTML with its structure kept and its data dropped, for an operator fixing selectors.

Kept: every tag, the attributes selectors are written against (id, class, name, type, role, for, the
aria-* attributes that name states or other elements) and link targets (href, src, action) as scheme,
host and path only. Dropped: every text node, form values, title/alt/placeholder/value and every other
attribute, script and style contents, comments, and runs of three or more digits inside kept values
(member ids, claim numbers and dates end up as zeros). No patient data a page shows can survive.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

_KEPT = frozenset({"id", "class", "name", "type", "role", "for", "method"})
_LINKS = frozenset({"href", "src", "action", "formaction"})
# aria-* attributes whose value is free text a page fills in (often with a patient's name): never kept.
_ARIA_TEXT = frozenset({"aria-label", "aria-description", "aria-valuetext", "aria-placeholder",
                        "aria-roledescription", "aria-braillelabel", "aria-brailleroledescription",
                        "aria-keyshortcuts", "aria-valuenow", "aria-valuemin", "aria-valuemax"})
_DIGITS = re.compile(r"\d{3,}")


def _mask(value: str) -> str:
    return _DIGITS.sub(lambda m: "0" * len(m.group()), value)


def _link(value: str) -> str | None:
    """Scheme, host and path of an http(s) or relative link; None for javascript:, data:, mailto: and the like."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme not in ("", "http", "https"):
        return None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, _mask(parts.path), "", ""))


def _attribute(name: str, value: str | None) -> str | None:
    """The attribute's value as kept (None: drop the attribute)."""
    if value is None:
        value = ""
    if name in _KEPT:
        return _mask(value)
    if name in _LINKS:
        return _link(value)
    if name.startswith("aria-") and name not in _ARIA_TEXT:
        return _mask(value)
    return None


class _Scrubber(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], close: str) -> str:
        kept = []
        for name, value in attrs:
            value = _attribute(name.lower(), value)
            if value is not None:
                kept.append(f' {name}="{escape(value, quote=True)}"')
        return f"<{tag}{''.join(kept)}{close}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, " /"))

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        # Text, script and style contents are all data: only layout whitespace survives.
        if not data.strip():
            self.out.append("\n" if "\n" in data else (" " if data else ""))

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.out.append("<!DOCTYPE html>")

    # Comments, processing instructions and CDATA sections are dropped (the default handlers do nothing).


def scrub_html(html: str) -> str:
    """The page's tags and selector attributes, without any text, value or other data (see module doc)."""
    scrubber = _Scrubber()
    scrubber.feed(html)
    scrubber.close()
    return "".join(scrubber.out)
