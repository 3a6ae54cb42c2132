"""A payer's manifest (`payers/<id>/manifest.toml`): identity, portal, capabilities, limits."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

Capability = Literal["login", "check_claim_status", "download_correspondence", "upload_records",
                     "pull_authorizations"]
CAPABILITIES: tuple[str, ...] = ("login", "check_claim_status", "download_correspondence", "upload_records",
                                 "pull_authorizations")


class ManifestError(ValueError):
    """A manifest file is not valid TOML or has a bad value; the message names the file and the key."""


class Manifest(BaseModel):
    """What an operator and the scheduler need to know about one payer adapter."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: str
    portal_url: HttpUrl
    portal_style: Literal["server_rendered", "single_page_app", "clearinghouse", "other"] = "server_rendered"
    sandbox_portal: str | None = Field(default=None, description="path prefix of the sandbox portal, if any")
    capabilities: list[Capability]
    mfa: Literal["none", "totp", "email_code", "sms_code", "one_time_code"] = Field(
        default="none", description="the second sign-in step: an authenticator (TOTP) code, or a code the "
        "portal e-mails or texts (read by the account's code reader); one_time_code = either")
    trusted_device: bool = Field(default=False, description="tick the portal's remember-this-device box, so a "
                                 "saved session signs in again without a code")
    max_sessions: int = Field(default=1, ge=1, le=20, description="concurrent logged-in sessions allowed")
    pages_per_session: int = Field(default=1, ge=1, le=8, description="claim checks one logged-in session may "
                                   "run at once (fetched pages or JSON only); 1 for a portal that keeps a "
                                   "search or wizard state per session, where a second check would overwrite "
                                   "the first")
    downloads_per_session: int = Field(default=1, ge=1, le=8, description="letters one logged-in session may "
                                       "fetch at once where their links are plain addresses (a night only); "
                                       "1 downloads them one after the other")
    batch_size: int = Field(default=25, ge=1, le=500)
    fetch_media: bool = Field(default=False, description="let the browser fetch images, fonts and media (an "
                              "adapter that reads an image, say); off, they are never requested")
    recheck_after_hours: int = Field(default=20, ge=0, le=24 * 366)
    fresh_tab_every: int = Field(default=100, ge=0, le=100_000, description="claim checks before the night "
                                 "swaps its tab for a new one in the same logged-in session (a renderer's "
                                 "memory grows page by page; closing the tab returns it); 0 = never")

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read and validate a manifest file; ManifestError names the file, each bad key and what it allows."""
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ManifestError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "(top level)"
                if err["type"] == "missing":
                    problems.append(f"{key}: missing")
                elif err["type"] == "extra_forbidden":
                    problems.append(f"{key}: unknown key")
                else:
                    problems.append(f"{key} = {err['input']!r}: {err['msg']}")
            raise ManifestError(f"{path}: " + "; ".join(problems)) from None
