"""Routing policy, served: circuit breaker, saturation, queue depth, cold start, limits, auth, logs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.gateway import create_app
from serving.gateway.breaker import CircuitBreaker
from serving.gateway.config import BreakerPolicy, GatewaySettings, parse_routes
from serving.gateway.errors import RoutesConfigError
from serving.gateway.fallback import AliasState
from serving.gateway.logs import JsonFormatter
from tests.gateway.conftest import routes, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp, closed_port_url
from tests.gateway.helpers import body, sse_events, stream_text


@contextmanager
def served(s: GatewaySettings, **kw: Any) -> Iterator[httpx.Client]:
    asgi = create_app(s, signer=static_signer(), **kw)
    with ServedApp(asgi) as app, httpx.Client(base_url=app.url, timeout=10) as c:
        setattr(c, "paddock_gateway", asgi.state.gateway)  # noqa: B010 - tests read live alias state
        yield c


def alias_state(c: httpx.Client, alias: str) -> AliasState:
    """The live state of ``alias`` in the gateway ``c`` talks to (nothing public exposes it)."""
    state: AliasState = getattr(c, "paddock_gateway").aliases[alias]  # noqa: B009
    return state


def post(c: httpx.Client, alias: str, text: str = "hi", **extra: Any) -> httpx.Response:
    return c.post("/v1/chat/completions", json=body(alias, text, **extra))


def wait_idle(c: httpx.Client, alias: str) -> None:
    """Wait (bounded) until the gateway has noticed a closed client stream and released its slot."""
    for _ in range(250):
        if alias_state(c, alias).in_flight == 0:
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"{alias} still has requests in flight")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_state_machine() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerPolicy(failure_threshold=2, cooldown_seconds=10), clock)
    assert b.allow() and b.state == "closed"
    b.failure()
    assert b.state == "closed"
    b.failure()
    assert b.state == "open" and not b.allow()
    clock.now += 10
    assert b.state == "half_open" and b.allow() and not b.allow()  # exactly one probe
    b.failure()
    assert b.state == "open"
    clock.now += 10
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow()


def test_open_circuit_skips_the_dead_primary(engine: FakeEngine, bedrock: FakeBedrock) -> None:
    clock = Clock()
    doc = routes(engine.url, bedrock.url, flex={"breaker": {"failureThreshold": 2, "cooldownSeconds": 30}})
    with served(parse_routes(doc), clock=clock) as c:
        reasons = [post(c, "flex", "fault:s500").headers["x-paddock-fallback-reason"] for _ in range(4)]
        assert reasons == ["status_5xx", "status_5xx", "circuit_open", "circuit_open"]
        assert len(engine.hits) == 2 and len(bedrock.hits) == 4
        clock.now += 30
        r = post(c, "flex", "healthy again")
        assert r.headers["x-paddock-upstream"] == "primary" and len(engine.hits) == 3
        assert alias_state(c, "flex").breaker.state == "closed"


def test_pinned_open_circuit_fails_fast_without_bedrock(engine: FakeEngine, bedrock: FakeBedrock) -> None:
    doc = routes(engine.url, bedrock.url, pinned={"breaker": {"failureThreshold": 1, "cooldownSeconds": 30}})
    with served(parse_routes(doc)) as c:
        assert post(c, "pinned", "fault:s503").status_code == 503
        r = post(c, "pinned", "fine")
        assert (r.status_code, r.headers["x-paddock-fallback-reason"]) == (503, "circuit_open")
        assert len(engine.hits) == 1 and bedrock.hits == []
        assert (
            'paddock_gateway_pinned_unavailable_total{alias="pinned",reason="circuit_open"} 1.0'
            in c.get("/metrics").text
        )


def test_in_flight_saturation_spills_and_pinned_gets_429(bedrock: FakeBedrock) -> None:
    slow = FakeEngine(delay=0.05).start()
    try:
        limit = {"primary": {"url": f"{slow.url}/v1", "model": "m", "maxInFlight": 1}}
        doc = routes(slow.url, bedrock.url, flex=limit, pinned=limit)
        with served(parse_routes(doc)) as c:
            with c.stream(
                "POST", "/v1/chat/completions", json=body("flex", "tokens:40", stream=True)
            ) as held:
                chunks = held.iter_raw()
                next(chunks)
                r = post(c, "flex")
                assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == (
                    "bedrock",
                    "saturated",
                )
            with c.stream(
                "POST", "/v1/chat/completions", json=body("pinned", "tokens:40", stream=True)
            ) as held:
                chunks = held.iter_raw()
                next(chunks)
                r = post(c, "pinned")
                assert r.status_code == 429 and r.json()["error"]["code"] == "concurrency_limit"
            wait_idle(c, "flex")
            assert post(c, "flex").headers["x-paddock-upstream"] == "primary"
            assert len(bedrock.hits) == 1
    finally:
        assert slow.server is not None
        slow.server.stop()


def test_engine_queue_depth_spills_flex_but_not_pinned(bedrock: FakeBedrock) -> None:
    busy = FakeEngine(queue_depth=12).start()
    try:
        primary = {"url": f"{busy.url}/v1", "model": "m", "maxQueueDepth": 5, "metricsIntervalSeconds": 0.05}
        doc = routes(busy.url, bedrock.url, flex={"primary": primary}, pinned={"primary": primary})
        with served(parse_routes(doc)) as c:
            for _ in range(200):
                if alias_state(c, "flex").queue_depth == 12:
                    break
                threading.Event().wait(0.02)
            r = post(c, "flex")
            assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == (
                "bedrock",
                "queue_depth",
            )
            assert post(c, "pinned").headers["x-paddock-upstream"] == "primary"
    finally:
        assert busy.server is not None
        busy.server.stop()


def test_cold_start_hold_waits_for_the_primary_then_serves_it(bedrock: FakeBedrock) -> None:
    url = closed_port_url()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    late = FakeEngine()
    timer = threading.Timer(0.4, late.start, kwargs={"port": port})
    doc = routes(
        "http://unused", bedrock.url, flex={"primary": {"url": url, "model": "m"}, "coldStartHoldSeconds": 10}
    )
    try:
        with served(parse_routes(doc)) as c:
            timer.start()
            r = post(c, "flex", "tokens:2", stream=True)
            assert r.headers["x-paddock-upstream"] == "primary" and stream_text(sse_events(r)) == "t0 t1 "
            assert bedrock.hits == [] and len(late.hits) == 1
    finally:
        timer.join()
        if late.server is not None:
            late.server.stop()


def test_cold_start_spills_after_the_hold_deadline(bedrock: FakeBedrock) -> None:
    doc = routes("http://unused", bedrock.url, dead={"coldStartHoldSeconds": 0.3})
    with served(parse_routes(doc)) as c:
        r = post(c, "dead")
        assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == (
            "bedrock",
            "cold_start",
        )


def test_max_tokens_ceiling_and_alias_concurrency(engine: FakeEngine, bedrock: FakeBedrock) -> None:
    doc = routes(engine.url, bedrock.url, flex={"limits": {"maxTokens": 100, "maxConcurrency": 1}})
    slow = FakeEngine(delay=0.05).start()
    doc["aliases"]["flex"]["primary"]["url"] = f"{slow.url}/v1"
    try:
        with served(parse_routes(doc)) as c:
            r = post(c, "flex", max_completion_tokens=101)
            assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"
            assert post(c, "flex", max_tokens=100).status_code == 200
            with c.stream(
                "POST", "/v1/chat/completions", json=body("flex", "tokens:40", stream=True)
            ) as held:
                chunks = held.iter_raw()
                next(chunks)
                r = post(c, "flex")
                assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
            wait_idle(c, "flex")
            assert post(c, "flex").status_code == 200
    finally:
        assert slow.server is not None
        slow.server.stop()


def test_api_keys_from_env_and_file(engine: FakeEngine, bedrock: FakeBedrock, tmp_path: Path) -> None:
    doc = routes(engine.url, bedrock.url)
    doc["apiKeys"] = {"env": "PADDOCK_TEST_KEYS"}
    with served(parse_routes(doc), environ={"PADDOCK_TEST_KEYS": "k-one, k-two"}) as c:
        assert post(c, "flex").status_code == 401
        wrong = c.post("/v1/chat/completions", json=body("flex"), headers={"authorization": "Bearer k-three"})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_api_key")
        ok = c.post("/v1/chat/completions", json=body("flex"), headers={"authorization": "Bearer k-two"})
        assert ok.status_code == 200
        assert c.get("/v1/models").status_code == 401
        assert c.get("/v1/models", headers={"authorization": "Bearer k-one"}).status_code == 200
        assert c.get("/healthz").status_code == 200
    keys = tmp_path / "keys"
    keys.write_text("file-key\n")
    doc["apiKeys"] = {"file": str(keys)}
    with served(parse_routes(doc)) as c:
        assert (
            c.post(
                "/v1/chat/completions", json=body("flex"), headers={"authorization": "Bearer file-key"}
            ).status_code
            == 200
        )
    with pytest.raises(RoutesConfigError, match="PADDOCK_TEST_KEYS is not set"):
        doc["apiKeys"] = {"env": "PADDOCK_TEST_KEYS"}
        create_app(parse_routes(doc), environ={})


def test_logs_carry_routing_facts_but_never_text(
    engine: FakeEngine, bedrock: FakeBedrock, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SECRET-PROMPT-7f3a"
    with (
        caplog.at_level(logging.INFO, logger="paddock.gateway"),
        served(parse_routes(routes(engine.url, bedrock.url))) as c,
    ):
        post(c, "flex", f"{secret} tokens:2")
        post(c, "dead", secret, stream=True)
        post(c, "dead-pinned", secret)
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "paddock.gateway"]
    assert [(line["alias"], line["upstream"], line["status"]) for line in lines] == [
        ("flex", "primary", 200),
        ("dead", "bedrock", 200),
        ("dead-pinned", "primary", 502),
    ]
    assert lines[1]["reason"] == "connect_refused"
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert secret not in text and "Hello from Claude" not in text and "t0 " not in text
