"""Sign-in, sessions, roles, CSRF, escaping and file serving, over real HTTP against the running app."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute
from playwright.sync_api import Page, expect
from sqlmodel import select

from tests.web.conftest import (
    PASSWORD,
    SCRIPT_SAID,
    SCRIPT_TITLE,
    SCRIPT_WORDING,
    Web,
    csrf_of,
    sign_in,
    sign_in_http,
    start,
)
from workqueue.db import session_scope
from workqueue.models import AuditEvent, WebSession
from workqueue.users import NAME_FAILURES
from workqueue.web.app import create_app, serve
from workqueue.web.settings import WebSettings, WebSettingsError, settings_from_env

PATH_VALUES = {"task_id": "task", "claim_number": "C200", "document_id": "document", "packet_id": "PKT-1",
               "index": "0", "which": "screenshot", "run_id": "run", "payer_id": "northwind", "account": "main",
               "name": "dana", "change": "disable", "what": "tasks", "kind": "csv"}


def _every_route(web: Web) -> list[tuple[str, str]]:
    """(method, path) for every route the app has, path parameters filled with seeded values."""
    def walk(routes):  # included routers are wrapped (FastAPI >= 0.120); their routes carry full paths
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)

    routes = []
    for route in walk(create_app(web.engine).routes):
        path = route.path
        for name in re.findall(r"{(\w+)}", path):
            value = PATH_VALUES[name]
            path = path.replace(f"{{{name}}}", str(web.ids.get(value, value)))
        routes += [(method, path) for method in sorted(route.methods)]
    return routes


def test_anonymous_requests_to_every_route_get_the_sign_in_page_or_401(web: Web):
    routes = _every_route(web)
    assert len(routes) >= 25 and ("GET", "/exports/tasks.csv") in routes
    with web.client() as client:
        for method, path in routes:
            if path == "/login":
                continue
            response = client.request(method, path, data={"note": "x"} if method == "POST" else None)
            if method == "GET":
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/login?next="), (method, path)
            else:
                assert response.status_code == 401, (method, path)
            assert "C200" not in response.text and "MRD" not in response.text, (method, path)
        login = client.get("/", follow_redirects=True)
        assert login.url.path == "/login" and 'name="username"' in login.text and 'name="password"' in login.text
    assert web.task("denial_review").status == "open" and web.task("login").status == "open"


def test_sign_in_sets_a_strict_http_only_session_and_sign_out_ends_it(web: Web):
    with web.client() as client:
        response = httpx.Client(base_url=web.url).get("/login")
        token = re.search(r"/login\?csrf=([^\"&]+)", response.text).group(1)
        # The sign-in form's token belongs to the browser that loaded it.
        assert client.post(f"/login?csrf={token}", data={"username": "dana", "password": PASSWORD}).status_code == 403
        signed = client.get("/login")
        token = re.search(r"/login\?csrf=([^\"&]+)", signed.text).group(1)
        response = client.post(f"/login?csrf={token}", data={"username": "dana", "password": PASSWORD,
                                                              "next": "//evil.example/x"})
        assert response.status_code == 303 and response.headers["location"] == "/"  # never off-site
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("payerbot_session="))
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Max-Age" not in cookie
        assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test below
        value = cookie.split(";")[0].split("=", 1)[1]
        with session_scope(web.engine) as s:
            [row] = s.exec(select(WebSession)).all()
        assert row.user_name == "dana" and value not in row.token_hash  # only the hash is stored
        assert client.get("/").status_code == 200
        csrf = csrf_of(client)
        assert client.post(f"/logout?csrf={csrf}").status_code == 303
        assert client.get("/").status_code == 303
        with session_scope(web.engine) as s:
            assert s.exec(select(WebSession)).all() == []
    assert [e.action for e in web.audit(actor="dana")] == ["sign_in", "view", "view", "sign_out"]


def test_cookies_are_secure_when_the_request_came_over_https(web: Web):
    from starlette.testclient import TestClient

    client = TestClient(create_app(web.engine), base_url="https://127.0.0.1")
    page = client.get("/login")
    token = re.search(r"/login\?csrf=([^\"&]+)", page.text).group(1)
    response = client.post(f"/login?csrf={token}", data={"username": "dana", "password": PASSWORD},
                           follow_redirects=False)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("payerbot_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_repeated_bad_passwords_are_throttled_even_with_the_right_one_after(web: Web):
    with web.client() as client:
        for _ in range(NAME_FAILURES):
            page = client.get("/login")
            token = re.search(r"/login\?csrf=([^\"&]+)", page.text).group(1)
            response = client.post(f"/login?csrf={token}", data={"username": "dana", "password": "wrong-password!"})
            assert response.status_code == 401 and "Wrong user name or password" in response.text
        page = client.get("/login")
        token = re.search(r"/login\?csrf=([^\"&]+)", page.text).group(1)
        response = client.post(f"/login?csrf={token}", data={"username": "dana", "password": PASSWORD})
        assert response.status_code == 429 and "Too many wrong passwords" in response.text
        assert client.get("/").status_code == 303
        # An unknown name gets the same answer as a wrong password (no way to tell who exists).
        token = re.search(r"/login\?csrf=([^\"&]+)", client.get("/login").text).group(1)
        unknown = client.post(f"/login?csrf={token}", data={"username": "nobody", "password": PASSWORD})
        assert unknown.status_code == 401 and "Wrong user name or password" in unknown.text
    refused = web.audit(action="sign_in_refused")
    assert [e.detail for e in refused] == ["bad_password"] * NAME_FAILURES + ["throttled", "bad_password"]
    assert PASSWORD not in str([(e.detail, e.actor) for e in refused])


def test_an_idle_session_ends_and_says_why(home):
    engine, ids, server = start(home, WebSettings(idle=timedelta(seconds=1)))
    with server, httpx.Client(base_url=server.url) as client:
        sign_in_http(client, "dana")
        assert client.get("/").status_code == 200
        time.sleep(1.5)
        response = client.get("/")
        assert response.status_code == 303 and "why=idle" in response.headers["location"]
        assert "without activity" in client.get(response.headers["location"]).text


def test_a_session_ends_after_the_absolute_limit_even_when_busy(home):
    engine, ids, server = start(home, WebSettings(absolute=timedelta(seconds=1)))
    with server, httpx.Client(base_url=server.url) as client:
        sign_in_http(client, "dana")
        assert client.get("/").status_code == 200
        time.sleep(1.2)
        assert client.get("/").status_code == 303


def test_a_form_without_its_csrf_token_is_refused_before_its_body_is_read(web: Web):
    with web.client("dana") as client:
        cookie = client.cookies.get("payerbot_session")
        csrf = csrf_of(client)
        assert client.post(f"/tasks/{web.ids['denial_review']}/take").status_code == 403
        assert client.post(f"/tasks/{web.ids['denial_review']}/take?csrf=forged").status_code == 403
        # Another site's page posting with the right token (if it had it) is refused by its Origin.
        foreign = client.post(f"/tasks/{web.ids['denial_review']}/take?csrf={csrf}",
                              headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
    assert web.task("denial_review").owner == "dana" and not [h for h in web.history("denial_review")
                                                              if h.actor == "dana"]
    # A 50 MB body that never comes: the answer arrives at once, so the server never waited to read it.
    port = int(web.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall((f"POST /tasks/{web.ids['records_request']}/packets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Cookie: payerbot_session={cookie}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     f"Content-Length: 52428800\r\n\r\n").encode())
        started = time.monotonic()
        answer = raw.recv(4096).decode("latin-1")
        assert answer.startswith("HTTP/1.1 403") and time.monotonic() - started < 5
    assert web.packets() == []


def test_portal_text_with_script_or_onerror_shows_as_text_everywhere(page: Page, web: Web):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, web, "ada")
    pages = ["/?scope=all&status=all", f"/tasks/{web.ids['letter']}", f"/tasks/{web.ids['denial_review']}",
             "/claims/C100", "/claims/C300", "/claims?q=Okafor", "/dashboard", "/operator/",
             f"/operator/runs/{web.ids['run']}", "/admin/audit"]
    for path in pages:
        page.goto(f"{web.url}{path}")
        html = page.content()
        for raw in ("<script>alert", "<img src=x onerror", "<b>1</b>", "<script>x</script>"):
            assert raw not in html.split("</head>", 1)[1], (path, raw)
    page.goto(f"{web.url}/tasks/{web.ids['letter']}")
    expect(page.locator("#task-title")).to_have_text(SCRIPT_TITLE)
    expect(page.locator("#payer-said")).to_have_text(SCRIPT_SAID)
    expect(page.locator("#reference-number")).to_have_text("DOC-<b>1</b>")
    page.goto(f"{web.url}/claims/C100")
    expect(page.locator("#status")).to_contain_text(SCRIPT_WORDING)
    page.goto(f"{web.url}/claims?q=Okafor")
    expect(page.locator("main")).to_contain_text("<script>x</script>")
    assert dialogs == []


def test_evidence_outside_the_three_folders_is_refused_and_files_are_never_cached(web: Web):
    stray = web.ids["stray"]
    with web.client("olga") as client:
        for index in range(5):  # outside the home, ../ out of it, /etc/passwd, the database, downloads/
            which = "document" if index == 2 else "screenshot"
            response = client.get(f"/tasks/{stray}/evidence/{index}/{which}")
            assert response.status_code == 404 and response.text == "Not found", index
            assert response.headers["cache-control"] == "no-store"
        served = client.get(f"/tasks/{stray}/evidence/5/screenshot")
        assert served.status_code == 200 and served.headers["cache-control"] == "no-store"
        assert served.headers["content-type"] == "image/png"
        html = client.get(f"/tasks/{stray}").text
        assert "javascript:alert" not in html.replace("page: javascript:alert(1)", "")
        assert "secret.png" not in html and "/etc/passwd" not in html and "payerbot.db" not in html
        # A letter is served only through its own claim.
        document = web.ids["document"]
        assert client.get(f"/claims/C200/documents/{document}").status_code == 200
        assert client.get(f"/claims/C100/documents/{document}").status_code == 404
        for path in ("/", f"/tasks/{stray}", "/claims/C200", "/dashboard", "/exports/claims.csv"):
            assert client.get(path).headers["cache-control"] == "no-store", path


def test_the_host_header_is_checked_against_dns_rebinding(web: Web):
    with web.client("dana") as client:
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_trusted_header_signs_in_only_from_the_configured_proxy(home):
    header = WebSettings(trusted_header="X-Remote-User",
                         trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    engine, ids, server = start(home, header)
    with server, httpx.Client(base_url=server.url) as client:
        page = client.get("/", headers={"X-Remote-User": "bea"})
        assert page.status_code == 200 and "bea (biller)" in page.text
        csrf = re.search(r"\?csrf=([\w-]+)", page.text).group(1)
        taken = client.post(f"/tasks/{ids['claim_not_found']}/take?csrf={csrf}", headers={"X-Remote-User": "bea"})
        assert taken.status_code == 303
        assert client.get("/", headers={"X-Remote-User": "mallory"}).status_code == 303  # not a user


def test_trusted_header_from_another_address_is_ignored(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("PAYERBOT_HOME", str(folder))
    engine, ids, server = start(folder, WebSettings(trusted_header="X-Remote-User",
                                                    trusted_proxies=(ipaddress.ip_network("10.0.0.5/32"),)))
    with server, httpx.Client(base_url=server.url) as client:
        assert client.get("/", headers={"X-Remote-User": "ada"}).status_code == 303


def test_trusted_header_settings_need_proxies_and_serve_beyond_loopback_needs_users(home, monkeypatch):
    monkeypatch.setenv("PAYERBOT_WEB_TRUSTED_HEADER", "X-Remote-User")
    with pytest.raises(WebSettingsError, match="PAYERBOT_WEB_TRUSTED_PROXIES"):
        settings_from_env()
    monkeypatch.setenv("PAYERBOT_WEB_TRUSTED_PROXIES", "10.0.0.5, 10.0.1.0/24")
    settings = settings_from_env()
    assert settings.is_trusted_proxy("10.0.1.9") and not settings.is_trusted_proxy("10.0.2.1")
    monkeypatch.setenv("PAYERBOT_WEB_IDLE_MINUTES", "-3")
    with pytest.raises(WebSettingsError, match="IDLE"):
        settings_from_env()
    with pytest.raises(ValueError, match="add a user first"):
        serve(host="0.0.0.0", port=1)  # no users in this fresh home


def test_forwarded_headers_count_only_from_a_configured_proxy(home):
    proxy = WebSettings(trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    engine, ids, server = start(home, proxy)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    with server, httpx.Client(base_url=server.url, headers=forwarded) as client:
        # The TLS proxy said the browser used HTTPS: every cookie is Secure (so this plain-HTTP client must
        # send the sign-in cookie itself, as the browser would over HTTPS).
        page = client.get("/login")
        sign_in_cookie = page.headers["set-cookie"]
        assert sign_in_cookie.startswith("payerbot_sign_in=") and "Secure" in sign_in_cookie
        token = re.search(r"/login\?csrf=([^\"&]+)", page.text).group(1)
        client.cookies.clear()
        response = client.post(f"/login?csrf={token}", data={"username": "dana", "password": PASSWORD},
                               headers={"Cookie": sign_in_cookie.split(";")[0]})
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("payerbot_session="))
        assert response.status_code == 303 and "Secure" in cookie
    with session_scope(engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "sign_in")).all()
    assert event.source == "web 198.51.100.7"  # the address the proxy itself saw

    second = home.parent / "second" / "home"
    second.mkdir(parents=True)
    engine, ids, server = start(second, WebSettings())  # no proxies configured: the headers mean nothing
    with server, httpx.Client(base_url=server.url, headers=forwarded) as client:
        response = sign_in_http(client, "dana")
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("payerbot_session="))
        assert "Secure" not in cookie
    with session_scope(engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "sign_in")).all()
    assert event.source == "web 127.0.0.1"
