"""Recorded portal traffic (HAR files): scrub one before it is committed.

A HAR of a real portal is the only way to run conformance cases where no sandbox exists. Recording
(bots.recording) starts after the login, so no password or one-time code is in it; this module removes
what must never be committed (cookies, authorization headers, patient identifiers). bots.replay serves
the scrubbed recording back to a browser context, in recorded order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

#: headers that carry a login (deleted from every request and response)
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
#: response headers that no longer describe the stored body once values in it are replaced: the body
#: in a HAR is stored decoded, and Playwright computes Content-Length itself when fulfilling.
STALE_HEADERS = frozenset({"content-length", "content-encoding"})


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
