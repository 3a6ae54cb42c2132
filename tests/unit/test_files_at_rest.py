"""Patient data and secrets at rest: private folders and files from creation, refusals, stored paths, scrubbing."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.credentials import Credential, CredentialStore, CredentialStoreError
from bots.evidence import EvidenceStore, from_stored, to_stored
from bots.files import NotPrivateError, copy_private, ensure_private, private_dir, private_umask, write_private
from bots.scrub import scrub_html


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """Every test starts with a permissive umask, so only payerbot's own care can make files private."""
    previous = os.umask(0o000)
    yield
    os.umask(previous)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    home, secrets = tmp_path / "home", tmp_path / "secrets"
    monkeypatch.setenv("PAYERBOT_HOME", str(home))
    monkeypatch.setenv("PAYERBOT_SECRETS_DIR", str(secrets))
    monkeypatch.delenv("PAYERBOT_SECRET_KEY", raising=False)
    monkeypatch.delenv("PAYERBOT_DATABASE_URL", raising=False)
    return home, secrets


def credential(**kw) -> Credential:
    return Credential(**{"payer_id": "meridian", "account": "main", "username": "u1", "password": "Hunter2!",
                         "totp_seed": "JBSWY3DPEHPK3PXP", **kw})


# -- bots.files -----------------------------------------------------------------------------------------------

def test_private_dir_makes_every_missing_parent_0700(tmp_path: Path):
    target = private_dir(tmp_path / "a" / "b" / "c")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert folder.is_dir() and mode(folder) == 0o700
    assert private_dir(target) == target  # existing folders are fine


def test_write_private_is_0600_atomic_and_leaves_no_temp_file(tmp_path: Path):
    path = write_private(tmp_path / "new" / "file.bin", b"first")
    assert path.read_bytes() == b"first" and mode(path) == 0o600 and mode(path.parent) == 0o700
    write_private(path, [b"sec", b"ond"])
    assert path.read_bytes() == b"second" and mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.bin"]


def test_write_private_exclusive_never_replaces_a_file(tmp_path: Path):
    path = write_private(tmp_path / "local.key", b"key one", exclusive=True)
    with pytest.raises(FileExistsError):
        write_private(path, b"key two", exclusive=True)
    assert path.read_bytes() == b"key one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.key"]


def test_write_private_failure_leaves_nothing_behind(tmp_path: Path):
    def chunks():
        yield b"half"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_private(tmp_path / "letter.pdf", chunks())
    assert list(tmp_path.iterdir()) == []


def test_copy_private_streams_with_a_cap(tmp_path: Path):
    source = tmp_path / "source.pdf"
    source.write_bytes(b"%PDF-" + b"x" * 200_000)
    os.chmod(source, 0o644)
    copy = copy_private(source, tmp_path / "out" / "copy.pdf")
    assert copy.read_bytes() == source.read_bytes() and mode(copy) == 0o600
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        copy_private(source, tmp_path / "out" / "capped.pdf", max_bytes=1000)
    assert not (tmp_path / "out" / "capped.pdf").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["copy.pdf"]


def test_private_umask_covers_files_other_libraries_create(tmp_path: Path):
    previous = private_umask()
    try:
        (tmp_path / "lib.txt").write_text("x")
        (tmp_path / "libdir").mkdir()
        assert mode(tmp_path / "lib.txt") == 0o600 and mode(tmp_path / "libdir") == 0o700
    finally:
        os.umask(previous)


def test_ensure_private_names_the_file_and_the_fix(tmp_path: Path):
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    os.chmod(path, 0o640)
    with pytest.raises(NotPrivateError) as caught:
        ensure_private(path, "key file")
    message = str(caught.value)
    assert str(path) in message and f"chmod 600 {path}" in message and "0640" in message
    os.chmod(path, 0o600)
    ensure_private(path, "key file")


# -- the credential store -------------------------------------------------------------------------------------

def test_credential_store_files_are_private_from_creation(folders):
    _home, secrets = folders
    store = CredentialStore()
    store.put(credential())
    store.save_session(credential(), {"cookies": [{"name": "sid", "value": "abc"}]})
    trace = store.write_encrypted(secrets / "traces" / "t.trace.enc", b"trace bytes")
    assert mode(secrets) == 0o700 and mode(secrets / "sessions") == 0o700 and mode(secrets / "traces") == 0o700
    for path in (secrets / "local.key", secrets / "credentials.enc", secrets / "sessions" / "meridian__main.enc",
                 trace):
        assert mode(path) == 0o600, path
    assert sorted(p.name for p in secrets.iterdir()) == ["credentials.enc", "local.key", "sessions", "traces"]
    assert store.get("meridian", "main").password.get_secret_value() == "Hunter2!"
    assert store.load_session(credential()) == {"cookies": [{"name": "sid", "value": "abc"}]}
    assert store.decrypt_bytes(trace.read_bytes()) == b"trace bytes"


def test_key_file_is_never_readable_by_others_even_for_a_moment(folders, monkeypatch: pytest.MonkeyPatch):
    _home, secrets = folders
    seen: list[int] = []
    real_link = os.link

    def watching_link(src, dst, *args, **kw):
        seen.append(mode(Path(src)))  # the key's bytes are already in this file when it gets its name
        return real_link(src, dst, *args, **kw)

    monkeypatch.setattr(os, "link", watching_link)
    CredentialStore().put(credential())
    assert seen == [0o600] and mode(secrets / "local.key") == 0o600


@pytest.mark.parametrize("name, what", [("local.key", "key file"), ("credentials.enc", "credential store")])
@pytest.mark.parametrize("loose", [0o644, 0o660, 0o602])
def test_a_key_file_or_store_others_may_read_or_write_is_refused(folders, name, what, loose):
    _home, secrets = folders
    CredentialStore().put(credential())
    os.chmod(secrets / name, loose)
    with pytest.raises(CredentialStoreError) as caught:
        CredentialStore().all()
    message = str(caught.value)
    assert what in message and str(secrets / name) in message and f"chmod 600 {secrets / name}" in message
    assert "Hunter2!" not in message
    os.chmod(secrets / name, 0o600)
    assert [c.account for c in CredentialStore().all()] == ["main"]


def test_a_saved_session_others_may_read_is_not_reused(folders):
    _home, secrets = folders
    store = CredentialStore()
    store.put(credential())
    store.save_session(credential(), {"cookies": []})
    os.chmod(secrets / "sessions" / "meridian__main.enc", 0o644)
    assert store.load_session(credential()) is None
    store.save_session(credential(), {"cookies": [1]})
    assert mode(secrets / "sessions" / "meridian__main.enc") == 0o600
    assert store.load_session(credential()) == {"cookies": [1]}


# -- `payerbot credentials set` ---------------------------------------------------------------------------------

def test_credentials_set_prompts_without_echo(folders):
    from flows.cli import app

    result = CliRunner().invoke(app, ["credentials", "set", "meridian", "main"],
                                input="billing01\nS3cret-pass\nJBSWY3DPEHPK3PXP\n")
    assert result.exit_code == 0, result.output
    assert "S3cret-pass" not in result.output and "JBSWY3DPEHPK3PXP" not in result.output
    stored = CredentialStore().get("meridian", "main")
    assert (stored.username, stored.password.get_secret_value(), stored.totp_seed.get_secret_value()) == (
        "billing01", "S3cret-pass", "JBSWY3DPEHPK3PXP")


def test_credentials_set_reads_secrets_from_stdin(folders):
    from flows.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["credentials", "set", "meridian", "main", "--username", "billing01", "--stdin",
                                 "--option", "region=east"], input="pass with spaces \njbsw y3dp ehpk 3pxp\n")
    assert result.exit_code == 0, result.output
    stored = CredentialStore().get("meridian", "main")
    assert stored.password.get_secret_value() == "pass with spaces "
    assert stored.totp_seed.get_secret_value() == "JBSWY3DPEHPK3PXP" and stored.options == {"region": "east"}
    result = runner.invoke(app, ["credentials", "set", "northwind", "main", "--username", "nw", "--stdin"],
                           input="only-a-password\n")
    assert result.exit_code == 0, result.output
    assert CredentialStore().get("northwind", "main").totp_seed is None


@pytest.mark.parametrize("args, stdin, expected", [
    (["--password", "x"], "", "No such option"),
    (["--totp-seed", "x"], "", "No such option"),
    (["--stdin"], "pw\n", "--username"),
    (["--username", "u", "--stdin"], "", "password is empty"),
    (["--username", "u", "--stdin"], "pw\nnot base32!\n", "not base32"),
])
def test_credentials_set_refuses_secrets_as_values_and_bad_input(folders, args, stdin, expected):
    from flows.cli import app

    result = CliRunner().invoke(app, ["credentials", "set", "meridian", "main", *args], input=stdin)
    assert result.exit_code != 0
    assert expected in " ".join(result.output.split())
    assert not (folders[1] / "credentials.enc").exists()


# -- stored paths ------------------------------------------------------------------------------------------------

def test_stored_paths_are_relative_to_the_home_and_survive_a_move(folders, tmp_path: Path, monkeypatch):
    home, _ = folders
    inside = home / "documents" / "meridian" / "abc.pdf"
    assert to_stored(inside) == "documents/meridian/abc.pdf"
    assert to_stored("documents/meridian/abc.pdf") == "documents/meridian/abc.pdf"  # already stored: unchanged
    assert from_stored("documents/meridian/abc.pdf") == home / "documents" / "meridian" / "abc.pdf"
    outside = tmp_path / "elsewhere" / "x.pdf"
    assert to_stored(outside) == str(outside) and from_stored(str(outside)) == outside
    moved = tmp_path / "moved-home"
    monkeypatch.setenv("PAYERBOT_HOME", str(moved))
    assert from_stored("documents/meridian/abc.pdf") == moved.resolve() / "documents" / "meridian" / "abc.pdf"
    assert to_stored(moved / "packets" / "p.pdf") == "packets/p.pdf"
    assert from_stored("packets/p.pdf", home) == home / "packets" / "p.pdf"


def test_evidence_store_is_private(folders):
    home, _ = folders
    digest, path = EvidenceStore().put_bytes(b"\x89PNG screenshot", ".png")
    assert digest == hashlib.sha256(b"\x89PNG screenshot").hexdigest()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(home / "evidence") == 0o700
    assert EvidenceStore().put_bytes(b"\x89PNG screenshot", ".png") == (digest, path)


def test_sqlite_database_and_its_wal_and_shm_are_0600(folders):
    from sqlalchemy import text

    from workqueue.db import database_url, get_engine, init_db

    home, _ = folders
    os.umask(0o022)  # a typical login umask: SQLite would make the file 0644
    engine = init_db(get_engine(database_url()))
    with engine.connect() as connection:
        connection.execute(text("select count(*) from claim")).one()
        files = sorted(p.name for p in home.iterdir())
        assert {"payerbot.db", "payerbot.db-wal", "payerbot.db-shm"} <= set(files)
        for name in ("payerbot.db", "payerbot.db-wal", "payerbot.db-shm"):
            assert mode(home / name) == 0o600, name
    assert mode(home) == 0o700
    engine.dispose()


def test_a_letter_is_kept_once_and_a_packet_is_private(folders, tmp_path: Path):
    from datetime import UTC, date, datetime

    from sqlmodel import select

    from bots.findings import CorrespondenceFinding, Provenance
    from sandbox.pdf import letter_pdf
    from sandbox.world import Letter
    from workqueue.db import database_url, get_engine, init_db, session_scope
    from workqueue.models import Document, Task
    from workqueue.persist import persist_findings
    from workqueue.tasks import attach_packet

    home, _ = folders
    engine = init_db(get_engine(database_url()))
    letter = Letter(letter_id="MHP-L1", letter_type="x", letter_date=date(2026, 2, 27), title="Request for Records",
                    file_name="Records.pdf", claim_number=None, payer_claim_number=None, reference_number=None,
                    due_date=None, body=["REQUEST FOR MEDICAL RECORDS", "Patient Account: C1"])
    data = letter_pdf(letter, "Meridian Health Plan")
    sha = hashlib.sha256(data).hexdigest()

    def download(run: int) -> CorrespondenceFinding:
        path = write_private(home / "downloads" / f"run-{run}" / f"{sha}.pdf", data)
        return CorrespondenceFinding(
            portal_document_id="MHP-L1", title="Request for Records", letter_date=date(2026, 2, 27),
            suggested_file_name="Records.pdf", file_path=str(path), sha256=sha,
            provenance=Provenance(payer_id="meridian", account="main", url="https://portal.example/docs",
                                  observed_at=datetime(2026, 3, 2, tzinfo=UTC)))

    first, again = download(1), download(2)
    with session_scope(engine) as session:
        assert persist_findings(session, [first]).documents_stored == 1
    assert not Path(first.file_path).exists()
    with session_scope(engine) as session:
        assert persist_findings(session, [again]).documents_known == 1  # already known: its copy goes too
    assert not Path(again.file_path).exists()
    pdfs = [p for p in home.rglob("*.pdf")]
    assert len(pdfs) == 1 and mode(pdfs[0]) == 0o600 and mode(pdfs[0].parent) == 0o700
    with session_scope(engine) as session:
        document = session.exec(select(Document)).one()
        assert document.stored_path == pdfs[0].relative_to(home).as_posix()
        assert from_stored(document.stored_path) == pdfs[0]
        task = Task(kind="records_request", title="records", owner="records-team", payer_id="meridian",
                    dedupe_key="records_request:test")
        session.add(task)
        session.flush()
        source = tmp_path / "notes.pdf"
        source.write_bytes(b"%PDF-1.4 notes")
        packet = attach_packet(session, task.id, source)
        assert mode(from_stored(packet.stored_path)) == 0o600
    engine.dispose()


# -- scrub_html ----------------------------------------------------------------------------------------------------

PHI = ["Jane", "Roe", "MRD123456789", "1980", "555-867-5309", "123-45-6789", "jane.roe@example.com",
       "Oak Street", "Hunter2", "E11.9", "$1,234.56", "MHP26001000001"]

PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Claim for Jane Roe</title>
<meta name="description" content="Jane Roe MRD123456789">
<style>.patient::after { content: "Jane Roe"; }</style>
<script>window.member = {"id": "MRD123456789", "ssn": "123-45-6789"};</script></head>
<body>
<!-- patient Jane Roe, DOB 1980-05-17, phone 555-867-5309 -->
<nav><a id="logout" class="nav-link" href="/logout">Log out Jane</a></nav>
<h1 class="page-title" title="Jane Roe">Claim MHP26001000001 for Jane Roe</h1>
<table id="claims" class="results"><tr data-member="MRD123456789"><td class="name">Roe, Jane</td>
<td class="dx">E11.9</td><td class="paid">$1,234.56</td>
<td><a href="https://portal.example:8443/claims/MHP26001000001/detail?member=MRD123456789&amp;name=Jane#Roe"
       aria-label="Open the claim of Jane Roe" aria-controls="detail-panel" aria-expanded="false">open</a></td></tr>
</table>
<form id="search" action="/claims/search?member=MRD123456789" method="post">
  <label for="member">Member Jane</label>
  <input id="member" name="member_id" type="text" value="MRD123456789" placeholder="Jane Roe"
         autocomplete="off" style="color: red" onfocus="alert('Jane')">
  <input type="hidden" name="csrf" value="Hunter2">
  <input type="email" name="email" value="jane.roe@example.com">
  <textarea name="notes">Jane Roe lives on Oak Street</textarea>
  <select name="gender"><option value="F" selected>Jane's gender</option></select>
  <img src="data:image/png;base64,Um9l" alt="Photo of Jane Roe" srcset="/p/jane.png 2x">
  <a href="javascript:alert('Jane Roe')">x</a> <a href="mailto:jane.roe@example.com">mail</a>
  <button type="submit" role="button" class="btn primary" value="Jane">Search for Jane</button>
  <iframe srcdoc="<p>Jane Roe</p>" src="/frame?x=Jane"></iframe>
  <![CDATA[ Jane Roe ]]> &lt;Jane&gt; &amp; Roe &#74;ane
</form></body></html>"""


def test_scrub_html_drops_every_piece_of_patient_data():
    scrubbed = scrub_html(PAGE)
    for value in PHI:
        assert value not in scrubbed, value
    for word in ("Jane", "jane", "Roe", "Oak", "alert", "srcdoc", "data:", "mailto", "content"):
        assert word not in scrubbed, word


def test_scrub_html_keeps_the_structure_selectors_are_written_against():
    scrubbed = scrub_html(PAGE)
    for kept in ('<a id="logout" class="nav-link" href="/logout">', '<table id="claims" class="results">',
                 '<td class="name"></td>', '<form id="search" action="/claims/search" method="post">',
                 '<label for="member"></label>', '<input id="member" name="member_id" type="text">',
                 '<input type="hidden" name="csrf">', '<textarea name="notes"></textarea>',
                 '<button type="submit" role="button" class="btn primary"></button>',
                 'href="https://portal.example:8443/claims/MHP00000000000/detail"',
                 'aria-controls="detail-panel" aria-expanded="false"', '<iframe src="/frame">',
                 "<!DOCTYPE html>", "<title></title>", "<script></script>", "<style></style>"):
        assert kept in scrubbed, kept
    assert scrubbed.count("<tr") == 1 and scrubbed.count("<option") == 1 and scrubbed.count("<a") == 4


def test_scrub_html_survives_broken_markup():
    scrubbed = scrub_html('<div class="x"><p>Jane Roe <b>MRD123456789</div><input value="Roe" <script>Jane')
    assert "Jane" not in scrubbed and "Roe" not in scrubbed and "MRD" not in scrubbed
    assert scrubbed.startswith('<div class="x"><p><b></div>')
