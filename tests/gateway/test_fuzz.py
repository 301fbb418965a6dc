"""Property: hostile bodies are 4xx, never a server error, and never an exception of an unplanned kind.

Three layers, each over arbitrary JSON (any types, nesting, huge and non-finite numbers, lone surrogates):
the request validator (a ChatRequest or a 400), the Bedrock translator with botocore's own validation and
serialization (a request or a 400), the translation back (a chat.completion or a protocol error), and the
served gateway end to end, where every answer must be OpenAI-shaped with both x-paddock headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.eventstream import EventStreamMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.gateway import create_app
from serving.gateway.bedrock import BedrockClient, _translate, answer_body
from serving.gateway.config import parse_routes
from serving.gateway.errors import InvalidRequest, UpstreamError
from serving.gateway.primary import UpstreamSession
from serving.gateway.request import ChatRequest, parse_chat_request
from serving.gateway.translate import AnswerMode, StreamTranslator, to_converse
from tests.gateway.conftest import BEDROCK_MODEL, routes, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp
from tests.gateway.jsonfuzz import (
    chat_bodies,
    encode,
    good_bodies,
    json_values,
    mutated_bodies,
    raw_bodies,
)

ALIASES = ["flex", "dead", "pinned", "dead-pinned"]
bodies = st.one_of(
    st.builds(encode, json_values),
    st.builds(encode, chat_bodies(ALIASES)),
    raw_bodies(ALIASES),
    st.builds(encode, good_bodies(ALIASES)),
    st.builds(encode, mutated_bodies(ALIASES)),
)
CLIENT = BedrockClient(UpstreamSession(), static_signer())


def _parsed(raw: bytes) -> ChatRequest | None:
    try:
        return parse_chat_request(raw)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.field
        json.dumps(exc.to_openai())  # the error itself always serializes
        return None


@settings(max_examples=1500, deadline=None)
@given(raw=bodies)
def test_validator_and_bedrock_translator_answer_a_request_or_a_400(raw: bytes) -> None:
    req = _parsed(raw)
    if req is None:
        return
    json.loads(req.upstream_body("served-model"))  # what the primary gets is strict JSON
    for op in ("Converse", "ConverseStream"):
        try:
            params = to_converse(req, BEDROCK_MODEL, 4096)
            spec = CLIENT.request_spec(op, params)
        except InvalidRequest as exc:
            assert exc.status == 400
            continue
        json.loads(spec["body"])  # botocore made a strict JSON body of it


def test_the_known_crashers_are_400s() -> None:
    base = {"model": "dead", "messages": [{"role": "user", "content": "x"}]}
    crashers = [
        {"model": "dead", "messages": [{"role": ["user"], "content": "x"}]},
        {"model": "dead", "messages": [{"role": {"a": 1}, "content": "x"}]},
        {**base, "temperature": float("nan")},
        {**base, "temperature": float("inf")},
        {**base, "tool_choice": {"type": "function", "function": "f"}},
        {**base, "response_format": {"type": "json_schema", "json_schema": "s"}},
        {"model": "dead", "messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
        {"model": "dead", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 1}]}]},
    ]
    for body in crashers:
        with pytest.raises(InvalidRequest):
            parse_chat_request(encode(body))
    with pytest.raises(InvalidRequest, match="number"):
        parse_chat_request(encode(base)[:-1] + b', "max_tokens": ' + b"1" * 5000 + b"}")


def test_deep_tool_call_arguments_are_a_400_on_the_fallback() -> None:
    args = "[" * 5000 + "]" * 5000
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}
    msgs = [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [call]}]
    req = parse_chat_request(encode({"model": "dead", "messages": msgs}))
    with pytest.raises(InvalidRequest) as info:
        to_converse(req, BEDROCK_MODEL, 4096)
    assert info.value.field == "messages[1].tool_calls[0]"


@settings(max_examples=500, deadline=None)
@given(answer=json_values, json_mode=st.booleans(), no_tools=st.booleans())
def test_translation_back_is_a_completion_or_a_protocol_error(
    answer: Any, json_mode: bool, no_tools: bool
) -> None:
    mode = AnswerMode(json=json_mode, no_tools=no_tools)
    shaped = {"output": {"message": {"content": [answer]}}, "stopReason": answer, "usage": answer}
    for obj in (answer, shaped):
        try:
            out = json.loads(answer_body(encode(obj), BEDROCK_MODEL, mode))
        except UpstreamError as exc:
            assert exc.reason == "bedrock_malformed"
            continue
        assert out["object"] == "chat.completion" and out["model"] == BEDROCK_MODEL


EVENTS = [
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
]


@settings(max_examples=500, deadline=None)
@given(
    frames=st.lists(st.tuples(st.sampled_from(EVENTS), json_values), max_size=6),
    include_usage=st.booleans(),
)
def test_stream_frames_of_any_shape_become_chunks_or_a_protocol_error(
    frames: list[tuple[str, Any]], include_usage: bool
) -> None:
    tr = StreamTranslator(BEDROCK_MODEL, include_usage=include_usage, mode=AnswerMode())
    for event, payload in frames:
        headers = {":event-type": event, ":message-type": "event"}
        msg = EventStreamMessage(None, headers, encode(payload), None)
        try:
            chunks = _translate(msg, tr)
        except UpstreamError as exc:
            assert exc.reason == "bedrock_malformed"
            return
        for chunk in chunks:
            json.dumps(chunk)


@pytest.fixture(scope="module")
def gw(engine: FakeEngine, bedrock: FakeBedrock) -> Iterator[httpx.Client]:
    fast = {"connectSeconds": 0.5, "firstTokenSeconds": 0.5, "idleSeconds": 0.5, "totalSeconds": 2}
    doc = routes(engine.url, bedrock.url)
    for alias in doc["aliases"].values():
        alias["timeouts"] = fast
    with ServedApp(create_app(parse_routes(doc), signer=static_signer())) as app:
        with httpx.Client(base_url=app.url, timeout=10) as c:
            yield c


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=bodies)
def test_served_gateway_never_answers_a_server_error(gw: httpx.Client, raw: bytes) -> None:
    r = gw.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code != 500, r.text
    assert r.headers["x-paddock-upstream"] in ("none", "primary", "bedrock")
    assert r.headers["x-paddock-fallback-reason"]
    if r.status_code >= 400:
        err = r.json()["error"]
        assert isinstance(err["message"], str) and "type" in err and "code" in err
