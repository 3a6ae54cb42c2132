"""Fault injection in the sandbox portals: the SPEC, the harness routes and each fault's effect."""

from __future__ import annotations

import re
import time

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from sandbox.faults import KEYS, FaultSpecError, parse_settings, parse_spec
from sandbox.server import SandboxServer, build_app

PORTALS = ["meridian", "northwind", "claimbridge"]
EXAMPLE = "errors=0.1,slow=0.05,slow_s=2,meridian.expire_every=150,claimbridge.maintenance=on,northwind.layout=2"


@pytest.fixture
def client():
    app, states = build_app(seed=3, claims=20)
    with TestClient(app) as test_client:
        test_client.states = states
        yield test_client


def meridian_login(client) -> None:
    """Log into the Meridian sandbox by hand (password + TOTP) on a TestClient."""
    account = client.get("/_sandbox/meridian/accounts").json()[0]
    page = client.get("/meridian/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/meridian/login", data={"csrf_token": csrf, "userid": account["username"],
                                         "password": account["password"]})
    mfa = client.get("/meridian/mfa")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', mfa.text).group(1)
    home = client.post("/meridian/mfa", data={"csrf_token": csrf, "code": pyotp.TOTP(account["totp_seed"]).now()})
    assert "logout-link" in home.text


# -- the SPEC ---------------------------------------------------------------------------------------------
def test_example_spec_parses_with_per_portal_prefixes():
    settings = parse_spec(EXAMPLE, PORTALS)
    assert settings["meridian"] == {"errors": 0.1, "slow": 0.05, "slow_s": 2.0, "expire_every": 150}
    assert settings["claimbridge"] == {"errors": 0.1, "slow": 0.05, "slow_s": 2.0, "maintenance": True}
    assert settings["northwind"] == {"errors": 0.1, "slow": 0.05, "slow_s": 2.0, "layout": 2}


def test_prefixed_keys_override_common_ones_whatever_the_order():
    settings = parse_spec("meridian.errors=0.5, errors=0.2 ,,", PORTALS)
    assert settings["meridian"]["errors"] == 0.5 and settings["northwind"]["errors"] == 0.2
    assert parse_spec("", PORTALS) == {portal: {} for portal in PORTALS}


def test_every_key_parses():
    spec = ("errors=0,slow=1,slow_s=0.5,expire_every=3,maintenance=off,layout=1,captcha_after=4,"
            "cut_downloads=0.25,mfa_refuse=on,login_captcha=yes,login_layout=2,hold_upload_s=1,hold_download_s=2,"
            "latency_ms=250,jitter_ms=50")
    values = parse_spec(spec, PORTALS)["meridian"]
    assert set(values) == set(KEYS)
    assert values["mfa_refuse"] is True and values["captcha_after"] == 4 and values["login_layout"] == 2
    assert parse_spec("captcha_after=off", PORTALS)["meridian"]["captcha_after"] is None


@pytest.mark.parametrize(("spec", "named"), [
    ("errors=1.5", "errors='1.5'"),
    ("errors=lots", "errors='lots'"),
    ("slow_s=-1", "slow_s='-1'"),
    ("expire_every=2.5", "expire_every='2.5'"),
    ("layout=3", "layout='3'"),
    ("maintenance=maybe", "maintenance='maybe'"),
    ("bogus=1", "'bogus'"),
    ("errors", "'errors'"),
    ("acme.errors=0.1", "'acme'"),
    ("meridian.nope=1", "'nope'"),
])
def test_bad_spec_names_the_bad_key_or_value(spec, named):
    with pytest.raises(FaultSpecError) as caught:
        parse_spec(spec, PORTALS)
    assert named in str(caught.value)


def test_json_settings_take_numbers_booleans_and_text():
    assert parse_settings({"errors": 0.2, "maintenance": True, "layout": "2", "captcha_after": None}) == {
        "errors": 0.2, "maintenance": True, "layout": 2, "captcha_after": None}
    with pytest.raises(FaultSpecError, match="'speed'"):
        parse_settings({"speed": 1})


def test_a_bad_spec_stops_the_sandbox_before_it_starts():
    with pytest.raises(FaultSpecError, match="'nope'"):
        build_app(seed=3, claims=5, faults="nope=1")


# -- harness routes ---------------------------------------------------------------------------------------
def test_harness_routes_show_and_set_faults(client):
    shown = client.get("/_sandbox/meridian/faults").json()
    assert set(shown) == set(KEYS) and shown["errors"] == 0 and shown["layout"] == 1

    changed = client.post("/_sandbox/meridian/faults", json={"layout": 2, "captcha_after": 3, "slow": 0.5})
    assert changed.status_code == 200
    assert changed.json()["layout"] == 2 and client.states["meridian"].layout_version == 2
    assert client.states["meridian"].captcha_after_searches == 3
    assert client.get("/_sandbox/northwind/faults").json()["slow"] == 0  # other portals untouched

    refused = client.post("/_sandbox/meridian/faults", json={"errors": 2, "slow": 0})
    assert refused.status_code == 400 and "errors" in refused.json()["detail"]
    assert client.get("/_sandbox/meridian/faults").json()["slow"] == 0.5  # nothing changed on an error

    whole = client.post("/_sandbox/faults", json={"spec": EXAMPLE})
    assert whole.status_code == 200
    assert whole.json()["claimbridge"]["maintenance"] is True and client.states["claimbridge"].maintenance
    assert whole.json()["northwind"]["layout"] == 2 and whole.json()["meridian"]["expire_every"] == 150
    bad = client.post("/_sandbox/faults", json={"spec": "acme.errors=1"})
    assert bad.status_code == 400 and "acme" in bad.json()["detail"]

    cleared = client.delete("/_sandbox/claimbridge/faults").json()
    assert cleared["maintenance"] is False and cleared["errors"] == 0


def test_stats_expose_the_fault_counters(client):
    stats = client.get("/_sandbox/meridian/stats").json()
    for name in ("requests", "errors_injected", "sessions_ended", "downloads_started", "downloads_cut",
                 "uploads_recorded"):
        assert stats[name] == 0 and stats["counters"][name] == 0
    assert stats["login_attempts"] == {}


def test_existing_switches_and_fault_keys_are_the_same_thing(client):
    client.post("/_sandbox/meridian/maintenance/true")
    assert client.get("/_sandbox/meridian/faults").json()["maintenance"] is True
    assert client.get("/meridian/login").status_code == 503
    client.post("/_sandbox/meridian/faults", json={"maintenance": "off"})
    assert client.get("/meridian/login").status_code == 200


# -- effects ----------------------------------------------------------------------------------------------
def test_errors_share_is_roughly_right_and_harness_and_static_are_spared(client):
    client.post("/_sandbox/meridian/faults", json={"errors": 0.3})
    codes = [client.get("/meridian/login").status_code for _ in range(400)]
    failed = sum(code >= 500 for code in codes)
    assert 80 <= failed <= 160
    stats = client.get("/_sandbox/meridian/stats").json()
    assert stats["errors_injected"] == failed and stats["requests"] == 400
    assert all(client.get("/meridian/static/meridian.css").status_code == 200 for _ in range(50))
    assert all(client.get("/_sandbox/meridian/oracle").status_code == 200 for _ in range(20))
    assert client.get("/_sandbox/meridian/stats").json()["requests"] == 400


def test_same_request_order_meets_the_same_faults():
    def run() -> list[int]:
        app, _ = build_app(seed=5, claims=5, faults="errors=0.5")
        with TestClient(app) as test_client:
            return [test_client.get("/claimbridge/login").status_code for _ in range(40)]

    first = run()
    assert first == run() and 500 <= max(first) and min(first) < 500


def test_expire_every_ends_the_session(client):
    meridian_login(client)
    client.post("/_sandbox/meridian/faults", json={"expire_every": 3})
    seen = [client.get("/meridian/home", follow_redirects=False).status_code for _ in range(4)]
    assert seen == [200, 200, 200, 303]  # the fourth request of the session finds it ended
    stats = client.get("/_sandbox/meridian/stats").json()
    assert stats["sessions_ended"] == 1 and stats["live_sessions"] == 0


def test_slow_answers_take_slow_s(client):
    client.post("/_sandbox/northwind/faults", json={"slow": 1, "slow_s": 0.3})
    started = time.monotonic()
    assert client.get("/northwind/api/config").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_login_faults_refuse_mfa_and_put_up_a_captcha(client):
    account = client.get("/_sandbox/northwind/accounts").json()[0]
    client.post("/_sandbox/northwind/faults", json={"login_captcha": True})
    answer = client.post("/northwind/api/auth/login", json={"email": account["username"],
                                                            "password": account["password"]})
    assert answer.status_code == 403 and answer.json()["captcha"] is True
    assert client.get("/_sandbox/northwind/stats").json()["login_attempts"] == {account["username"]: 1}

    client.post("/_sandbox/northwind/faults", json={"login_captcha": False, "mfa_refuse": True})
    assert client.post("/northwind/api/auth/login", json={"email": account["username"],
                                                          "password": account["password"]}).status_code == 200
    code = client.get(f"/_sandbox/northwind/mailbox/{account['username']}").json()["code"]
    assert client.post("/northwind/api/auth/verify", json={"code": code}).status_code == 400


def test_cut_download_is_short_of_its_content_length():
    with SandboxServer(seed=3, claims=20, faults="meridian.cut_downloads=1") as server:
        with httpx.Client(base_url=server.url) as client:
            account = client.get("/_sandbox/meridian/accounts").json()[0]
            page = client.get("/meridian/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            client.post("/meridian/login", data={"csrf_token": csrf, "userid": account["username"],
                                                 "password": account["password"]}, follow_redirects=True)
            mfa = client.get("/meridian/mfa")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', mfa.text).group(1)
            client.post("/meridian/mfa", data={"csrf_token": csrf,
                                               "code": pyotp.TOTP(account["totp_seed"]).now()})
            documents = client.get("/meridian/documents").text
            link = re.search(r'href="(/meridian/documents/[^"]+/download)"', documents).group(1)
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(link)
            stats = client.get("/_sandbox/meridian/stats").json()
            assert stats["downloads_started"] == 1 and stats["downloads_cut"] == 1
            client.post("/_sandbox/meridian/faults", json={"cut_downloads": 0})
            whole = client.get(link)
            assert whole.status_code == 200 and whole.content.startswith(b"%PDF-")
            assert int(whole.headers["content-length"]) == len(whole.content)


def test_meridian_refuses_forms_without_the_session_token():
    """The portal itself: a POST with a wrong CSRF token is refused with 403 (what real portals do)."""
    with SandboxServer(seed=7, claims=10) as sandbox:
        account = httpx.get(f"{sandbox.url}/_sandbox/meridian/accounts").json()[0]
        with httpx.Client(base_url=sandbox.portal_url("meridian"), follow_redirects=True) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("login").text)[1]
            page = client.post("login", data={"csrf_token": token, "userid": account["username"],
                                              "password": account["password"]})
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
            home = client.post("mfa", data={"csrf_token": token, "code": pyotp.TOTP(account["totp_seed"]).now()})
            assert "Log out" in home.text
            refused = client.post("claims/search", data={"csrf_token": "forged", "search_type": "icn", "icn": "X"})
            assert refused.status_code == 403 and "Invalid or expired request token." in refused.text
