"""Typed portal errors: every failure a bot meets is one of these, never an empty result."""

from __future__ import annotations


class PortalError(Exception):
    """Base of every portal error. Messages must never carry secrets or patient data."""

    transient: bool = False
    #: whether `fail()` keeps a screenshot: only errors a person looks at need one (an ended session,
    #: a 5xx or a maintenance page is retried or deferred, and a screenshot of each costs real time)
    evidence: bool = True
    #: the operator task kind this error becomes when it stops a bot
    task_kind: str = "portal_error"

    def __init__(self, message: str, *, url: str | None = None, screenshot_path: str | None = None,
                 page_html_path: str | None = None):
        super().__init__(message)
        self.message = message
        self.url = url
        self.screenshot_path = screenshot_path
        self.page_html_path = page_html_path  # the page's structure, scrubbed of every text and value
        self.during_login = False  # set by the session when the error came from logging in

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.message}"


class LoginFailed(PortalError):
    """The portal refused the credentials. Never retried: portals lock accounts."""

    task_kind = "login_failed"


class MfaRequired(PortalError):
    """The portal wants a one-time code the bot cannot produce."""

    task_kind = "mfa_required"


class AccountLocked(PortalError):
    """The portal says the account is locked or disabled."""

    task_kind = "account_locked"


class CaptchaChallenge(PortalError):
    """The portal put up a captcha. Bots never try to solve one; a human must."""

    task_kind = "captcha_challenge"


class PortalChanged(PortalError):
    """The page is not one the adapter recognises: a selector, a layout or a flow changed."""

    task_kind = "portal_changed"


class PortalUnavailable(PortalError):
    """Maintenance page, 5xx or a timeout: worth trying again later."""

    transient = True
    evidence = False
    task_kind = "portal_unavailable"


class MaintenanceWindow(PortalUnavailable):
    """The portal shows a maintenance page: the night defers this payer and tries again later."""


class NotFound(PortalError):
    """The portal has no such record (adapters usually report this as a finding instead)."""

    task_kind = "not_found"


class UploadNotSupported(PortalError):
    """The payer's portal takes no uploads: the packet must go another way (fax, mail, clearinghouse)."""

    task_kind = "manual_upload_needed"


class SessionExpired(PortalError):
    """The portal logged the bot out mid-run; the runner logs in again once (not a blind retry)."""

    evidence = False
    task_kind = "session_expired"


class SessionUnstable(PortalError):
    """The portal kept ending the session: the account's login budget for the night is spent."""

    task_kind = "session_unstable"
