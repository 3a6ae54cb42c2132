"""Fault injection, the same for every sandbox portal: errors, slowness, ended sessions, cut downloads.

A SPEC is a comma list of `key=value`; a key may carry a `PORTAL.` prefix to apply to one portal only:

    errors=0.1,slow=0.05,slow_s=2,meridian.expire_every=150,claimbridge.maintenance=on,northwind.layout=2

`latency_ms` and `jitter_ms` give every portal answer (page, API call, download, injected error) the
delay of a real payer's network: `latency_ms` plus a uniform random 0..`jitter_ms`, awaited without
holding up other requests; `/stats` counts the delay in `latency_ms_total` so a benchmark can tell the
portal's share of a run's time (requests x latency) from the bot's own.

Unprefixed keys apply to every portal first, prefixed ones then override them. The same keys (unprefixed)
go as JSON to `POST /_sandbox/<portal>/faults`. Randomness comes from one seeded `random.Random` per
portal, so the same order of requests meets the same faults. Faults never touch the harness routes
(`/_sandbox/...`, the portals' own `/_test/` switches) nor static assets.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

#: counters every portal's `/_sandbox/<portal>/stats` shows (zero until something happens)
FAULT_COUNTERS = ("requests", "errors_injected", "sessions_ended", "downloads_started", "downloads_cut",
                  "uploads_recorded", "latency_ms_total")
#: what a portal request answered with, counted as `requests_<kind>` (`/stats` shows `requests_by_kind`)
REQUEST_KINDS = ("page", "api", "download", "redirect", "error", "other")
_MAX_MS = 60000
_ERROR_STATUSES = (500, 502, 503, 504)
_ERROR_PAGE = ("<!DOCTYPE html><html><head><title>{status} Server Error</title></head><body>"
               "<h1>{status} Server Error</h1><p>The server encountered a temporary error.</p></body></html>")
_ON, _OFF = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


class FaultSpecError(ValueError):
    """A SPEC or a JSON fault setting that cannot be used; the message names the bad key or value."""


def _share(key: str, text: str) -> float:
    value = _number(key, text)
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"fault {key}={text!r}: a share between 0 and 1 is expected")
    return value


def _seconds(key: str, text: str) -> float:
    value = _number(key, text)
    if not 0.0 <= value <= 600:
        raise FaultSpecError(f"fault {key}={text!r}: seconds between 0 and 600 are expected")
    return value


def _millis(key: str, text: str) -> float:
    value = _number(key, text)
    if not 0.0 <= value <= _MAX_MS:
        raise FaultSpecError(f"fault {key}={text!r}: milliseconds between 0 and {_MAX_MS} are expected")
    return value


def _number(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FaultSpecError(f"fault {key}={text!r}: a number is expected") from None


def _count(key: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise FaultSpecError(f"fault {key}={text!r}: a whole number is expected") from None
    if value < 0:
        raise FaultSpecError(f"fault {key}={text!r}: a whole number of 0 or more is expected")
    return value


def _switch(key: str, text: str) -> bool:
    if text.lower() in _ON:
        return True
    if text.lower() in _OFF:
        return False
    raise FaultSpecError(f"fault {key}={text!r}: on or off is expected")


def _version(key: str, text: str) -> int:
    if text not in ("1", "2"):
        raise FaultSpecError(f"fault {key}={text!r}: 1 or 2 is expected")
    return int(text)


def _captcha_after(key: str, text: str) -> int | None:
    if text.lower() in ("off", "never", "-1", "none"):
        return None
    return _count(key, text)


#: key -> (parser, what it means); the parser turns the SPEC's text into the setting's value
KEYS: dict[str, tuple[Callable[[str, str], Any], str]] = {
    "errors": (_share, "share of requests answered with a 5xx"),
    "slow": (_share, "share of requests answered after slow_s seconds"),
    "slow_s": (_seconds, "how long a slow answer takes (seconds)"),
    "expire_every": (_count, "the portal ends a session after this many of its requests (0: never)"),
    "maintenance": (_switch, "the portal shows its maintenance page (on/off)"),
    "layout": (_version, "page layout version (1 or 2)"),
    "captcha_after": (_captcha_after, "a captcha after this many searches (off: never)"),
    "cut_downloads": (_share, "share of letter downloads cut short"),
    "mfa_refuse": (_switch, "every MFA / one-time code is refused (on/off)"),
    "login_captcha": (_switch, "a captcha after the credentials are posted (on/off)"),
    "login_layout": (_version, "login page version; 2 is one no adapter knows"),
    "hold_upload_s": (_seconds, "after recording an upload, wait this long before confirming (seconds)"),
    "hold_download_s": (_seconds, "wait this long before sending a letter's bytes (seconds)"),
    "latency_ms": (_millis, "every portal answer is delayed this long (milliseconds)"),
    "jitter_ms": (_millis, "plus a uniform random delay of 0 up to this (milliseconds)"),
}
#: keys kept on the portal's existing switches (PortalState attributes), not on FaultSettings
SWITCH_KEYS = {"maintenance": "maintenance", "layout": "layout_version", "captcha_after": "captcha_after_searches"}


@dataclass
class FaultSettings:
    """The faults one portal injects now (the existing switches live on PortalState itself)."""

    errors: float = 0.0
    slow: float = 0.0
    slow_s: float = 2.0
    expire_every: int = 0
    cut_downloads: float = 0.0
    mfa_refuse: bool = False
    login_captcha: bool = False
    login_layout: int = 1
    hold_upload_s: float = 0.0
    hold_download_s: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0


def parse_value(key: str, value: Any) -> Any:
    """One setting from SPEC text or a JSON value (numbers, booleans, strings)."""
    if key not in KEYS:
        raise FaultSpecError(f"unknown fault key {key!r}; known keys: {', '.join(KEYS)}")
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif value is None:
        text = "off"
    elif isinstance(value, int | float | str):
        text = str(value).strip()
    else:
        raise FaultSpecError(f"fault {key}={value!r}: a number, on/off or text is expected")
    return KEYS[key][0](key, text)


def parse_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a JSON object of unprefixed keys; every key and value is checked before any is used."""
    if not isinstance(values, dict):
        raise FaultSpecError("faults must be a JSON object of key: value")
    return {key: parse_value(key, value) for key, value in values.items()}


def parse_spec(spec: str, portals: Iterable[str]) -> dict[str, dict[str, Any]]:
    """portal -> {key: value} for a SPEC; unprefixed keys go to every portal, prefixed ones override."""
    portals = list(portals)
    common: dict[str, Any] = {}
    specific: dict[str, dict[str, Any]] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise FaultSpecError(f"fault {item!r}: key=value expected (e.g. errors=0.1)")
        portal, dot, key = name.rpartition(".")
        if dot and portal not in portals:
            raise FaultSpecError(f"fault {item!r}: no sandbox portal {portal!r} (portals: {', '.join(portals)})")
        value = parse_value(key, text)
        (specific.setdefault(portal, {}) if dot else common)[key] = value
    return {portal: {**common, **specific.get(portal, {})} for portal in portals}


# -- the running side ---------------------------------------------------------------------------------------
_marks: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("sandbox_fault_marks", default=None)


def mark(event: str) -> None:
    """Note an event of the current request (the portal calls it, e.g. 'upload' once it recorded one)."""
    marks = _marks.get()
    if marks is not None:
        marks.add(event)


class _CutShort(Exception):
    """Raised to end a response early (a cut download): the server closes the connection."""


class _QuietCutShort(logging.Filter):
    """Keep the sandbox's log free of the tracebacks a deliberately cut download produces."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _CutShort) and "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietCutShort())


def _exempt(path: str) -> bool:
    return path.startswith(("/static/", "/_sandbox/")) or "/_test/" in path


class FaultMiddleware:
    """ASGI middleware around one portal app that injects the portal state's faults."""

    def __init__(self, app, state):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        root, path = scope.get("root_path", ""), scope["path"]
        if root and path.startswith(root):
            path = path[len(root):]
        if _exempt(path or "/"):
            return await self.app(scope, receive, send)
        state = self.state
        with state.lock:
            self._count_session_request(scope)
            session = self._live_session(scope)
        if session is None:
            return await self._faulted(scope, receive, send)
        state.in_flight.started(session)  # the session is in use until its answer is out
        try:
            return await self._faulted(scope, receive, send)
        finally:
            state.in_flight.finished(session)

    def _live_session(self, scope) -> str | None:
        """The token of the portal session a request belongs to (None: an anonymous request)."""
        return next((token for token in _cookie_values(scope) if token in self.state.sessions), None)

    async def _faulted(self, scope, receive, send) -> None:
        """The portal's answer with this request's faults: latency, errors, slowness, cut downloads."""
        state, faults = self.state, self.state.faults
        with state.lock:
            state.stats["requests"] += 1
            fail_draw, slow_draw = state.fault_rng.random(), state.fault_rng.random()
            status = state.fault_rng.choice(_ERROR_STATUSES)
            if fail_draw < faults.errors:
                state.stats["errors_injected"] += 1
                state.stats["requests_error"] += 1
            delay_ms = self._latency_draw()
            state.stats["latency_ms_total"] += round(delay_ms)
        if delay_ms:
            # the payer's network and servers: every answer waits, the other requests go on meanwhile
            await asyncio.sleep(delay_ms / 1000)
        if fail_draw < faults.errors:
            return await self._error(send, status)
        if slow_draw < faults.slow:
            await asyncio.sleep(faults.slow_s)
        token = _marks.set(set())
        try:
            await self.app(scope, receive, self._sender(send, _marks.get()))
        except _CutShort:
            return  # the connection is closed with the body short of its Content-Length
        finally:
            _marks.reset(token)

    def _latency_draw(self) -> float:
        """This request's delay in ms: latency_ms plus a uniform 0..jitter_ms (drawn only when jitter is set,
        so specs without jitter meet the same faults as before)."""
        faults = self.state.faults
        jitter = self.state.fault_rng.uniform(0.0, faults.jitter_ms) if faults.jitter_ms else 0.0
        return faults.latency_ms + jitter

    def _count_session_request(self, scope) -> None:
        """Count a request of a live session; past `expire_every` the portal ends that session."""
        every = self.state.faults.expire_every
        if not every:
            return
        for token in _cookie_values(scope):
            if token in self.state.sessions:
                seen = self.state.fault_session_requests.get(token, 0) + 1
                self.state.fault_session_requests[token] = seen
                if seen > every:
                    self.state.end_session(token)
                    self.state.fault_session_requests.pop(token, None)
                    self.state.stats["sessions_ended"] += 1
                return

    async def _error(self, send, status: int) -> None:
        body = _ERROR_PAGE.format(status=status).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    def _sender(self, send, marks: set[str]):
        state = self.state
        started: dict | None = None
        download = {"cut": False, "body": b""}

        async def wrapped(message):
            nonlocal started
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                with state.lock:
                    state.stats[f"requests_{_kind(message['status'], headers)}"] += 1
                if "upload" in marks and state.faults.hold_upload_s:
                    await asyncio.sleep(state.faults.hold_upload_s)
                if headers.get(b"content-type", b"").startswith(b"application/pdf"):
                    with state.lock:
                        state.stats["downloads_started"] += 1
                        download["cut"] = state.fault_rng.random() < state.faults.cut_downloads
                        if download["cut"]:
                            state.stats["downloads_cut"] += 1
                    if state.faults.hold_download_s:
                        await asyncio.sleep(state.faults.hold_download_s)
                    if download["cut"]:
                        started = message  # held until the body is known
                        return
                return await send(message)
            if message["type"] == "http.response.body" and started is not None:
                download["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = download["body"]
                headers = [(k, v) for k, v in started.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body) * 2 + 1024).encode()))
                await send({**started, "headers": headers})
                await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
                raise _CutShort()
            return await send(message)

        return wrapped


def _kind(status: int, headers: dict[bytes, bytes]) -> str:
    """What an answer was, for the per-kind request counters: page, api, download, redirect or other."""
    content_type = headers.get(b"content-type", b"")
    if 300 <= status < 400:
        return "redirect"
    if content_type.startswith(b"application/pdf"):
        return "download"
    if content_type.startswith(b"application/json"):
        return "api"
    if content_type.startswith(b"text/html"):
        return "page"
    return "other"


def request_kinds(stats) -> dict[str, int]:
    """Requests counted per kind of answer (what `/stats` shows as `requests_by_kind`)."""
    return {kind: stats.get(f"requests_{kind}", 0) for kind in REQUEST_KINDS}


def _cookie_values(scope) -> list[str]:
    values = []
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                _key, _sep, cookie = part.strip().partition("=")
                values.append(cookie)
    return values


def describe_settings(state) -> dict[str, Any]:
    """Every key's current value for one portal (what `GET /_sandbox/<portal>/faults` shows)."""
    shown = {field.name: getattr(state.faults, field.name) for field in fields(state.faults)}
    for key, attribute in SWITCH_KEYS.items():
        shown[key] = getattr(state, attribute)
    return {key: shown[key] for key in KEYS}


def apply_settings(state, values: dict[str, Any], *, seed: int | None = None) -> dict[str, Any]:
    """Set already-parsed values on a portal (switch keys on the state itself); the RNG starts over."""
    with state.lock:
        for key, value in values.items():
            if key in SWITCH_KEYS:
                setattr(state, SWITCH_KEYS[key], value)
                if key == "captcha_after":
                    state.searches_since_captcha = 0
                    state.captcha_pending.clear()
            else:
                setattr(state.faults, key, value)
        state.reseed_faults(seed)
    return describe_settings(state)


def reset_settings(state) -> dict[str, Any]:
    """Every fault off and the switches back to normal."""
    defaults = {field.name: field.default for field in fields(FaultSettings)}
    return apply_settings(state, {**defaults, "maintenance": False, "layout": 1, "captcha_after": None})
