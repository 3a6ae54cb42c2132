"""Recorded portal traffic (HAR files): scrub one before it is committed, and replay it offline.

A HAR of a real portal is the only way to run conformance cases where no sandbox exists. Recording
starts after the login (so no password or one-time code is in it); this module removes what must never
be committed (cookies, authorization headers, patient identifiers) and serves the recording back to a
browser context with Playwright's `route_from_har`, aborting every request the recording lacks.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urljoin, urlsplit

from playwright.sync_api import Browser, BrowserContext

#: headers that carry a login (deleted from every request and response)
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
#: response headers that no longer describe the stored body once values in it are replaced: the body
#: in a HAR is stored decoded, and Playwright computes Content-Length itself when fulfilling.
STALE_HEADERS = frozenset({"content-length", "content-encoding"})
#: query parameter added to a redirect target that several recorded searches share (see make_replayable)
REPLAY_PARAM = "har-replay"


def _pairs(replacements: dict[str, str]) -> list[tuple[str, str]]:
    """(real, synthetic) pairs, longest first, plus their URL-encoded forms (query strings, form posts)."""
    pairs: dict[str, str] = {}
    for real, fake in replacements.items():
        if not real:
            raise ValueError("an empty string cannot be scrubbed")
        pairs[real] = fake
        for encode in (quote, quote_plus):
            pairs.setdefault(encode(real, safe=""), encode(fake, safe=""))
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def _replace(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    for real, fake in pairs:
        text = text.replace(real, fake)
    return text


def _walk(node: Any, pairs: list[tuple[str, str]]) -> Any:
    """Replace real values in every string of the HAR tree; base64 bodies are decoded, fixed, re-encoded."""
    if isinstance(node, str):
        return _replace(node, pairs)
    if isinstance(node, list):
        return [_walk(item, pairs) for item in node]
    if isinstance(node, dict):
        if node.get("encoding") == "base64" and isinstance(node.get("text"), str):
            data = base64.b64decode(node["text"])
            for real, fake in pairs:
                data = data.replace(real.encode(), fake.encode())
            rest = _walk({k: v for k, v in node.items() if k != "text"}, pairs)
            return {**rest, "text": base64.b64encode(data).decode("ascii"), "size": len(data)}
        walked = {key: _walk(value, pairs) for key, value in node.items()}
        if isinstance(walked.get("text"), str) and "mimeType" in walked and "size" in walked:
            walked["size"] = len(walked["text"].encode())  # a response body: its size follows the text
        return walked
    return node


def scrub_har(path_in: str | Path, path_out: str | Path, replacements: dict[str, str]) -> None:
    """Write a copy of a HAR without cookies or authorization headers and with every real value replaced.

    `replacements` maps real values (patient names, member ids, the account's user name, a host) to
    synthetic stand-ins; they are replaced in URLs, headers, post data and response bodies, also in
    their URL-encoded forms and inside base64-encoded bodies.
    """
    har = json.loads(Path(path_in).read_text(encoding="utf-8"))
    for entry in har["log"]["entries"]:
        for part in (entry["request"], entry["response"]):
            part["headers"] = [h for h in part.get("headers", []) if h["name"].lower() not in SECRET_HEADERS]
            part["cookies"] = []
        entry["response"]["headers"] = [h for h in entry["response"]["headers"]
                                        if h["name"].lower() not in STALE_HEADERS]
        # where the portal's servers are is no business of a replay
        entry.pop("serverIPAddress", None)
        entry.pop("_serverPort", None)
        entry["response"].pop("_securityDetails", None)
    har = _walk(har, _pairs(replacements))
    Path(path_out).write_text(json.dumps(har, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _location(entry: dict) -> str | None:
    return next((h["value"] for h in entry["response"]["headers"] if h["name"].lower() == "location"), None)


def _key(entry: dict) -> tuple[str, str, str]:
    request = entry["request"]
    return request["method"], request["url"], (request.get("postData") or {}).get("text", "")


def _answer(entry: dict) -> str:
    response = entry["response"]
    return json.dumps([response["status"], _location(entry), response.get("content", {}).get("text", "")])


def make_replayable(path: str | Path) -> tuple[int, int]:
    """Prepare a scrubbed HAR for `route_from_har`; return (repeated entries dropped, redirects pinned).

    Portals answer a search with Post/Redirect/Get: every search posts to one URL and is redirected to
    the same results URL. `route_from_har` has no notion of order: it would serve the first recorded
    results page for every search. The search posts differ (their bodies are matched), so pointing each
    one's redirect at `results?har-replay=N` makes the replay serve each search its own results.
    Requests answered identically every time (the stylesheet, the search form) are kept once.
    """
    path = Path(path)
    har = json.loads(path.read_text(encoding="utf-8"))
    entries: list[dict] = []
    seen: set[tuple] = set()
    for entry in har["log"]["entries"]:
        if (_key(entry), _answer(entry)) not in seen:
            seen.add((_key(entry), _answer(entry)))
            entries.append(entry)
    dropped = len(har["log"]["entries"]) - len(entries)
    answers: dict[tuple[str, str, str], set[str]] = {}
    for entry in entries:
        answers.setdefault(_key(entry), set()).add(_answer(entry))
    pinned = 0
    for index, entry in enumerate(entries):
        location = _location(entry)
        if entry["response"]["status"] not in (301, 302, 303, 307, 308) or location is None:
            continue
        target_url = urljoin(entry["request"]["url"], location)
        if len(answers.get(("GET", target_url, ""), ())) < 2:
            continue  # one answer for this URL: the replay serves the right one already
        target = next((e for e in entries[index + 1:] if _key(e) == ("GET", target_url, "")), None)
        if target is None:
            continue
        pinned += 1
        separator = "&" if urlsplit(target_url).query else "?"
        new_url = f"{target_url}{separator}{REPLAY_PARAM}={pinned}"
        target["request"]["url"] = new_url
        target["request"].setdefault("queryString", []).append({"name": REPLAY_PARAM, "value": str(pinned)})
        entry["response"]["redirectURL"] = new_url
        for header in entry["response"]["headers"]:
            if header["name"].lower() == "location":
                header["value"] = f"{header['value']}{separator}{REPLAY_PARAM}={pinned}"
    after: dict[tuple[str, str, str], set[str]] = {}
    for entry in entries:
        after.setdefault(_key(entry), set()).add(_answer(entry))
    ambiguous = [key for key, found in after.items() if len(found) > 1]
    if ambiguous:
        # e.g. page 2 of two different searches: the replay could only ever serve the first one
        raise ValueError(f"{len(ambiguous)} request(s) recorded with different answers the replay cannot "
                         f"tell apart, first: {ambiguous[0][0]} {ambiguous[0][1].split('?')[0]}")
    har["log"]["entries"] = entries
    path.write_text(json.dumps(har, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return dropped, pinned


def har_context(browser: Browser, har_path: str | Path, *, base_url: str) -> BrowserContext:
    """A browser context whose every request is answered from the HAR; anything not recorded is aborted.

    Requests are matched on method and URL, POST requests also on their body (the search a bot types),
    so the replay never reaches the network: an unrecorded request fails like a dead portal would.
    """
    # A service worker would answer requests itself, past the router: blocked, as when recording.
    context = browser.new_context(base_url=base_url, accept_downloads=True, service_workers="block")
    context.route_from_har(har_path, not_found="abort")
    return context
