"""`payerbot payer new`: create `payers/<id>/` from the template, every quality rule marked todo."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import payers
from bots.quality import checklist_template

TEMPLATE_DIR = Path(payers.__file__).parent / "_template"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class ScaffoldError(ValueError):
    """The id is invalid or taken."""


def create_payer(payer_id: str, *, name: str, url: str, style: str = "server_rendered",
                 sandbox_portal: str = "", mfa: str = "totp", root: Path | None = None) -> Path:
    """Write a new payer folder from the template and return its path. Refuses an existing id."""
    if not ID_PATTERN.match(payer_id):
        raise ScaffoldError(f"payer id {payer_id!r} must be lower-case letters, digits and _ (2-40 chars)")
    root = root or Path(payers.__file__).parent
    target = root / payer_id
    if target.exists():
        raise ScaffoldError(f"payers/{payer_id} already exists")
    values = {
        "id": payer_id, "name": name, "url": url, "style": style, "mfa": mfa,
        "sandbox_portal": sandbox_portal or payer_id,
        "class_name": "".join(part.capitalize() for part in payer_id.split("_")),
        "quality_checklist": checklist_template().rstrip("\n"),
    }
    files = {
        "manifest.toml": "manifest.toml.tmpl", "status_map.toml": "status_map.toml.tmpl",
        "cases.toml": "cases.toml.tmpl", "quality.toml": "quality.toml.tmpl", "pages.py": "pages.py.tmpl",
        "adapter.py": "adapter.py.tmpl", f"tests/test_{payer_id}.py": "tests/test_payer.py.tmpl",
    }
    (target / "tests").mkdir(parents=True)
    (target / "__init__.py").write_text(f'"""{name}: payer adapter package."""\n')
    (target / "tests" / "__init__.py").write_text("")
    for destination, template in files.items():
        text = Template((TEMPLATE_DIR / template).read_text()).substitute(values)
        (target / destination).write_text(text)
    return target
