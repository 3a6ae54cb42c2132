"""The web app's settings from the environment: session timeouts and the opt-in trusted-header sign-on."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta


class WebSettingsError(ValueError):
    """A PAYERBOT_WEB_* variable that cannot be used as given."""


@dataclass(frozen=True)
class WebSettings:
    """Idle and absolute session limits; the trusted header and the proxy addresses allowed to send it."""

    idle: timedelta = timedelta(minutes=15)
    absolute: timedelta = timedelta(hours=12)
    trusted_header: str | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default_factory=tuple)

    def is_trusted_proxy(self, address: str | None) -> bool:
        """True when the request came straight from a configured proxy (sign-on or TLS)."""
        if not address or not self.trusted_proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def _minutes(name: str, default: float) -> timedelta:
    text = os.environ.get(name, "").strip()
    if not text:
        return timedelta(minutes=default)
    try:
        value = float(text)
    except ValueError:
        raise WebSettingsError(f"{name}={text!r}: a number of minutes") from None
    if value <= 0:
        raise WebSettingsError(f"{name}={text!r}: must be more than 0 minutes")
    return timedelta(minutes=value)


def settings_from_env() -> WebSettings:
    """PAYERBOT_WEB_IDLE_MINUTES (15), PAYERBOT_WEB_SESSION_MINUTES (720), PAYERBOT_WEB_TRUSTED_HEADER and
    PAYERBOT_WEB_TRUSTED_PROXIES (comma-separated addresses or networks; required with the header)."""
    idle = _minutes("PAYERBOT_WEB_IDLE_MINUTES", 15)
    absolute = _minutes("PAYERBOT_WEB_SESSION_MINUTES", 720)
    header = os.environ.get("PAYERBOT_WEB_TRUSTED_HEADER", "").strip() or None
    proxies_text = os.environ.get("PAYERBOT_WEB_TRUSTED_PROXIES", "").strip()
    proxies = []
    for item in filter(None, (p.strip() for p in proxies_text.split(","))):
        try:
            proxies.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise WebSettingsError(f"PAYERBOT_WEB_TRUSTED_PROXIES: {item!r} is not an address or network") from None
    if header and not proxies:  # (proxies alone are fine: a TLS proxy's X-Forwarded-Proto/-For are then read)
        raise WebSettingsError("PAYERBOT_WEB_TRUSTED_HEADER needs PAYERBOT_WEB_TRUSTED_PROXIES: the addresses of the "
                               "sign-on proxy allowed to send it (anyone else could send the header too)")
    return WebSettings(idle=idle, absolute=absolute, trusted_header=header, trusted_proxies=tuple(proxies))
