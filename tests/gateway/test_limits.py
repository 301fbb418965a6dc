"""Bounded resources and cancellation, served: body/header limits, upstream answer cap, stream deadline,
idle counted in events, a client that leaves before the first byte, and the labels each failure gets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest

from serving.gateway import create_app
from serving.gateway.config import parse_routes
from tests.gateway.conftest import routes, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp
from tests.gateway.helpers import body, errors_in, sse_events, stream_text


@contextmanager
def gateway(doc: dict[str, Any]) -> Iterator[ServedApp]:
    with ServedApp(create_app(parse_routes(doc), signer=static_signer())) as app:
        yield app


def post(app: ServedApp, alias: str, text: str, **extra: Any) -> httpx.Response:
    return httpx.post(f"{app.url}/v1/chat/completions", json=body(alias, text, **extra), timeout=10)


def metrics(app: ServedApp) -> str:
    return httpx.get(f"{app.url}/metrics").text


def raw_request(app: ServedApp, head: bytes, body_part: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", app.port))
    sock.sendall(head + body_part)
    return sock


def read_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
        if b"\r\n\r\n" in out and b"}" in out.split(b"\r\n\r\n", 1)[1]:
            break
    return out


@pytest.fixture(scope="module")
def doc(engine: FakeEngine, bedrock: FakeBedrock) -> dict[str, Any]:
    d = routes(engine.url, bedrock.url)
    d["limits"] = {
        "maxResponseBytes": 1_000_000,
        "bodyReadSeconds": 0.5,
        "maxHeaders": 20,
        "maxHeaderBytes": 4096,
    }
    return d


@pytest.fixture(scope="module")
def app(doc: dict[str, Any]) -> Iterator[ServedApp]:
    with gateway(doc) as served:
        yield served


def test_an_upstream_answer_over_the_cap_is_a_clear_502_and_is_not_retried_elsewhere(
    app: ServedApp, bedrock: FakeBedrock
) -> None:
    r = post(app, "flex", "fault:huge")
    assert r.status_code == 502 and "maxResponseBytes" in r.json()["error"]["message"]
    assert r.headers["x-paddock-upstream"] == "primary"
    assert r.headers["x-paddock-fallback-reason"] == "response_too_large"
    assert bedrock.hits == []


def test_a_body_that_never_finishes_is_a_408(app: ServedApp) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    sock = raw_request(app, head + b"content-length: 100\r\n\r\n", b'{"model": ')
    start = time.monotonic()
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
    assert time.monotonic() - start < 3
    assert b"x-paddock-upstream: none" in answer


@pytest.mark.parametrize(
    "headers",
    [{f"x-h{i}": "v" for i in range(30)}, {"x-big": "v" * 5000}],
    ids=["count", "size"],
)
def test_too_many_or_too_large_headers_are_431(app: ServedApp, headers: dict[str, str]) -> None:
    r = httpx.post(f"{app.url}/v1/chat/completions", json=body("flex"), headers=headers)
    assert r.status_code == 431 and r.json()["error"]["code"] == "request_headers_too_large"
    assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == ("none", "none")


def test_keep_alive_comments_do_not_hold_a_stream_past_its_idle_limit(app: ServedApp) -> None:
    start = time.monotonic()
    events = sse_events(post(app, "pinned", "fault:comments tokens:6", stream=True))
    assert stream_text(events) == "t0 t1 "
    errs = errors_in(events)
    assert len(errs) == 1 and "stalled" in errs[0]["error"]["message"]
    assert time.monotonic() - start < 3  # idle is 1 s; the engine would send comments forever


def test_a_stream_that_never_ends_is_cut_at_its_overall_deadline(doc: dict[str, Any]) -> None:
    d = json.loads(json.dumps(doc))
    d["aliases"]["pinned"]["timeouts"]["totalSeconds"] = 1.5
    with gateway(d) as served:
        start = time.monotonic()
        r = post(served, "pinned", "fault:endless", stream=True)
        took = time.monotonic() - start
        text = metrics(served)
    events = sse_events(r)
    errs = errors_in(events)
    assert len(errs) == 1 and events[-1] is errs[0] and "totalSeconds" in errs[0]["error"]["message"]
    assert len(stream_text(events)) > 0 and 1.4 < took < 3.5
    assert 'reason="stream_deadline",upstream="primary"' in text


def test_multi_line_data_events_are_reframed_for_real_clients(app: ServedApp) -> None:
    oai = openai.OpenAI(base_url=f"{app.url}/v1", api_key="unused", max_retries=0)
    stream = oai.chat.completions.create(
        model="pinned", messages=[{"role": "user", "content": "fault:multiline tokens:3"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "t0 t1 t2 "


def test_retry_after_is_relayed_and_a_pinned_429_is_a_rate_limit(app: ServedApp) -> None:
    r = post(app, "pinned", "fault:s429")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert r.headers["x-paddock-fallback-reason"] == "status_429"


def test_a_non_stream_timeout_is_not_a_first_token_timeout(doc: dict[str, Any]) -> None:
    d = json.loads(json.dumps(doc))
    d["aliases"]["pinned"]["timeouts"]["totalSeconds"] = 0.5
    with gateway(d) as served:
        r = post(served, "pinned", "fault:stall_before")
        assert r.status_code == 504 and r.headers["x-paddock-fallback-reason"] == "response_timeout"
        assert 'reason="response_timeout"' in metrics(served)


def test_a_pre_first_byte_truncated_stream_falls_back(app: ServedApp, bedrock: FakeBedrock) -> None:
    r = post(app, "flex", "fault:empty_stream", stream=True)
    assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == (
        "bedrock",
        "truncated",
    )
    assert stream_text(sse_events(r)) == "Hello from Claude" and len(bedrock.hits) == 1


def _leave_early(app: ServedApp, payload: dict[str, Any], after: float) -> None:
    raw = json.dumps(payload).encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(raw)}\r\n\r\n".encode()
    )
    sock = raw_request(app, head, raw)
    time.sleep(after)
    sock.close()


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_leaves_before_the_first_byte_cancels_the_upstream_work(
    engine: FakeEngine, bedrock: FakeBedrock, stream: bool
) -> None:
    d = routes(engine.url, bedrock.url)
    d["aliases"]["flex"]["timeouts"] = {"firstTokenSeconds": 1, "totalSeconds": 1}
    engine.aborted.clear()
    with gateway(d) as served:
        tag = f"fault:hold stream={stream}"
        _leave_early(served, body("flex", tag, stream=stream), 0.3)
        for _ in range(100):  # the engine sees its connection closed: vLLM aborts such a request
            if engine.aborted:
                break
            threading.Event().wait(0.02)
        threading.Event().wait(1.2)  # past the first-token limit: a fallback would have happened by now
        text = metrics(served)
    assert engine.aborted == [tag]
    assert bedrock.hits == []
    assert 'paddock_gateway_requests_total{alias="flex",status="499",upstream="none"} 1.0' in text
    assert 'paddock_gateway_in_flight{alias="flex"} 0.0' in text


def test_a_client_that_leaves_during_the_cold_start_hold_never_reaches_bedrock(
    bedrock: FakeBedrock,
) -> None:
    d = routes("http://unused", bedrock.url, dead={"coldStartHoldSeconds": 1.0})
    with gateway(d) as served:
        _leave_early(served, body("dead", "hi"), 0.3)
        threading.Event().wait(1.5)
    assert bedrock.hits == []


def test_the_cold_start_hold_lasts_its_full_configured_time(bedrock: FakeBedrock) -> None:
    d = routes("http://unused", bedrock.url, dead={"coldStartHoldSeconds": 1.5})
    with gateway(d) as served:
        start = time.monotonic()
        r = post(served, "dead", "hi")
        took = time.monotonic() - start
    assert r.headers["x-paddock-fallback-reason"] == "cold_start" and 1.5 <= took < 2.5


def test_bedrock_connection_failures_are_labelled_bedrock(engine: FakeEngine) -> None:
    from tests.gateway.fakes import closed_port_url

    dead_bedrock = closed_port_url().removesuffix("/v1")
    d = routes(engine.url, dead_bedrock)
    with gateway(d) as served:
        r = post(served, "dead", "hi")
        text = metrics(served)
    assert r.status_code == 502 and r.headers["x-paddock-upstream"] == "bedrock"
    assert r.json()["error"]["message"].startswith("bedrock:")
    assert 'reason="bedrock_connect_refused",upstream="bedrock"' in text


def test_pinned_saturation_is_counted_as_pinned_unavailable(bedrock: FakeBedrock) -> None:
    slow = FakeEngine(delay=0.05).start()
    try:
        limit = {"primary": {"url": f"{slow.url}/v1", "model": "m", "maxInFlight": 1}}
        with gateway(routes(slow.url, bedrock.url, pinned=limit)) as served:
            with httpx.Client(base_url=served.url, timeout=10) as c:
                req = body("pinned", "tokens:40", stream=True)
                with c.stream("POST", "/v1/chat/completions", json=req) as held:
                    chunks = held.iter_raw()  # kept: a collected iterator closes the stream
                    next(chunks)
                    r = c.post("/v1/chat/completions", json=body("pinned"))
                text = c.get("/metrics").text
    finally:
        assert slow.server is not None
        slow.server.stop()
    assert r.status_code == 429 and r.headers["x-paddock-fallback-reason"] == "saturated"
    assert 'paddock_gateway_pinned_unavailable_total{alias="pinned",reason="saturated"} 1.0' in text
    assert bedrock.hits == []


def test_the_server_refuses_a_huge_request_head_before_the_app_sees_it(doc: dict[str, Any]) -> None:
    from serving.gateway.server import bounded_httptools

    app = create_app(parse_routes(doc), signer=static_signer())
    with ServedApp(app, http=bounded_httptools(4096)) as served:
        sock = raw_request(
            served, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-big: " + b"v" * 200_000
        )
        answer = read_all(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 431") and b"request_headers_too_large" in answer
        with httpx.Client(base_url=served.url) as c:  # ordinary requests, two on one connection, still pass
            for _ in range(2):
                r = c.post("/v1/chat/completions", json=body("pinned", "tokens:2"))
                assert r.status_code == 200


def test_a_client_that_leaves_while_sending_its_body_is_counted_not_an_error(app: ServedApp) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    sock = raw_request(app, head + b"content-length: 100\r\n\r\n", b'{"model": ')
    sock.close()
    for _ in range(100):
        if 'status="499",upstream="none"' in (text := metrics(app)):
            break
        threading.Event().wait(0.02)
    assert 'paddock_gateway_requests_total{alias="",status="499",upstream="none"}' in text
    assert 'status="500"' not in text
