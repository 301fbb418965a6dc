"""BedrockUpstream against the loopback fake Bedrock: botocore serializes, signs and decodes real frames."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import AsyncIterator
from typing import Any

import botocore.auth
import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from serving.gateway.bedrock import BedrockClient, BedrockSigner, BedrockUpstream
from serving.gateway.config import BedrockTarget, Timeouts
from serving.gateway.errors import UpstreamError, UpstreamStatusError
from serving.gateway.primary import UpstreamSession
from serving.gateway.request import parse_chat_request
from tests.gateway.conftest import BEDROCK_MODEL, static_signer
from tests.gateway.fakes import FakeBedrock, FakeRequest
from tests.gateway.helpers import sse_events


@contextlib.asynccontextmanager
async def session() -> AsyncIterator[UpstreamSession]:
    s = UpstreamSession()
    await s.start()
    try:
        yield s
    finally:
        await s.close()


TIMEOUTS = Timeouts(connect_seconds=1, first_token_seconds=2, idle_seconds=2, total_seconds=5)


def upstream(
    bedrock: FakeBedrock, http: UpstreamSession, signer: BedrockSigner | None = None
) -> BedrockUpstream:
    target = BedrockTarget(model=BEDROCK_MODEL, region="eu-central-1", endpoint=bedrock.url)
    return BedrockUpstream("flex", target, TIMEOUTS, BedrockClient(http, signer or static_signer()))


def req(text: str, **extra: Any) -> Any:
    return parse_chat_request(
        json.dumps({"model": "flex", "messages": [{"role": "user", "content": text}], **extra}).encode()
    )


async def drain(opened: Any) -> bytes:
    out = opened.first
    async for ev in opened.rest:
        out += ev
    return bytes(out)


def events_of(raw: bytes) -> list[Any]:
    return sse_events(httpx.Response(200, content=raw))


async def test_converse_non_stream(bedrock: FakeBedrock) -> None:
    async with session() as http:
        opened = await upstream(bedrock, http).open(req("hi", max_tokens=10, stop=["x"]))
    assert opened.body is not None
    out = json.loads(opened.body)
    assert out["choices"][0]["message"]["content"] == "Hello from Claude"
    assert out["usage"]["completion_tokens"] == 4 and out["model"] == BEDROCK_MODEL  # who answered
    sent = bedrock.hits[-1].json()
    assert sent["inferenceConfig"] == {"maxTokens": 10, "stopSequences": ["x"]}
    assert sent["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


def _resign(hit: FakeRequest, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Recompute the SigV4 Authorization of a recorded request with the same credentials and time."""
    amz_date = hit.headers["x-amz-date"]
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    signed = hit.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {k: v for k, v in hit.headers.items() if k in signed and k not in ("x-amz-date",)}
    aws = AWSRequest(method=hit.method, url=url + hit.path, data=hit.body, headers=headers)
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    creds = session.get_credentials()
    assert creds is not None
    SigV4Auth(creds.get_frozen_credentials(), "bedrock", "eu-central-1").add_auth(aws)
    return str(aws.headers["Authorization"])


async def test_request_on_the_wire_is_validly_sigv4_signed(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with session() as http:
        await upstream(bedrock, http).open(req("hi"))
    hit = bedrock.hits[-1]
    assert hit.path == "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    auth = hit.headers["authorization"]
    assert (
        auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-central-1/bedrock/aws4_request" in auth
    )
    assert _resign(hit, bedrock.url, monkeypatch) == auth


async def test_converse_stream_decoded_by_botocore(bedrock: FakeBedrock) -> None:
    async with session() as http:
        opened = await upstream(bedrock, http).open(
            req("hi", stream=True, stream_options={"include_usage": True})
        )
        events = events_of(await drain(opened))
    assert bedrock.hits[-1].path.endswith("/converse-stream")
    assert [e["choices"][0]["delta"].get("content") for e in events[:4]] == ["", "Hello ", "from ", "Claude"]
    assert events[4]["choices"][0]["finish_reason"] == "stop"
    assert events[5]["choices"] == [] and events[5]["usage"]["completion_tokens"] == 4
    assert events[6] == "[DONE]" and len(events) == 7


async def test_json_mode_stream_turns_tool_input_into_content(bedrock: FakeBedrock) -> None:
    async with session() as http:
        r = req("fault:bedrock_tool", stream=True, response_format={"type": "json_object"})
        events = events_of(await drain(await upstream(bedrock, http).open(r)))
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if isinstance(e, dict))
    assert json.loads(text) == {"city": "Berlin"}
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("bedrock_throttle", 429, "ThrottlingException"),
        ("bedrock_denied", 502, "AccessDeniedException"),
        ("bedrock_exception_first", 429, "ThrottlingException"),
    ],
)
async def test_errors_before_the_first_event_raise(
    bedrock: FakeBedrock, fault: str, status: int, code: str
) -> None:
    async with session() as http:
        with pytest.raises(UpstreamStatusError) as info:
            await upstream(bedrock, http).open(req(f"fault:{fault}", stream=True))
    assert (info.value.status, info.value.code) == (status, code)


async def test_corrupt_frame_is_a_protocol_error(bedrock: FakeBedrock) -> None:
    async with session() as http:
        with pytest.raises(UpstreamError) as info:
            await upstream(bedrock, http).open(req("fault:bedrock_corrupt", stream=True))
    assert info.value.reason == "bedrock_malformed"


async def test_no_credentials_is_a_clear_error(bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    async with session() as http:
        with pytest.raises(UpstreamError) as info:
            await upstream(bedrock, http, BedrockSigner(botocore.session.Session())).open(req("x"))
    assert info.value.reason == "bedrock_credentials"
    assert bedrock.hits == []


async def test_default_chain_reads_env_credentials(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    async with session() as http:
        await upstream(bedrock, http, BedrockSigner(botocore.session.Session())).open(req("x"))
    assert "Credential=AKIAENVEXAMPLE/" in bedrock.hits[-1].headers["authorization"]
