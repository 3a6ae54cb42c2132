"""What every route shares: the database, the data folder, the settings, the templates and today's date."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine

from workqueue.web.settings import WebSettings


class Signer:
    """HMAC with a per-process key: the sign-in form's token and signed flash messages."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)

    def sign(self, text: str) -> str:
        """A hex HMAC of the text."""
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def pack(self, payload: dict) -> str:
        """Payload as a signed cookie value."""
        body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        return f"{body}.{self.sign('flash:' + body)}"

    def unpack(self, value: str | None) -> dict | None:
        """The payload of a value `pack` made, or None if it was altered."""
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(self.sign("flash:" + body), mac):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None


@dataclass
class WebState:
    """The app's shared parts, kept on `app.state.web`."""

    engine: Engine
    home: Path
    settings: WebSettings
    templates: Jinja2Templates
    today: Callable[[], date] = date.today
    signer: Signer = field(default_factory=Signer)


def web(request: Request) -> WebState:
    """The WebState of the app serving this request."""
    return request.app.state.web
