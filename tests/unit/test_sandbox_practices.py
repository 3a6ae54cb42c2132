"""Several logins per sandbox portal, each of one client practice: who sees what, the lookup log, the
peak of sessions in use. Real HTTP against SandboxServer, no browser."""

from __future__ import annotations

import csv
import io
import re
import threading
from contextlib import closing
from datetime import date

import httpx
import pyotp
import pytest

from sandbox.accounts import check_practices
from sandbox.server import SandboxServer
from sandbox.world import PROFILES, World

PORTALS = ["meridian", "northwind", "claimbridge"]
PRACTICES = ("north", "south")


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(seed=3, claims=30, practices=PRACTICES, accounts_per_practice=2) as server:
        yield server


def accounts_of(sandbox, portal: str) -> list[dict]:
    return httpx.get(f"{sandbox.url}/_sandbox/{portal}/accounts").json()


def oracle_of(sandbox, portal: str) -> dict:
    return httpx.get(f"{sandbox.url}/_sandbox/{portal}/oracle").json()


def icn_of(sandbox, portal: str, practice: str) -> str:
    """A payer claim number (ICN) of a claim on file that this practice billed."""
    claims = oracle_of(sandbox, portal)["claims"].values()
    return next(c["payer_claim_number"] for c in claims if c["on_file"] and c["practice"] == practice)


def csrf(page: str, name: str = "csrf_token") -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def log_in(sandbox, portal: str, account: dict) -> httpx.Client:
    """A client signed into one portal as this login (each portal's own steps: forms, CSRF, MFA, payer)."""
    client = httpx.Client(base_url=sandbox.url, follow_redirects=True, timeout=20)
    if portal == "meridian":
        page = client.post("/meridian/login", data={"csrf_token": csrf(client.get("/meridian/login").text),
                                                    "userid": account["username"],
                                                    "password": account["password"]})
        home = client.post("/meridian/mfa", data={"csrf_token": csrf(page.text),
                                                  "code": pyotp.TOTP(account["totp_seed"]).now()})
        assert "logout-link" in home.text, account["username"]
    elif portal == "northwind":
        answer = client.post("/northwind/api/auth/login", json={"email": account["username"],
                                                                "password": account["password"]})
        assert answer.status_code == 200, answer.text
        code = client.get(f"/_sandbox/northwind/mailbox/{account['username']}").json()["code"]
        assert client.post("/northwind/api/auth/verify", json={"code": code}).status_code == 200
        assert client.get("/northwind/api/me").json()["email"] == account["username"]
    else:
        page = client.post("/claimbridge/login", data={"csrf": csrf(client.get("/claimbridge/login").text, "csrf"),
                                                       "username": account["username"],
                                                       "password": account["password"]})
        workspace = client.post("/claimbridge/payers", data={"payer": "LHC", "csrf": csrf(page.text, "csrf")})
        assert workspace.status_code == 200 and account["username"] in workspace.text
    return client


def detail(client: httpx.Client, portal: str, icn: str) -> httpx.Response:
    """The one-claim page or API answer a bot reads."""
    path = {"meridian": f"/meridian/claims/{icn}", "northwind": f"/northwind/api/claims/{icn}",
            "claimbridge": f"/claimbridge/frames/claims/{icn}"}[portal]
    return client.get(path)


def search_hits(client: httpx.Client, portal: str, icn: str) -> int:
    """How many claims a search by claim number finds."""
    if portal == "northwind":
        return client.get("/northwind/api/claims", params={"claim_number": icn}).json()["total"]
    if portal == "meridian":
        form = client.get("/meridian/claims/search").text
        page = client.post("/meridian/claims/search", data={"csrf_token": csrf(form), "search_type": "icn",
                                                            "icn": icn}).text
        return 0 if "No claims match your search criteria." in page else page.count(f"/meridian/claims/{icn}")
    form = client.get("/claimbridge/frames/claim-search").text
    page = client.post("/claimbridge/frames/claim-search", data={"csrf": csrf(form, "csrf"),
                                                                 "payer_claim_id": icn}).text
    return 0 if "0 claims found for the criteria entered." in page else 1


# -- the world and its logins -----------------------------------------------------------------------------
def test_default_world_keeps_its_one_login_and_no_practice_column():
    world = World(PROFILES["meridian"], seed=5, today=date(2026, 3, 1), claims=12)
    profile = PROFILES["meridian"]
    assert [(a.username, a.password, a.totp_seed, a.practice) for a in world.accounts] == [
        (profile.username, profile.password, profile.totp_seed, "default")]
    assert "practice" not in world.inventory_rows()[0]
    oracle = world.oracle()
    assert all("practice" not in c for c in oracle["claims"].values())
    assert all("practice" not in x for x in oracle["letters"] + oracle["authorizations"])


def test_split_world_has_the_same_claims_and_a_deterministic_split():
    plain = World(PROFILES["northwind"], seed=5, today=date(2026, 3, 1), claims=40)
    split = World(PROFILES["northwind"], seed=5, today=date(2026, 3, 1), claims=40, practices=PRACTICES,
                  accounts_per_practice=3)
    again = World(PROFILES["northwind"], seed=5, today=date(2026, 3, 1), claims=40, practices=PRACTICES,
                  accounts_per_practice=3)
    assert [r | {"practice": "x"} for r in plain.inventory_rows()] == [
        r | {"practice": "x"} for r in split.inventory_rows()]
    assert split.accounts == again.accounts and len(split.accounts) == 6
    assert len({a.username for a in split.accounts}) == 6 and len({a.password for a in split.accounts}) == 6
    assert all("@" in a.username and a.totp_seed == "" for a in split.accounts)  # an e-mail-code portal
    practices = [c.practice for c in split.claims]
    assert practices[:4] == ["north", "south", "north", "south"] and practices[21] == practices[20]
    for letter in split.letters:  # a letter is in the mailbox of the practice that billed its claim
        if letter.claim_number:
            assert letter.practice == split.claim(letter.claim_number).practice
    for claim in split.claims:
        if claim.auth_number:
            auth = next(a for a in split.authorizations if a.auth_number == claim.auth_number)
            assert auth.practice == claim.practice


@pytest.mark.parametrize(("practices", "per"), [((), 1), (("North",), 1), (("a", "a"), 1), (("a",), 0)])
def test_bad_practice_options_are_refused(practices, per):
    with pytest.raises(ValueError):
        check_practices(practices, per)


def test_accounts_route_lists_every_login_first_the_profiles(sandbox):
    for portal in PORTALS:
        accounts = accounts_of(sandbox, portal)
        profile = PROFILES[portal]
        assert [a["practice"] for a in accounts] == ["north", "north", "south", "south"]
        assert accounts[0] == {"username": profile.username, "password": profile.password,
                               "totp_seed": profile.totp_seed or None, "practice": "north"}
        assert all(set(a) == {"username", "password", "totp_seed", "practice"} for a in accounts)
        assert all((a["totp_seed"] is not None) == (portal == "meridian") for a in accounts)


def test_inventory_and_oracle_name_the_practice(sandbox):
    rows = list(csv.DictReader(io.StringIO(httpx.get(f"{sandbox.url}/_sandbox/inventory.csv").text)))
    assert {r["practice"] for r in rows} == set(PRACTICES) and len(rows) == 90
    mine = list(csv.DictReader(io.StringIO(httpx.get(f"{sandbox.url}/_sandbox/meridian/inventory.csv").text)))
    split = {p: [r["claim_number"] for r in mine if r["practice"] == p] for p in PRACTICES}
    assert len(split["north"]) >= 14 and len(split["south"]) >= 14
    oracle = oracle_of(sandbox, "meridian")
    assert all(oracle["claims"][n]["practice"] == p for p in PRACTICES for n in split[p])
    assert {x["practice"] for x in oracle["letters"]} == set(PRACTICES)
    assert {x["practice"] for x in oracle["authorizations"]} == set(PRACTICES)


# -- what each login sees -----------------------------------------------------------------------------------
@pytest.mark.parametrize("portal", PORTALS)
def test_each_login_sees_only_its_practices_claims(sandbox, portal):
    accounts = accounts_of(sandbox, portal)
    north, south = icn_of(sandbox, portal, "north"), icn_of(sandbox, portal, "south")
    unknown = north[:-4] + "9999"
    for account in accounts:
        own, other = (north, south) if account["practice"] == "north" else (south, north)
        with closing(log_in(sandbox, portal, account)) as client:
            assert detail(client, portal, own).status_code == 200
            refused, never = detail(client, portal, other), detail(client, portal, unknown)
            assert refused.status_code == never.status_code == 404
            assert refused.text.replace(other, "ICN") == never.text.replace(unknown, "ICN")
            assert search_hits(client, portal, own) == 1
            assert search_hits(client, portal, other) == 0


def test_logins_of_one_practice_see_the_same_letters_and_authorizations(sandbox):
    accounts = accounts_of(sandbox, "northwind")
    seen = []
    for account in accounts:
        with closing(log_in(sandbox, "northwind", account)) as client:
            letters = client.get("/northwind/api/documents", params={"limit": 10}).json()["total"]
            auths = [a["auth_number"] for a in client.get("/northwind/api/authorizations").json()["authorizations"]]
            seen.append((letters, auths))
    assert seen[0] == seen[1] and seen[2] == seen[3] and not set(seen[0][1]) & set(seen[2][1])
    oracle = oracle_of(sandbox, "northwind")
    assert seen[0][0] == sum(1 for x in oracle["letters"] if x["practice"] == "north")


def test_uploads_are_per_practice_on_meridian(sandbox):
    accounts = accounts_of(sandbox, "meridian")
    north, south = icn_of(sandbox, "meridian", "north"), icn_of(sandbox, "meridian", "south")

    def upload(client: httpx.Client, icn: str) -> str:
        form = client.get("/meridian/attachments/new").text
        return client.post("/meridian/attachments/new", data={"csrf_token": csrf(form), "icn": icn,
                                                              "document_type": "Medical Records"},
                           files={"attachment": ("notes.pdf", b"%PDF-1.4 synthetic notes", "application/pdf")}).text

    with closing(log_in(sandbox, "meridian", accounts[1])) as client:  # the second north login
        assert "Claim number not found." in upload(client, south)
        assert "Claim number not found." not in upload(client, north)
    with closing(log_in(sandbox, "meridian", accounts[0])) as client:  # the first north login sees it in history
        assert north in client.get("/meridian/attachments/history").text
    with closing(log_in(sandbox, "meridian", accounts[2])) as client:
        assert north not in client.get("/meridian/attachments/history").text


def test_lockout_and_login_attempts_are_per_login(sandbox):
    accounts = accounts_of(sandbox, "claimbridge")
    victim = accounts[3]
    before = httpx.get(f"{sandbox.url}/_sandbox/claimbridge/stats").json()["login_attempts"]
    with httpx.Client(base_url=sandbox.url) as client:
        for _ in range(5):
            page = client.get("/claimbridge/login").text
            client.post("/claimbridge/login", data={"csrf": csrf(page, "csrf"), "username": victim["username"],
                                                    "password": "wrong"})
    stats = httpx.get(f"{sandbox.url}/_sandbox/claimbridge/stats").json()
    attempts = stats["login_attempts"]
    assert victim["username"] in stats["locked"]
    assert attempts[victim["username"]] == before.get(victim["username"], 0) + 5
    assert attempts.get(accounts[2]["username"], 0) == before.get(accounts[2]["username"], 0)
    with closing(log_in(sandbox, "claimbridge", accounts[2])) as client:  # the same practice's other login still works
        assert client.get("/claimbridge/workspace").status_code == 200


# -- the lookup log and the sessions-in-use peak ------------------------------------------------------------
def test_lookup_log_names_the_login_and_hides_the_session(sandbox):
    accounts = accounts_of(sandbox, "northwind")
    httpx.post(f"{sandbox.url}/_sandbox/northwind/reset_stats")
    oracle = oracle_of(sandbox, "northwind")["claims"]
    icns = {oracle[n]["payer_claim_number"]: n for n in oracle
            if oracle[n]["on_file"] and oracle[n]["practice"] == "south"}
    first, second = list(icns)[:2]
    with closing(log_in(sandbox, "northwind", accounts[2])) as client:
        detail(client, "northwind", first)
        detail(client, "northwind", first)
        detail(client, "northwind", second)
        detail(client, "northwind", icn_of(sandbox, "northwind", "north"))  # not found: not a lookup
        token = client.cookies.get("NWSESSION")
    log = httpx.get(f"{sandbox.url}/_sandbox/northwind/lookups").json()
    assert [e["claim_number"] for e in log] == [icns[first], icns[first], icns[second]]
    assert {e["username"] for e in log} == {accounts[2]["username"]}
    assert len({e["session"] for e in log}) == 1 and token not in str(log) and len(log[0]["session"]) == 12
    assert all(isinstance(e["at"], float) for e in log)
    stats = httpx.get(f"{sandbox.url}/_sandbox/northwind/stats").json()
    assert stats["claims_looked_up"] == 2 and stats["claims_looked_up_twice"] == 1 and stats["lookups"] == 3


@pytest.mark.parametrize("portal", ["meridian", "claimbridge"])
def test_page_portals_log_their_claim_detail_pages(sandbox, portal):
    httpx.post(f"{sandbox.url}/_sandbox/{portal}/reset_stats")
    account = accounts_of(sandbox, portal)[1]
    with closing(log_in(sandbox, portal, account)) as client:
        assert detail(client, portal, icn_of(sandbox, portal, "north")).status_code == 200
    log = httpx.get(f"{sandbox.url}/_sandbox/{portal}/lookups").json()
    assert len(log) == 1 and log[0]["username"] == account["username"]


def overlapping(clients: list[httpx.Client], path: str) -> None:
    """One request per client, all started at once (the portal's latency keeps them in flight together)."""
    barrier = threading.Barrier(len(clients))

    def one(client: httpx.Client) -> None:
        barrier.wait()
        assert client.get(path).status_code == 200

    threads = [threading.Thread(target=one, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_sessions_in_use_peak_counts_distinct_sessions_in_flight():
    with SandboxServer(seed=3, claims=10, practices=PRACTICES, accounts_per_practice=1,
                       faults="northwind.latency_ms=400") as server:
        accounts = accounts_of(server, "northwind")
        first, second = log_in(server, "northwind", accounts[0]), log_in(server, "northwind", accounts[1])
        stats = f"{server.url}/_sandbox/northwind/stats"
        assert httpx.get(stats).json()["sessions_in_use_peak"] == 1  # the logins went one after the other
        overlapping([first, second], "/northwind/api/me")
        assert httpx.get(stats).json()["sessions_in_use_peak"] == 2

        assert httpx.post(f"{server.url}/_sandbox/northwind/reset_stats").json() == {"reset": True}
        reset = httpx.get(stats).json()
        assert reset["sessions_in_use_peak"] == 0 and reset["requests"] == 0 and reset["login_attempts"] == {}
        twin = httpx.Client(base_url=server.url, cookies=first.cookies)  # the same session, a second connection
        overlapping([first, twin], "/northwind/api/me")
        assert httpx.get(stats).json()["sessions_in_use_peak"] == 1
        overlapping([httpx.Client(base_url=server.url), httpx.Client(base_url=server.url)], "/northwind/api/config")
        assert httpx.get(stats).json()["sessions_in_use_peak"] == 1  # anonymous requests are no session
        for client in (first, second, twin):
            client.close()
