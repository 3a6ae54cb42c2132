"""Declarations a payer's page objects make once: interruption pages, the sign-in form, the MFA step."""

from __future__ import annotations

from dataclasses import dataclass, field

from bots.errors import PortalError


@dataclass(frozen=True)
class Interruptions:
    """Pages any step may land on instead of its answer; the base checks them on every wait.

    Each is a CSS selector ('' when the portal has no such page). `signed_out` is what a page shows
    when the session ended (usually the sign-in form); `error_page` is the portal's generic error
    page (a changed or broken page, PortalChanged); `server_error` a banner a single-page app shows
    for a failed request (PortalUnavailable). `dismiss` maps a modal the portal may throw over any
    page (an idle-timeout warning, a survey) to the control that closes it: Playwright clicks it
    whenever the modal blocks an action, so no step has to know about it.
    """

    maintenance: str = ""
    captcha: str = ""
    signed_out: str = ""
    error_page: str = ""
    server_error: str = ""
    dismiss: dict[str, str] = field(default_factory=dict)

    def selectors(self, *, signed_out_ok: bool = False) -> dict[str, str]:
        """kind -> selector for the interruptions to watch for ('signed_out' left out during login)."""
        found = {"maintenance": self.maintenance, "captcha": self.captcha, "error_page": self.error_page,
                 "server_error": self.server_error, "signed_out": "" if signed_out_ok else self.signed_out}
        return {f"_{kind}": selector for kind, selector in found.items() if selector}


@dataclass(frozen=True)
class MfaForm:
    """The second sign-in step: where the code goes, how it is sent, and what a refusal looks like.

    Which code (TOTP, e-mailed or texted) comes from the manifest's `mfa`; `remember` is the
    trusted-device box, ticked when the manifest says `trusted_device = true`.
    """

    form: str
    code: str
    submit: str
    refused: str = ""
    remember: str = ""


@dataclass(frozen=True)
class LoginForm:
    """The sign-in form as steps: open `path`, fill `fields`, click `submit`, read the outcome.

    `fields` maps a selector to what goes in it: "username", "password" or a credential option name.
    `refusals` maps a selector to the typed error it means (LoginFailed, AccountLocked, ...), checked
    in order, so put the more specific wording first. `signed_in` is what any signed-in page shows;
    `home` the page that shows it when a saved session is still alive (default: `path`).
    `navigates` is False for a single-page app, whose sign-in never loads a new document.
    """

    path: str
    form: str
    fields: dict[str, str]
    submit: str
    signed_in: str
    refusals: dict[str, type[PortalError]] = field(default_factory=dict)
    mfa: MfaForm | None = None
    home: str | None = None
    navigates: bool = True
