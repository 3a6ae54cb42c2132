"""The sandbox's realistic latency: `latency_ms` and `jitter_ms` delay every portal answer, not the harness."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sandbox.faults import FaultMiddleware, FaultSpecError, parse_settings, parse_spec
from sandbox.server import SandboxServer, build_app

PORTALS = ["meridian", "northwind", "claimbridge"]


def timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    """One GET and how long it took (seconds)."""
    started = time.monotonic()
    answer = client.get(path)
    return answer, time.monotonic() - started


def test_latency_and_jitter_parse_like_the_other_keys():
    settings = parse_spec("latency_ms=300,jitter_ms=50,meridian.latency_ms=0", PORTALS)
    assert settings["northwind"] == {"latency_ms": 300.0, "jitter_ms": 50.0}
    assert settings["meridian"] == {"latency_ms": 0.0, "jitter_ms": 50.0}
    assert parse_settings({"latency_ms": 120, "jitter_ms": "7.5"}) == {"latency_ms": 120.0, "jitter_ms": 7.5}


@pytest.mark.parametrize(("spec", "named"), [
    ("latency_ms=-1", "latency_ms='-1'"),
    ("latency_ms=60001", "latency_ms='60001'"),
    ("jitter_ms=soon", "jitter_ms='soon'"),
    ("meridian.jitter_ms=-0.5", "jitter_ms='-0.5'"),
])
def test_bad_latency_values_are_refused_naming_the_key(spec, named):
    with pytest.raises(FaultSpecError) as caught:
        parse_spec(spec, PORTALS)
    assert named in str(caught.value)


def test_a_page_waits_latency_ms_and_the_harness_does_not():
    with SandboxServer(seed=3, claims=10, faults="meridian.latency_ms=200") as server:
        with httpx.Client(base_url=server.url) as client:
            page, took = timed_get(client, "/meridian/login")
            assert page.status_code == 200 and took >= 0.2
            # A long latency, so a loaded machine's slowness can never pass for it (or hide it).
            client.post("/_sandbox/meridian/faults", json={"latency_ms": 8000})
            for path in ("/_sandbox/meridian/oracle", "/_sandbox/meridian/stats", "/_sandbox/health"):
                answer, took = timed_get(client, path)
                assert answer.status_code == 200 and took < 6, path
            other, took = timed_get(client, "/northwind/api/config")  # another portal: no latency
            assert other.status_code == 200 and took < 6
            stats = client.get("/_sandbox/meridian/stats").json()
            assert stats["requests"] == 1 and stats["latency_ms_total"] == 200
            assert stats["requests_by_kind"]["page"] == 1


def test_latency_applies_to_api_calls_and_injected_errors_via_the_whole_spec_route():
    with SandboxServer(seed=3, claims=10) as server:
        with httpx.Client(base_url=server.url) as client:
            set_all = client.post("/_sandbox/faults", json={"spec": "northwind.latency_ms=250"})
            assert set_all.status_code == 200 and set_all.json()["northwind"]["latency_ms"] == 250
            assert set_all.json()["meridian"]["latency_ms"] == 0
            api, took = timed_get(client, "/northwind/api/config")
            assert api.status_code == 200 and took >= 0.25
            client.post("/_sandbox/northwind/faults", json={"errors": 1})
            failed, took = timed_get(client, "/northwind/api/config")
            assert failed.status_code >= 500 and took >= 0.25  # a real 5xx crosses the same network
            stats = client.get("/_sandbox/northwind/stats").json()
            assert stats["latency_ms_total"] == 500 and stats["requests"] == 2
            assert stats["requests_by_kind"]["api"] == 1 and stats["requests_by_kind"]["error"] == 1
            refused = client.post("/_sandbox/northwind/faults", json={"jitter_ms": -3})
            assert refused.status_code == 400 and "jitter_ms" in refused.json()["detail"]
            refused = client.post("/_sandbox/faults", json={"spec": "meridian.latency_ms=lots"})
            assert refused.status_code == 400 and "latency_ms" in refused.json()["detail"]


def test_jitter_stays_within_bounds_and_follows_the_seed():
    def draws(seed: int) -> list[float]:
        _app, states = build_app(seed=seed, claims=5, portals=["claimbridge"],
                                 faults="latency_ms=50,jitter_ms=100")
        middleware = FaultMiddleware(None, states["claimbridge"])
        return [middleware._latency_draw() for _ in range(200)]

    first = draws(4)
    assert all(50 <= value <= 150 for value in first)
    assert max(first) - min(first) > 50  # really spread, not a constant
    assert first == draws(4) and first != draws(5)


def test_jitter_on_real_requests_stays_within_bounds():
    with SandboxServer(seed=3, claims=10, faults="claimbridge.latency_ms=60,claimbridge.jitter_ms=60") as server:
        with httpx.Client(base_url=server.url) as client:
            took = [timed_get(client, "/claimbridge/login")[1] for _ in range(8)]
            assert min(took) >= 0.06
            total = client.get("/_sandbox/claimbridge/stats").json()["latency_ms_total"]
            assert 8 * 60 <= total <= 8 * 120


def test_latency_does_not_block_other_requests():
    # Threads, not asyncio.run: the suite's Playwright fixtures keep an event loop running in this thread.
    def get(url: str) -> int:
        with httpx.Client(base_url=url) as client:
            return client.get("/meridian/login").status_code

    with SandboxServer(seed=3, claims=10, faults="meridian.latency_ms=2000") as server:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(get, [server.url] * 4))
        took = time.monotonic() - started
    assert statuses == [200] * 4
    assert 2 <= took < 6  # four at once, not one after another (8 s), with room for a loaded machine
