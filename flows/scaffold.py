"""`payerbot payer new`: create `<dir>/<id>/` from the template (default `./payers`), never in site-packages."""

from __future__ import annotations

import re
import shutil
import site
import sysconfig
from pathlib import Path
from string import Template
from urllib.parse import urlsplit, urlunsplit

import payers
from bots.manifest import Manifest, ManifestError
from bots.quality import exemptions_template

TEMPLATE_DIR = Path(payers.__file__).parent / "_template"
BUILTIN_DIR = Path(payers.__file__).resolve().parent
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Last path segments that name a page rather than the portal root the adapter's paths are joined onto.
PAGE_SEGMENTS = frozenset({"login", "log-in", "signin", "sign-in", "sign_in", "logon", "signon", "auth"})


class ScaffoldError(ValueError):
    """The id, the URL or the target folder is invalid, or the id is taken."""


def portal_root(url: str) -> str:
    """Validate a portal root URL (http/https, a host, no query, fragment or page) and end it with "/"."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ScaffoldError(f"--url {url!r} must start with https:// (or http://)")
    if not parts.hostname:
        raise ScaffoldError(f"--url {url!r} has no host name")
    if parts.username or parts.password:
        raise ScaffoldError(f"--url {url!r} must not carry a username or password; store them with "
                            "`payerbot credentials set`")
    if "?" in url or "#" in url:
        raise ScaffoldError(f"--url {url!r} has a query or fragment; give the portal root, e.g. "
                            f"{parts.scheme}://{parts.netloc}/")
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and (segments[-1].lower() in PAGE_SEGMENTS or "." in segments[-1]):
        # The adapter's page paths ("login", "claims/search") are joined onto this URL: a login page or a
        # file as the root would make every path wrong.
        root = urlunsplit((parts.scheme, parts.netloc, "/".join(["", *segments[:-1], ""]), "", ""))
        raise ScaffoldError(f"--url {url!r} looks like a page ({segments[-1]!r}); give the portal root that "
                            f"page paths are joined onto, e.g. {root}")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


def _installed_locations() -> list[Path]:
    """Folders where installed packages live (site-packages, dist-packages, the user site)."""
    found = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    found.update(getattr(site, "getsitepackages", list)())
    found.add(site.getusersitepackages())
    return [Path(p).resolve() for p in found if p]


def refuse_installed(folder: Path) -> None:
    """Raise ScaffoldError when `folder` is inside an installed-packages location."""
    resolved = folder.resolve()
    if any(part in ("site-packages", "dist-packages") for part in resolved.parts) or any(
            resolved.is_relative_to(location) for location in _installed_locations()):
        raise ScaffoldError(f"{folder} is inside installed packages; scaffold into your own folder with "
                            "--into DIR (and list it in PAYERBOT_PAYERS)")


def default_root() -> Path:
    """`./payers` in the current directory (not next to the installed package)."""
    return Path.cwd() / "payers"


def discovery_hint(root: Path) -> str | None:
    """How to make payers in `root` discovered, or None when it is the built-in payers folder."""
    if root.resolve() == BUILTIN_DIR:
        return None
    return f"PAYERBOT_PAYERS={root.resolve()}"


def create_payer(payer_id: str, *, name: str, url: str, style: str = "server_rendered",
                 sandbox_portal: str = "", mfa: str = "totp", root: Path | None = None) -> Path:
    """Write a new payer folder from the template into `root` (default ./payers) and return its path."""
    if not ID_PATTERN.match(payer_id):
        raise ScaffoldError(f"payer id {payer_id!r} must be lower-case letters, digits and _ (2-40 chars)")
    url = portal_root(url)
    root = (root or default_root()).resolve()
    refuse_installed(root)
    target = root / payer_id
    if target.exists():
        raise ScaffoldError(f"{target} already exists")
    values = {
        "id": payer_id, "name": name, "url": url, "style": style, "mfa": mfa,
        "sandbox_portal": sandbox_portal or payer_id,
        "class_name": "".join(part.capitalize() for part in payer_id.split("_")),
        "quality_exemptions": exemptions_template().rstrip("\n"),
    }
    files = {
        "manifest.toml": "manifest.toml.tmpl", "status_map.toml": "status_map.toml.tmpl",
        "cases.toml": "cases.toml.tmpl", "quality.toml": "quality.toml.tmpl", "pages.py": "pages.py.tmpl",
        "adapter.py": "adapter.py.tmpl", f"tests/test_{payer_id}.py": "tests/test_payer.py.tmpl",
    }
    (target / "tests").mkdir(parents=True)
    try:
        (target / "__init__.py").write_text(f'"""{name}: payer adapter package."""\n')
        (target / "tests" / "__init__.py").write_text("")
        for destination, template in files.items():
            text = Template((TEMPLATE_DIR / template).read_text()).substitute(values)
            (target / destination).write_text(text)
        # A bad --style or --mfa is refused now, not when the registry first loads the folder.
        Manifest.load(target / "manifest.toml")
    except ManifestError as exc:
        shutil.rmtree(target)
        raise ScaffoldError(str(exc).replace(str(target / "manifest.toml") + ": ", "")) from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target
