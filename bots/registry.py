"""The payer registry: every `payers/<id>/` folder with a manifest, discovered automatically."""

from __future__ import annotations

import importlib
import inspect
from functools import cache
from pathlib import Path

import payers
from bots.adapter import PortalAdapter
from bots.manifest import Manifest, ManifestError
from bots.status_map import StatusMap


class RegistryError(Exception):
    """A payer folder is broken: no adapter class, a bad manifest, or a duplicate id."""


def payer_dirs() -> list[Path]:
    """Folders under `payers/` that hold a manifest (templates start with '_' and are skipped)."""
    root = Path(payers.__file__).parent
    return sorted(p for p in root.iterdir() if (p / "manifest.toml").exists() and not p.name.startswith("_"))


def load_adapter(folder: Path) -> type[PortalAdapter]:
    """Import one payer folder's adapter class and attach its manifest and status map."""
    try:
        manifest = Manifest.load(folder / "manifest.toml")
    except ManifestError as exc:
        raise RegistryError(f"payers/{folder.name}: bad manifest: {exc}") from None
    if manifest.id != folder.name:
        raise RegistryError(f"payers/{folder.name}: manifest id {manifest.id!r} differs from the folder name")
    module = importlib.import_module(f"payers.{folder.name}.adapter")
    classes = [cls for _name, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, PortalAdapter) and cls is not PortalAdapter and cls.__module__ == module.__name__]
    if len(classes) != 1:
        raise RegistryError(f"payers/{folder.name}/adapter.py must define exactly one PortalAdapter subclass")
    adapter = classes[0]
    adapter.manifest = manifest
    status_file = folder / "status_map.toml"
    adapter.status_map = StatusMap.load(status_file) if status_file.exists() else StatusMap({})
    adapter.package_dir = folder
    return adapter


@cache
def registry() -> dict[str, type[PortalAdapter]]:
    """payer id -> adapter class, for every registered payer. Duplicate ids are an error."""
    found: dict[str, type[PortalAdapter]] = {}
    for folder in payer_dirs():
        adapter = load_adapter(folder)
        if adapter.manifest.id in found:
            raise RegistryError(f"duplicate payer id {adapter.manifest.id!r}")
        found[adapter.manifest.id] = adapter
    return found


def get_adapter(payer_id: str) -> type[PortalAdapter]:
    """The adapter class for a payer id."""
    try:
        return registry()[payer_id]
    except KeyError:
        raise RegistryError(f"no payer {payer_id!r}; registered: {sorted(registry())}") from None
