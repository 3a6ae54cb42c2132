"""The adapter kit: what every payer adapter is built from (declared page objects, waits, login, paging)."""

from bots.kit.pages import Interruptions, LoginForm, MfaForm

__all__ = ["Interruptions", "LoginForm", "MfaForm"]
