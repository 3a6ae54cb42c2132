"""Reading a portal's own JSON answers through the browser context's request API (its cookies, no page).

A single-page app renders what its JSON API answers; where a step is plain data (a claim's status), the
bot can ask that API directly with the signed-in context's cookies (through `PortalSession.fetch`,
bots.fetching) and skip rendering, waiting and reading the DOM. The answers map to the kit's typed errors
as the page steps do: 401 is an ended session, a maintenance answer a MaintenanceWindow, any other 5xx or
a network failure PortalUnavailable, any other refusal or an answer of an unexpected shape PortalChanged.
Bodies are never logged or put in an error (they carry patient data); errors name the path without its
query (member ids).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from bots.errors import MaintenanceWindow, PortalChanged, PortalUnavailable, SessionExpired
from bots.urls import safe_url

if TYPE_CHECKING:
    from bots.adapter import PortalSession

#: what a JSON path's query may hold
Params = dict[str, str | int | float | bool]


class Api:
    """The JSON half of an adapter for a portal with an API of its own: `api_json`, `api_keys`."""

    session: PortalSession
    #: how long one API answer may take
    api_timeout_ms: ClassVar[float] = 15_000

    def api_json(self, path: str, params: Params | None = None) -> Any:
        """GET a portal JSON path (relative to the portal URL) with the session's cookies; the parsed body.

        Only a 200 with a JSON body is an answer; everything else is the typed error it means.
        """
        where = safe_url(self.session.url(path))
        query = {key: _query_value(value) for key, value in (params or {}).items()}
        status, _url, text = self.session.fetch("GET", self.session.url(path), query or None, None,
                                                timeout_ms=self.api_timeout_ms, redirects=False)
        body = _json_or_none(text)
        if status == 401:
            self.fail(SessionExpired, "the portal's API answered 401: the session ended")
        if status >= 500:
            if self.is_api_maintenance(status, body):
                self.fail(MaintenanceWindow, "the portal is down for scheduled maintenance")
            self.fail(PortalUnavailable, f"the portal's API answered HTTP {status}: {where}")
        if status != 200:  # a request the adapter knows no longer works (400, 403, 404, a redirect)
            self.fail(PortalChanged, f"the portal's API answered HTTP {status}: {where}")
        if body is None:
            self.fail(PortalChanged, f"the portal's API answered something other than JSON: {where}")
        return body

    def is_api_maintenance(self, status: int, body: Any) -> bool:
        """Whether a 5xx answer is the portal's maintenance notice (default: a JSON body flagging `maintenance`).

        A plain 503 is a passing failure (retried), not maintenance (deferred): override for a portal that
        says it another way.
        """
        return isinstance(body, dict) and body.get("maintenance") is True

    def api_keys(self, body: Any, *keys: str, what: str = "answer") -> dict:
        """The body as a dict holding every key in `keys`; else PortalChanged (names the keys, never values)."""
        if not isinstance(body, dict):
            self.fail(PortalChanged, f"the portal's API {what} is no longer an object")
        missing = [key for key in keys if key not in body]
        if missing:
            self.fail(PortalChanged, f"the portal's API {what} lost {', '.join(missing)}")
        return body


def _query_value(value: str | int | float | bool) -> str:
    """A query value as the portal's own script would send it (booleans lower case, as JSON writes them)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
