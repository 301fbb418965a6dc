"""The gateway end to end over loopback: official openai client and raw httpx, real fake upstreams."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from serving.gateway import create_app
from tests.gateway.conftest import settings, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp
from tests.gateway.helpers import body, errors_in, sse_events, stream_text


@pytest.fixture(scope="module")
def gw(engine: FakeEngine, bedrock: FakeBedrock) -> Iterator[ServedApp]:
    app = create_app(settings(engine.url, bedrock.url), signer=static_signer())
    with ServedApp(app) as served:
        yield served


@pytest.fixture
def client(gw: ServedApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        yield c


@pytest.fixture
def oai(gw: ServedApp) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)


def test_openai_client_non_stream_from_primary(oai: openai.OpenAI, engine: FakeEngine) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="flex", messages=[{"role": "user", "content": "hi tokens:3"}], max_tokens=50, temperature=0.2
    )
    done = raw.parse()
    assert raw.headers["x-paddock-upstream"] == "primary"
    assert raw.headers["x-paddock-fallback-reason"] == "none"
    assert done.choices[0].message.content == "t0 t1 t2 "
    assert done.usage is not None and done.usage.completion_tokens == 3
    sent = engine.hits[-1].json()
    assert sent["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert (sent["max_tokens"], sent["temperature"]) == (50, 0.2)


def test_openai_client_stream_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="flex",
        messages=[{"role": "user", "content": "tokens:4"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "t0 t1 t2 t3 "
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 7
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_openai_client_falls_back_to_bedrock_when_primary_refuses(
    oai: openai.OpenAI, bedrock: FakeBedrock
) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="dead", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-paddock-upstream"] == "bedrock"
    assert raw.headers["x-paddock-fallback-reason"] == "connect_refused"
    assert raw.parse().choices[0].message.content == "Hello from Claude"
    sent = bedrock.hits[-1].json()
    assert sent["system"] == [{"text": "be brief"}]
    assert bedrock.hits[-1].path == "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"


def test_openai_client_stream_from_bedrock_with_tools(oai: openai.OpenAI, bedrock: FakeBedrock) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    stream = oai.chat.completions.create(
        model="dead",
        messages=[{"role": "user", "content": "fault:bedrock_tool"}],
        tools=tools,
        stream=True,  # type: ignore[arg-type]
    )
    chunks = list(stream)
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert (
        calls[0].id == "tooluse_1" and calls[0].function is not None and calls[0].function.name == "weather"
    )
    assert "".join(tc.function.arguments or "" for tc in calls if tc.function) == '{"city": "Berlin"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert bedrock.hits[-1].json()["toolConfig"]["tools"][0]["toolSpec"]["name"] == "weather"


def test_models_health_ready_metrics(client: httpx.Client, oai: openai.OpenAI) -> None:
    assert sorted(m.id for m in oai.models.list()) == ["dead", "dead-pinned", "flex", "pinned"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}  # nothing that maps pinning
    client.post("/v1/chat/completions", json=body("flex"))
    text = client.get("/metrics").text
    assert 'paddock_gateway_requests_total{alias="flex",status="200",upstream="primary"}' in text
    assert "paddock_gateway_added_latency_seconds_bucket" in text


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("s429", "status_429"),
        ("s500", "status_5xx"),
        ("s503", "status_5xx"),
        ("reset", "connection_reset"),
        ("stall_before", "ttft_timeout"),
        ("malformed_first", "malformed_stream"),
    ],
)
def test_pre_first_byte_faults_fall_back(
    client: httpx.Client, bedrock: FakeBedrock, fault: str, reason: str
) -> None:
    r = client.post("/v1/chat/completions", json=body("flex", f"fault:{fault}", stream=True))
    assert r.status_code == 200
    assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == ("bedrock", reason)
    events = sse_events(r)
    assert stream_text(events) == "Hello from Claude" and events[-1] == "[DONE]"
    assert len(bedrock.hits) == 1


@pytest.mark.parametrize("fault", ["s429", "s500", "reset", "stall_before", "malformed_first"])
def test_pinned_alias_answers_an_error_and_never_reaches_bedrock(
    client: httpx.Client, bedrock: FakeBedrock, fault: str
) -> None:
    r = client.post(
        "/v1/chat/completions", json=body("pinned", f"fault:{fault}", stream=True, fallbacks=["flex"])
    )
    assert r.status_code in (429, 502, 503, 504)
    assert r.headers["x-paddock-upstream"] == "primary"
    assert r.json()["error"]["code"] in ("no_upstream_available",)
    assert bedrock.hits == []


def test_client_error_from_primary_is_relayed_not_fallen_back(
    client: httpx.Client, bedrock: FakeBedrock
) -> None:
    r = client.post("/v1/chat/completions", json=body("flex", "fault:s400"))
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "engine 400"
    assert r.headers["x-paddock-upstream"] == "primary" and bedrock.hits == []


@pytest.mark.parametrize(
    ("fault", "words", "text"),
    [
        ("stall_after", "stalled", "t0 t1 "),
        ("malformed", "malformed", "t0 t1 "),
        ("truncate", "before [DONE]", "t0 t1 t2 t3 t4 t5 "),
        ("reset_after", "lost", "t0 t1 "),
        ("error_mid", "engine died", "t0 t1 "),
    ],
)
def test_mid_stream_failure_ends_with_exactly_one_error_event(
    client: httpx.Client, bedrock: FakeBedrock, fault: str, words: str, text: str
) -> None:
    r = client.post("/v1/chat/completions", json=body("flex", f"fault:{fault} tokens:6", stream=True))
    events = sse_events(r)
    assert r.headers["x-paddock-upstream"] == "primary"
    assert stream_text(events) == text
    errs = errors_in(events)
    assert len(errs) == 1 and events[-1] is errs[0]
    assert words in errs[0]["error"]["message"]
    assert "[DONE]" not in events and bedrock.hits == []


def test_openai_client_raises_on_the_mid_stream_error_event(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="flex", messages=[{"role": "user", "content": "fault:error_mid"}], stream=True
    )
    got: list[str] = []
    with pytest.raises(openai.APIError, match="engine died"):
        for c in stream:
            got.append(c.choices[0].delta.content or "")
    assert "".join(got) == "t0 t1 "


def test_slow_drip_is_reassembled_into_whole_events(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=body("flex", "fault:drip tokens:3", stream=True))
    events = sse_events(r)
    assert stream_text(events) == "t0 t1 t2 " and events[-1] == "[DONE]" and errors_in(events) == []


def test_bedrock_in_stream_exception_becomes_one_error_event(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=body("dead", "fault:bedrock_exception_mid", stream=True))
    events = sse_events(r)
    assert r.headers["x-paddock-upstream"] == "bedrock"
    assert stream_text(events) == "Hello from Claude"
    errs = errors_in(events)
    assert (
        len(errs) == 1 and errs[0]["error"]["code"] == "ModelStreamErrorException" and events[-1] is errs[0]
    )


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("bedrock_throttle", 429, "ThrottlingException"),
        ("bedrock_denied", 502, "AccessDeniedException"),
        ("bedrock_exception_first", 429, "ThrottlingException"),
    ],
)
def test_bedrock_errors_before_first_byte_are_http_errors(
    client: httpx.Client, fault: str, status: int, code: str
) -> None:
    r = client.post("/v1/chat/completions", json=body("dead", f"fault:{fault}", stream=True))
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert r.headers["x-paddock-upstream"] == "bedrock"
    assert r.headers["x-paddock-fallback-reason"] == "connect_refused"


@pytest.mark.parametrize(
    ("payload", "status", "param"),
    [
        (b"{not json", 400, "body"),
        (b"[1, 2]", 400, "body"),
        (b'{"model": 3, "messages": []}', 400, "model"),
        (b'{"model": "flex", "messages": "hi"}', 400, "messages"),
        (b'{"model": "flex", "messages": [{"role": "wizard", "content": "x"}]}', 400, "messages[0].role"),
        (
            b'{"model": "flex", "messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}',
            400,
            "max_tokens",
        ),
        (
            b'{"model": "flex", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
            400,
            "stream",
        ),
        (
            b'{"model": "flex", "messages": [{"role": "user", "content": "x"}], '
            b'"tools": [{"type": "function"}]}',
            400,
            "tools[0]",
        ),
        (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        (b"\xff\xfe", 400, "body"),
        (b"[" * 100000, 400, "body"),
    ],
)
def test_bad_inputs_get_4xx_naming_the_param(
    client: httpx.Client, payload: bytes, status: int, param: str
) -> None:
    r = client.post("/v1/chat/completions", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.json()["error"]["param"] == param
    assert r.headers["x-paddock-upstream"] == "none"


def test_huge_body_gets_413(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=body("flex", "x" * 2_000_000))
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_fallback_fields_from_the_client_are_stripped(client: httpx.Client, engine: FakeEngine) -> None:
    r = client.post("/v1/chat/completions", json=body("flex", fallbacks=["dead"], disable_fallbacks=False))
    assert r.status_code == 200
    assert "fallbacks" not in engine.hits[-1].json() and "disable_fallbacks" not in engine.hits[-1].json()
