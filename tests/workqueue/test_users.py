"""Web users and the audit trail at the terminal: `payerbot users ...`, `payerbot audit`, hashes and the throttle."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bots.findings import utc_now
from flows.cli import app
from workqueue.db import get_engine, init_db
from workqueue.models import AuditEvent, WebSession, WebUser
from workqueue.users import (
    LOCK,
    NAME_FAILURES,
    UserError,
    add_user,
    authenticate,
    role_at_least,
    set_disabled,
    set_password,
)

PASSWORD = "a long synthetic passphrase"


@pytest.fixture
def engine(home: Path):
    home.mkdir(parents=True, exist_ok=True)
    return init_db(get_engine())


def test_users_add_reads_the_password_from_stdin_and_stores_only_an_argon2_hash(engine, home: Path):
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "dana", "--role", "biller", "--team", "denials-team",
                                "--password-stdin"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    with Session(engine) as s:
        user = s.get(WebUser, "dana")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert (user.role, user.team, user.disabled) == ("biller", "denials-team", False)
    database = home / "payerbot.db"
    assert PASSWORD.encode() not in database.read_bytes()
    assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert listed == [{"name": "dana", "role": "biller", "team": "denials-team", "practices": ["default"],
                       "disabled": False,
                       "last_sign_in_at": None}]
    again = runner.invoke(app, ["users", "add", "DANA", "--role", "biller", "--password-stdin"], input=PASSWORD)
    assert again.exit_code == 1 and "already exists" in again.output
    weak = runner.invoke(app, ["users", "add", "bea", "--role", "biller", "--password-stdin"], input="short\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    role = runner.invoke(app, ["users", "add", "cy", "--role", "root", "--password-stdin"], input=PASSWORD)
    assert role.exit_code == 1 and "one of biller, operator, admin" in role.output
    with Session(engine) as s:
        assert [u.name for u in s.exec(select(WebUser)).all()] == ["dana"]


def test_users_disable_ends_sessions_and_every_user_command_is_audited(engine):
    runner = CliRunner()
    runner.invoke(app, ["users", "add", "dana", "--role", "biller", "--password-stdin"], input=PASSWORD)
    with Session(engine) as s:
        s.add(WebSession(token_hash="h", user_name="dana", csrf_token="c"))
        s.commit()
    assert runner.invoke(app, ["users", "disable", "dana"]).exit_code == 0
    with Session(engine) as s:
        assert s.get(WebUser, "dana").disabled and s.exec(select(WebSession)).all() == []
        assert authenticate(s, "dana", PASSWORD).refusal == "disabled"
    assert runner.invoke(app, ["users", "enable", "dana"]).exit_code == 0
    assert runner.invoke(app, ["users", "passwd", "dana", "--password-stdin"], input="another long passphrase\n"
                         ).exit_code == 0
    with Session(engine) as s:
        assert authenticate(s, "dana", "another long passphrase").user is not None
        s.commit()
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 1
    events = json.loads(runner.invoke(app, ["audit", "--object", "user", "--json"]).stdout)
    assert [e["action"] for e in events] == ["password_set", "user_enabled", "user_disabled", "user_added"]
    assert all(e["source"].startswith("cli ") and e["object_id"] == "dana" for e in events)
    assert json.loads(runner.invoke(app, ["audit", "--action", "user_added", "--json"]).stdout)[0]["detail"] \
        == "role biller"
    assert runner.invoke(app, ["audit", "--since", "yesterday"]).exit_code == 2
    table = runner.invoke(app, ["audit"])
    assert table.exit_code == 0 and "4 of 4 event(s)" in table.stdout


def test_the_throttle_locks_a_name_after_repeated_failures_and_releases_it_later(engine):
    with Session(engine) as s:
        add_user(s, "dana", "biller", PASSWORD)
        now = utc_now()
        for _ in range(NAME_FAILURES):
            assert authenticate(s, "dana", "wrong wrong wrong", address="10.0.0.9", now=now).refusal == "bad_password"
        locked = authenticate(s, "dana", PASSWORD, address="10.0.0.9", now=now)
        assert locked.user is None and locked.refusal == "throttled" and locked.wait_s > 0
        later = authenticate(s, "dana", PASSWORD, address="10.0.0.9", now=now + LOCK + timedelta(seconds=1))
        assert later.user is not None and later.user.last_sign_in_at is not None
        # An unknown name is throttled the same way (and costs a hash check like a known one).
        for _ in range(NAME_FAILURES):
            authenticate(s, "ghost", "x" * 12, now=now)
        assert authenticate(s, "ghost", "x" * 12, now=now).refusal == "throttled"


def test_user_rules(engine):
    with Session(engine) as s:
        for name in ("bot", "has space", "", "x" * 65, "../etc"):
            with pytest.raises(UserError):
                add_user(s, name, "biller", PASSWORD)
        add_user(s, "ops", "operator", PASSWORD)
        with pytest.raises(UserError, match="starts or ends with a space"):
            set_password(s, "ops", " " + PASSWORD)
        with pytest.raises(UserError, match="no user"):
            set_disabled(s, "nobody")
    assert role_at_least("admin", "operator") and role_at_least("operator", "biller")
    assert not role_at_least("biller", "operator") and not role_at_least("root", "biller")


def test_the_audit_trail_is_append_only_through_the_orm_too(engine):
    with Session(engine) as s:
        s.add(AuditEvent(actor="dana", action="view", object_type="task", object_id="1", source="web 127.0.0.1"))
        s.commit()
        event = s.exec(select(AuditEvent)).one()
        event.actor = "someone else"
        s.add(event)
        with pytest.raises(Exception, match="append-only"):
            s.commit()


def test_terminal_views_changes_and_exports_are_audited_too(engine, tmp_path: Path):
    from workqueue.models import Task

    with Session(engine) as s:
        s.add(Task(kind="denial_review", payer_id="meridian", title="Denied", owner="denials-team", dedupe_key="d:1"))
        s.commit()
    runner = CliRunner()
    assert runner.invoke(app, ["tasks", "show", "1"]).exit_code == 0
    assert runner.invoke(app, ["tasks", "assign", "1", "dana"]).exit_code == 0
    assert runner.invoke(app, ["export", "tasks", "--output", str(tmp_path / "t.csv")]).exit_code == 0
    assert runner.invoke(app, ["tasks", "show", "99"]).exit_code == 1
    events = json.loads(runner.invoke(app, ["audit", "--json"]).stdout)
    assert [(e["action"], e["object_type"], e["object_id"]) for e in events] == [
        ("export", "export", "tasks.csv"), ("change", "task", "1"), ("view", "task", "1")]
