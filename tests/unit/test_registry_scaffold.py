"""Payer discovery outside the framework, the scaffold's --into and --url, stubs, and derived quality."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import payers
from bots.adapter import PortalAdapter
from bots.quality import (
    CONDITIONAL_TESTS,
    RULES,
    QualityError,
    derive_level,
    load_exemptions,
    proved_rules,
    quality_report,
    summary_line,
)
from bots.registry import (
    ENV_VAR,
    RegistryError,
    get_adapter,
    load_adapter,
    payer_dirs,
    registry,
    reload_registry,
)
from bots.stubs import is_stub
from flows.scaffold import ScaffoldError, create_payer, discovery_hint, portal_root

REPO = Path(payers.__file__).resolve().parent.parent
CONFORMANCE = REPO / "tests" / "conformance"

ADAPTER = '''"""A tiny adapter that imports its pages relatively."""

from bots.adapter import PortalAdapter

from . import pages


class {cls}(PortalAdapter):
    """{pid}."""

    def login(self) -> None:
        """Log in."""
        self.page.goto(pages.LOGIN)

    def is_logged_in(self) -> bool:
        """Never."""
        return False
'''


def write_payer(root: Path, payer_id: str, *, init: bool = True) -> Path:
    """A minimal payer folder (manifest, adapter with a relative import, pages) under `root`."""
    folder = root / payer_id
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(f'id = "{payer_id}"\nname = "{payer_id}"\n'
                                          f'portal_url = "https://{payer_id}.example/"\ncapabilities = ["login"]\n')
    (folder / "pages.py").write_text(f'LOGIN = "https://{payer_id}.example/login"\n')
    cls = "".join(part.capitalize() for part in payer_id.split("_")) + "Adapter"
    (folder / "adapter.py").write_text(ADAPTER.format(cls=cls, pid=payer_id))
    if init:
        (folder / "__init__.py").write_text("")
    return folder


@pytest.fixture
def discovery(monkeypatch: pytest.MonkeyPatch):
    """Set PAYERBOT_PAYERS for one test and rediscover; the built-in registry is restored afterwards."""

    def use(*entries: Path) -> dict[str, type[PortalAdapter]]:
        monkeypatch.setenv(ENV_VAR, os.pathsep.join(str(e) for e in entries))
        return reload_registry()

    yield use
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.undo()
    reload_registry()


# -- discovery ----------------------------------------------------------------------------------------------
def test_payerbot_payers_finds_a_payer_folder_and_a_folder_of_payer_folders(tmp_path: Path, discovery) -> None:
    single = write_payer(tmp_path / "one", "acme_single", init=False)
    write_payer(tmp_path / "many", "acme_first")
    write_payer(tmp_path / "many", "acme_second")
    (tmp_path / "many" / "_drafts").mkdir()  # no manifest: not a payer
    found = discovery(single, tmp_path / "many")
    assert {"meridian", "acme_single", "acme_first", "acme_second"} <= set(found)
    assert found["acme_first"].package_dir == tmp_path / "many" / "acme_first"
    assert single in payer_dirs() and (tmp_path / "many" / "acme_second") in payer_dirs()
    # Built-ins keep their package; outside ones load as synthetic packages, so `from . import pages` works.
    assert found["meridian"].__module__ == "payers.meridian.adapter"
    module = sys.modules[found["acme_first"].__module__]
    assert module.__name__.startswith("payerbot_external_acme_first_") and module.pages.LOGIN.endswith("/login")
    assert found["acme_first"].__module__ != found["acme_second"].__module__
    assert get_adapter("acme_single").implemented_capabilities() == {"login"}


def test_duplicate_id_names_both_folders(tmp_path: Path, discovery) -> None:
    twin = write_payer(tmp_path / "company", "meridian")
    with pytest.raises(RegistryError) as raised:
        discovery(tmp_path / "company")
    message = str(raised.value)
    assert "'meridian'" in message and str(twin) in message and str(REPO / "payers" / "meridian") in message


def test_same_folder_listed_twice_is_one_payer(tmp_path: Path, discovery) -> None:
    write_payer(tmp_path, "acme_twice")
    found = discovery(tmp_path, tmp_path / "acme_twice", REPO / "payers")
    assert sum(1 for pid in found if pid == "acme_twice") == 1 and "meridian" in found


def test_missing_folder_and_broken_adapter_name_the_path(tmp_path: Path, discovery) -> None:
    with pytest.raises(RegistryError, match=str(tmp_path / "nowhere")):
        discovery(tmp_path / "nowhere")
    broken = write_payer(tmp_path, "acme_broken")
    (broken / "adapter.py").write_text("from . import no_such_module\n")
    with pytest.raises(RegistryError, match=str(broken / "adapter.py")):
        discovery(tmp_path)


def test_reload_registry_picks_up_an_edited_external_adapter(tmp_path: Path, discovery) -> None:
    folder = write_payer(tmp_path, "acme_edit")
    assert discovery(tmp_path)["acme_edit"].implemented_capabilities() == {"login"}
    (folder / "adapter.py").write_text((folder / "adapter.py").read_text().replace(
        "self.page.goto(pages.LOGIN)", 'raise NotImplementedError("TODO")'))
    assert reload_registry()["acme_edit"].implemented_capabilities() == set()


def test_entry_point_packages_are_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, discovery) -> None:
    package = tmp_path / "site" / "acme_payers"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Acme\'s payers."""\n')
    write_payer(package, "acme_entry")
    write_payer(tmp_path / "site", "acme_alone")  # an entry point naming a payer package itself
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    points = [importlib.metadata.EntryPoint("acme", "acme_payers", "payerbot.payers"),
              importlib.metadata.EntryPoint("alone", "acme_alone", "payerbot.payers")]

    def entry_points(**selection):
        return [p for p in points if p.group == selection.get("group")]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    found = discovery()
    assert found["acme_entry"].__module__ == "acme_payers.acme_entry.adapter"
    assert found["acme_alone"].__module__ == "acme_alone.adapter"


def test_load_adapter_error_names_the_folder(tmp_path: Path) -> None:
    folder = write_payer(tmp_path, "acme_named")
    (folder / "manifest.toml").write_text((folder / "manifest.toml").read_text().replace(
        'id = "acme_named"', 'id = "acme_other"'))
    with pytest.raises(RegistryError, match=f"{folder}: manifest id 'acme_other' differs"):
        load_adapter(folder)


# -- stubs ----------------------------------------------------------------------------------------------------
def _doc_only():
    """Not written yet."""
    raise NotImplementedError


def _groundwork(claim):
    """Reads a field, then gives up."""
    raw = str(claim).strip()
    raise NotImplementedError(f"TODO: parse {raw!r}")


def _returns_sometimes(claim):
    if claim:
        return claim
    raise NotImplementedError("only truthy claims")


def _real(claim):
    return claim


def _other_error():
    raise ValueError("no")


def test_is_stub_recognises_only_bodies_that_end_in_not_implemented() -> None:
    assert is_stub(_doc_only) and is_stub(_groundwork)
    assert not is_stub(_returns_sometimes) and not is_stub(_real) and not is_stub(_other_error)
    assert not is_stub(len)  # no source: nothing shows it is unfinished
    assert is_stub(PortalAdapter.check_claim_status)


def test_a_stub_override_is_not_an_implemented_capability() -> None:
    class Half(PortalAdapter):
        def login(self) -> None:
            self.page.goto("login")

        def check_claim_status(self, claim):
            """Scaffolded."""
            raise NotImplementedError("TODO")

        @classmethod
        def helper(cls) -> None:
            return None

    assert Half.implemented_capabilities() == {"login"}


# -- scaffold -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "root"), [
    ("https://provider.acme.example", "https://provider.acme.example/"),
    ("https://Provider.Acme.example/portal", "https://provider.acme.example/portal/"),
    ("http://127.0.0.1:8000/acme/", "http://127.0.0.1:8000/acme/"),
])
def test_portal_root_is_normalised(url: str, root: str) -> None:
    assert portal_root(url) == root


@pytest.mark.parametrize(("url", "words"), [
    ("https://provider.acme.example/login", ["looks like a page", "portal root", "https://provider.acme.example/"]),
    ("https://acme.example/portal/Sign-In/", ["looks like a page", "https://acme.example/portal/"]),
    ("https://acme.example/auth", ["looks like a page"]),
    ("https://acme.example/logon", ["looks like a page"]),
    ("https://acme.example/home/index.html", ["looks like a page", "https://acme.example/home/"]),
    ("https://acme.example/?next=home", ["query or fragment"]),
    ("https://acme.example/#start", ["query or fragment"]),
    ("ftp://acme.example/", ["https://"]),
    ("acme.example/portal", ["https://"]),
    ("https:///portal/", ["no host"]),
    ("https://user:pw@acme.example/", ["username or password"]),
])
def test_portal_root_refuses_pages_queries_and_other_schemes(url: str, words: list[str]) -> None:
    with pytest.raises(ScaffoldError) as raised:
        portal_root(url)
    for word in words:
        assert word in str(raised.value)


def test_scaffold_defaults_to_payers_in_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = create_payer("acme_here", name="Acme Here", url="https://acme.example/portal")
    assert folder == tmp_path / "payers" / "acme_here"
    manifest = (folder / "manifest.toml").read_text()
    assert 'portal_url = "https://acme.example/portal/"' in manifest and "quality" not in manifest.split("#")[0]
    assert load_exemptions(folder / "quality.toml") == {}
    assert "from . import pages" in (folder / "adapter.py").read_text()
    assert discovery_hint(tmp_path / "payers") == f"PAYERBOT_PAYERS={tmp_path / 'payers'}"
    assert discovery_hint(REPO / "payers") is None


def test_scaffold_refuses_installed_packages_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="installed packages"):
        create_payer("acme_site", name="x", url="https://x.example/", root=tmp_path / "lib" / "site-packages")
    import sysconfig

    with pytest.raises(ScaffoldError, match="installed packages"):
        create_payer("acme_site", name="x", url="https://x.example/", root=Path(sysconfig.get_paths()["purelib"]))
    with pytest.raises(ScaffoldError, match="looks like a page"):
        create_payer("acme_url", name="x", url="https://x.example/login", root=tmp_path)
    with pytest.raises(ScaffoldError, match="portal_style"):
        create_payer("acme_style", name="x", url="https://x.example/", style="spa", root=tmp_path)
    assert not (tmp_path / "acme_style").exists() and not (tmp_path / "acme_url").exists()


def test_scaffolded_payer_is_discovered_and_its_stub_does_not_count(tmp_path: Path, discovery) -> None:
    create_payer("acme_fresh", name="Acme Fresh", url="https://acme.example/", root=tmp_path)
    adapter = discovery(tmp_path)["acme_fresh"]
    assert adapter.package_dir == tmp_path / "acme_fresh"
    assert set(adapter.manifest.capabilities) == {"login", "check_claim_status"}
    # check_claim_status is a stub until filled in, so the declared capabilities do not match yet.
    assert "check_claim_status" not in adapter.implemented_capabilities()


# -- quality ------------------------------------------------------------------------------------------------
def test_exemptions_need_known_rules_and_reasons(tmp_path: Path) -> None:
    path = tmp_path / "quality.toml"
    assert load_exemptions(path) == {}
    path.write_text('[exempt]\nall-capabilities = "no upload on this portal"\n')
    assert load_exemptions(path) == {"all-capabilities": "no upload on this portal"}
    for text, words in [('[exempt]\nno-such-rule = "x"\n', "unknown rules"),
                        ('[exempt]\nhar-recording = ""\n', "needs a reason"),
                        ('[exempt]\nhar-recording = true\n', "needs a reason"),
                        ('[rules]\nmanifest = "done"\n', "only [exempt]"),
                        ("[exempt\n", "not valid TOML")]:
        path.write_text(text)
        with pytest.raises(QualityError, match=words.replace("[", r"\[")):
            load_exemptions(path)


def test_levels_come_from_proved_rules_and_exemptions() -> None:
    every = {test for rule in RULES for test in rule.proved_by}
    all_caps = ["login", "check_claim_status", "download_correspondence", "upload_records", "pull_authorizations"]
    assert proved_rules(every, all_caps) == {rule.id for rule in RULES}
    assert derive_level(proved_rules(every, all_caps), {}) == "gold"
    # Without upload_records its test is not required for cases-pass, but all-capabilities stays unproved.
    some_caps = ["login", "check_claim_status", "download_correspondence", "pull_authorizations"]
    passed = every - {"test_upload_matches_cases"}
    proved = proved_rules(passed, some_caps)
    assert "cases-pass" in proved and "all-capabilities" not in proved
    assert derive_level(proved, {}) == "silver"
    assert derive_level(proved, {"all-capabilities": "no upload"}) == "gold"
    # A failed bronze test caps the level below bronze whatever passes above it.
    assert derive_level(proved_rules(every - {"test_adapter_imports_only_bots"}, all_caps), {}) == "todo"
    report = quality_report("acme", proved, {"all-capabilities": "no upload", "manifest": "why not"})
    assert report["errors"] == ["manifest is exempt but the suite proved it: remove the exemption"]
    line = summary_line(quality_report("acme", {"manifest"}, {"har-recording": "no HAR yet"}))
    assert line.startswith("quality acme: todo (proved: 1 rules, exempt: 1, not proved: capabilities-declared, ")


def _conformance_tests() -> dict[str, list[str]]:
    """Test function name -> its capability markers, for every test module in tests/conformance."""
    found: dict[str, list[str]] = {}
    for path in CONFORMANCE.glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found[node.name] = [d.args[0].value for d in node.decorator_list
                                    if isinstance(d, ast.Call) and ast.unparse(d.func) == "pytest.mark.capability"]
    return found


def test_every_rule_names_conformance_tests_that_exist() -> None:
    tests = _conformance_tests()
    for rule in RULES:
        assert rule.proved_by, rule.id
        missing = [name for name in rule.proved_by if name not in tests]
        assert not missing, f"rule {rule.id} names tests the conformance suite does not have: {missing}"
    # The capability-only tests are exactly the ones marked with that capability.
    marked = {name: marks[0] for name, marks in tests.items() if marks}
    assert {name: marked[name] for name in CONDITIONAL_TESTS} == CONDITIONAL_TESTS


def test_builtin_quality_files_are_exemptions_only() -> None:
    for payer_id, adapter in registry().items():
        exemptions = load_exemptions(adapter.package_dir / "quality.toml")
        assert all(reason.strip() for reason in exemptions.values()), payer_id


def test_plugin_prints_and_stores_each_payers_quality(tmp_path: Path) -> None:
    """The static conformance checks alone prove some bronze rules; the level stays todo, files owner-only."""
    env = {**os.environ, "PAYERBOT_HOME": str(tmp_path / "home")}
    env.pop(ENV_VAR, None)
    static = [f"{CONFORMANCE / 'test_conformance.py'}::{name}" for name in (
        "test_manifest_valid_and_id_unique", "test_adapter_imports_only_bots", "test_quality_exemptions_are_valid",
        "test_letter_wording_is_valid")]
    run = subprocess.run([sys.executable, "-m", "pytest", *static, "-q",
                          "-p", "no:cacheprovider", "--payer", "meridian", "--payer", "northwind"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert ("quality meridian: todo (proved: 2 rules, exempt: 0, not proved: capabilities-declared, login-once"
            in run.stdout), run.stdout[-2000:]
    assert "quality northwind: todo (proved: 2 rules, exempt: 1," in run.stdout
    assert "quality claimbridge" not in run.stdout  # not chosen: its last check is left alone
    checks = tmp_path / "home" / "checks"
    assert stat.S_IMODE(checks.stat().st_mode) == 0o700
    stored = json.loads((checks / "meridian.json").read_text())
    assert stat.S_IMODE((checks / "meridian.json").stat().st_mode) == 0o600
    assert stored["level"] == "todo" and stored["proved"] == ["manifest", "no-storage-imports"]
    assert stored["exempt"] == {} and stored["errors"] == [] and "checked_at" in stored
    # A run narrowed with -k (`payer check --only`) is shown but never replaces the recorded check.
    partial_home = tmp_path / "partial"
    partial = subprocess.run([sys.executable, "-m", "pytest", static[0], "-q", "-p", "no:cacheprovider",
                              "--payer", "meridian", "-k", "manifest_valid"], cwd=REPO,
                             env={**env, "PAYERBOT_HOME": str(partial_home)}, capture_output=True, text=True,
                             timeout=300, check=False)
    assert partial.returncode == 0 and "[partial run: not recorded]" in partial.stdout, partial.stdout[-2000:]
    assert not (partial_home / "checks" / "meridian.json").exists()


def test_payer_list_shows_the_last_check_or_unchecked(tmp_path: Path, monkeypatch) -> None:
    from flows.payer_cli import payer_app

    monkeypatch.setenv("PAYERBOT_HOME", str(tmp_path))
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "meridian.json").write_text(json.dumps({"payer": "meridian", "level": "gold"}))
    result = CliRunner().invoke(payer_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    quality = {row["id"]: row["quality"] for row in json.loads(result.output)}
    assert quality["meridian"] == "gold" and quality["northwind"] == "unchecked"
