"""Signing in from the payer's declared `LoginForm`: one attempt, the outcome typed, MFA as the manifest says."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

import pyotp

from bots.errors import MfaRequired, PortalChanged
from bots.kit.pages import LoginForm

if TYPE_CHECKING:
    from bots.adapter import PortalSession
    from bots.manifest import Manifest

#: how long to wait for an e-mailed or texted code to reach the code reader
CODE_WAIT_SECONDS = 20


class Login:
    """The sign-in half of the base adapter: `is_logged_in`, `login` and the `after_login` hook."""

    session: PortalSession
    manifest: ClassVar[Manifest]
    #: the payer's sign-in form (declared in its pages.py); None for an adapter that signs in by hand
    login_form: ClassVar[LoginForm | None] = None

    def is_logged_in(self) -> bool:
        """Open the home page: the signed-in marker means the saved session still works."""
        form = self._form()
        self.goto(form.home if form.home is not None else form.path)
        return self.expect({"in": form.signed_in, "out": form.form}, signed_out_ok=True) == "in"

    def login(self) -> None:
        """Sign in exactly once with the session's credential; a refusal is its typed error, never retried."""
        form = self._form()
        self.goto(form.path)
        if self.expect({"form": form.form, "in": form.signed_in}, signed_out_ok=True) == "in":
            return self.after_login()
        credential = self.session.credential
        for selector, what in form.fields.items():
            value = {"username": credential.username, "password": credential.password.get_secret_value()}.get(
                what, credential.options.get(what))
            if value is None:
                self.fail(PortalChanged, f"the sign-in form asks for {what!r}, which the credential lacks")
            self.page.fill(selector, value)
        sent_after = time.time()
        self.credentials_submitted()
        mfa = {"mfa": form.mfa.form} if form.mfa else {}
        # A refusal is its typed error; anything else (a captcha, maintenance, an unknown sign-in page)
        # is one too, from expect.
        key = self.click(form.submit, {"in": form.signed_in, **mfa}, navigates=form.navigates, signed_out_ok=True,
                         errors=form.refusals)
        if key == "mfa":
            self._answer_mfa(form, sent_after)
        self.after_login()

    def after_login(self) -> None:
        """Hook: a step every sign-in ends with (pick a payer on a clearinghouse, dismiss a notice)."""

    def _answer_mfa(self, form: LoginForm, sent_after: float) -> None:
        mfa = form.mfa
        assert mfa is not None
        if self.manifest.mfa == "totp":
            code, event = self.totp_code(), "totp"
        else:
            code, event = self.one_time_code(sent_after), "one_time_code"
        self.page.fill(mfa.code, code)
        self.session.events.append(event)
        if mfa.remember and self.manifest.trusted_device:
            self.page.check(mfa.remember)  # later sign-ins from this saved browser context skip the code
        outcomes = {"in": form.signed_in, "again": form.form, **({"refused": mfa.refused} if mfa.refused else {})}
        if self.click(mfa.submit, outcomes, navigates=form.navigates, signed_out_ok=True) != "in":
            # refused, or the half-signed-in state expired back to the sign-in form
            self.fail(MfaRequired, "the portal refused the one-time code")

    def totp_code(self) -> str:
        """The current TOTP code from the stored seed."""
        seed = self.session.credential.totp_seed
        if seed is None:
            self.fail(MfaRequired, "portal asks for an authenticator code and no TOTP seed is stored")
        return pyotp.TOTP(seed.get_secret_value()).now()

    def one_time_code(self, sent_after: float) -> str:
        """The code the portal e-mailed or texted after `sent_after`, from the session's code reader."""
        provider = self.session.one_time_codes
        if provider is None:
            self.fail(MfaRequired, "portal sent a one-time code and no code reader is configured")
        deadline = time.monotonic() + CODE_WAIT_SECONDS
        while time.monotonic() < deadline:
            code = provider.latest_code(self.session.credential, after=sent_after)
            if code:
                return code
            time.sleep(0.5)
        self.fail(MfaRequired, "no one-time code arrived")

    def _form(self) -> LoginForm:
        if self.login_form is None:
            raise NotImplementedError(f"{type(self).__name__} declares no login_form and does not sign in by hand")
        return self.login_form
