"""The payer registry: built-in `payers/<id>/` folders, `PAYERBOT_PAYERS` folders and `payerbot.payers` packages."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import payers
from bots.adapter import PortalAdapter
from bots.manifest import Manifest, ManifestError
from bots.status_map import StatusMap

BUILTIN_DIR = Path(payers.__file__).resolve().parent
ENV_VAR = "PAYERBOT_PAYERS"
ENTRY_POINT_GROUP = "payerbot.payers"
# Synthetic package names for folders outside any importable package start with this prefix.
EXTERNAL_PREFIX = "payerbot_external_"


class RegistryError(Exception):
    """A payer folder is broken: no adapter class, a bad manifest, or a duplicate id."""


@dataclass(frozen=True)
class PayerFolder:
    """One discovered payer folder, the package name its modules import under, and where it came from."""

    path: Path
    package: str | None  # None: loaded as a synthetic package (a folder outside every importable package)
    origin: str


def _is_payer_folder(path: Path) -> bool:
    """A folder holding a manifest; template folders (names starting with '_') are not payers."""
    return (path / "manifest.toml").is_file() and not path.name.startswith("_")


def _folders_in(path: Path, origin: str, package: str | None = None) -> list[PayerFolder]:
    """`path` itself when it is a payer folder, else its payer sub-folders; an unusable path is an error."""
    if not path.is_dir():
        raise RegistryError(f"{path}: listed by {origin} but is not a folder")
    if (path / "manifest.toml").is_file():
        return [PayerFolder(path, package, origin)]
    return [PayerFolder(child, f"{package}.{child.name}" if package else None, origin)
            for child in sorted(path.iterdir()) if child.is_dir() and _is_payer_folder(child)]


def _builtin_folders() -> list[PayerFolder]:
    """The framework's own payers, imported as `payers.<id>`."""
    return _folders_in(BUILTIN_DIR, "the built-in payers folder", "payers")


def _env_folders() -> list[PayerFolder]:
    """Folders named in PAYERBOT_PAYERS (os.pathsep-separated); each is a payer folder or holds some."""
    found: list[PayerFolder] = []
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            found += _folders_in(Path(entry.strip()).expanduser().resolve(), ENV_VAR)
    return found


def _entry_point_folders() -> list[PayerFolder]:
    """Folders of the modules that installed packages register under the `payerbot.payers` entry points."""
    found: list[PayerFolder] = []
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {point.name!r} ({point.value})"
        try:
            module = point.load()
        except Exception as exc:  # any import failure in someone else's package: name the entry point
            raise RegistryError(f"{origin}: cannot be loaded: {exc}") from exc
        if not isinstance(module, ModuleType) or not getattr(module, "__file__", None):
            raise RegistryError(f"{origin}: must name a module or package, not {module!r}")
        # A package's folder is its own; a plain module's folder is the one it sits in (not importable as
        # a package under the module's name, so its payers load as synthetic packages).
        is_package = hasattr(module, "__path__")
        folder = Path(module.__file__).resolve().parent
        found += _folders_in(folder, origin, module.__name__ if is_package else None)
    return found


@cache
def discovered_folders() -> tuple[PayerFolder, ...]:
    """Every payer folder: built-in first, then PAYERBOT_PAYERS, then entry points; one path listed once."""
    seen: dict[Path, PayerFolder] = {}
    for folder in _builtin_folders() + _env_folders() + _entry_point_folders():
        # The same folder reached twice (e.g. PAYERBOT_PAYERS naming the built-in folder) is one payer.
        seen.setdefault(folder.path.resolve(), folder)
    return tuple(seen.values())


def payer_dirs() -> list[Path]:
    """Every discovered payer folder (built-in, PAYERBOT_PAYERS and entry points)."""
    return [folder.path for folder in discovered_folders()]


def _synthetic_name(folder: Path) -> str:
    """A module name unique to this folder's path, stable across reloads, valid as an identifier."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    return f"{EXTERNAL_PREFIX}{folder.name}_{digest}"


def _import_synthetic_package(folder: Path) -> str:
    """Load `folder` as a package under a synthetic name (so `from . import pages` works) and return the name."""
    name = _synthetic_name(folder)
    # Loading again (after reload_registry) picks up edited files: drop the package and its submodules first.
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    else:
        # No __init__.py: an empty package whose submodules are found in the folder.
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    if spec is None:
        raise RegistryError(f"{folder}: cannot be loaded as a package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return name


def _package_for(folder: Path) -> str | None:
    """`payers.<id>` for a built-in folder; None (synthetic) for any other folder."""
    return f"payers.{folder.name}" if folder.resolve().parent == BUILTIN_DIR else None


def load_adapter(folder: Path, package: str | None = None) -> type[PortalAdapter]:
    """Import one payer folder's adapter class and attach its manifest and status map.

    `package` is the folder's importable name; without one, a built-in folder is `payers.<id>` and any
    other folder is loaded as a synthetic package.
    """
    try:
        manifest = Manifest.load(folder / "manifest.toml")
    except ManifestError as exc:
        raise RegistryError(f"{folder}: bad manifest: {exc}") from None
    if manifest.id != folder.name:
        raise RegistryError(f"{folder}: manifest id {manifest.id!r} differs from the folder name")
    if not (folder / "adapter.py").is_file():
        raise RegistryError(f"{folder}: has no adapter.py")
    package = package or _package_for(folder)
    try:
        package = package or _import_synthetic_package(folder)
        module = importlib.import_module(f"{package}.adapter")
    except RegistryError:
        raise
    except Exception as exc:
        # An adapter that fails to import is named by its file, with the original error chained.
        raise RegistryError(f"{folder / 'adapter.py'}: cannot be imported: {exc!r}") from exc
    classes = [cls for _name, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, PortalAdapter) and cls is not PortalAdapter and cls.__module__ == module.__name__]
    if len(classes) != 1:
        raise RegistryError(f"{folder / 'adapter.py'} must define exactly one PortalAdapter subclass")
    adapter = classes[0]
    adapter.manifest = manifest
    status_file = folder / "status_map.toml"
    adapter.status_map = StatusMap.load(status_file) if status_file.exists() else StatusMap({})
    adapter.package_dir = folder
    return adapter


@cache
def registry() -> dict[str, type[PortalAdapter]]:
    """payer id -> adapter class, for every discovered payer. A duplicate id is an error naming both folders."""
    found: dict[str, type[PortalAdapter]] = {}
    origins: dict[str, PayerFolder] = {}
    for folder in discovered_folders():
        adapter = load_adapter(folder.path, folder.package)
        payer_id = adapter.manifest.id
        if payer_id in found:
            first = origins[payer_id]
            raise RegistryError(f"duplicate payer id {payer_id!r}: {first.path} (from {first.origin}) and "
                                f"{folder.path} (from {folder.origin})")
        found[payer_id], origins[payer_id] = adapter, folder
    return found


def reload_registry() -> dict[str, type[PortalAdapter]]:
    """Forget every discovered folder and adapter, then discover again (tests, and the CLI after `payer new`)."""
    discovered_folders.cache_clear()
    registry.cache_clear()
    importlib.invalidate_caches()
    return registry()


def get_adapter(payer_id: str) -> type[PortalAdapter]:
    """The adapter class for a payer id."""
    try:
        return registry()[payer_id]
    except KeyError:
        raise RegistryError(f"no payer {payer_id!r}; registered: {sorted(registry())}") from None
