"""Claude on Amazon Bedrock: Converse and ConverseStream, serialized, signed and decoded by botocore.

botocore builds the request from its own bedrock-runtime model (validation included), SigV4 signs it with the
default credential chain (IRSA, Pod Identity, env, profile) for the configured region, and its event-stream
decoder reads ``application/vnd.amazon.eventstream`` frames. aiohttp carries the bytes (async, the session
shared with the primary), so a stream costs no thread. ``endpoint`` overrides the URL (tests, VPC endpoint
DNS).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import botocore.session
import yarl
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError
from botocore.exceptions import ParamValidationError
from botocore.serialize import create_serializer

from serving.gateway import sse
from serving.gateway.config import DEFAULT_MAX_RESPONSE_BYTES, BedrockTarget, Timeouts
from serving.gateway.errors import (
    InvalidRequest,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from serving.gateway.primary import UpstreamSession, classify, closer
from serving.gateway.request import ChatRequest, strict_loads
from serving.gateway.translate import (
    AnswerMode,
    StreamTranslator,
    answer_mode,
    from_converse,
    to_converse,
)
from serving.gateway.upstream import Opened, read_capped

#: Bedrock exception type -> HTTP status the client sees.
EXCEPTION_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 502,
    "ResourceNotFoundException": 502,
    "ModelTimeoutException": 504,
    "ModelErrorException": 502,
    "ThrottlingException": 429,
    "ModelNotReadyException": 503,
    "ServiceQuotaExceededException": 429,
    "InternalServerException": 502,
    "ServiceUnavailableException": 503,
    "ModelStreamErrorException": 502,
}


class BedrockSigner:
    """SigV4 for service ``bedrock`` from a botocore session's default credential chain."""

    def __init__(self, session: botocore.session.Session | None = None) -> None:
        self._session = session or botocore.session.get_session()
        self._creds: Credentials | None = None

    async def sign(self, request: AWSRequest, region: str) -> None:
        if self._creds is None:
            self._creds = await asyncio.to_thread(self._session.get_credentials)
        creds = self._creds
        if creds is None:
            raise UpstreamError(
                "no AWS credentials in the default chain (IRSA, Pod Identity, env)",
                reason="bedrock_credentials",
            )
        if isinstance(creds, RefreshableCredentials) and creds.refresh_needed():
            frozen = await asyncio.to_thread(creds.get_frozen_credentials)
        else:
            frozen = creds.get_frozen_credentials()
        SigV4Auth(frozen, "bedrock", region).add_auth(request)


class BedrockClient:
    """One client per gateway: botocore models + serializer, the shared aiohttp session and a signer."""

    def __init__(self, http: UpstreamSession, signer: BedrockSigner | None = None) -> None:
        session = botocore.session.get_session()
        model = session.get_service_model("bedrock-runtime")
        self.ops = {name: model.operation_model(name) for name in ("Converse", "ConverseStream")}
        self.serializer = create_serializer("rest-json", include_validation=True)
        self.http = http
        self.signer = signer or BedrockSigner(session)

    def request_spec(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        """botocore's validated, serialized request; anything it refuses is a 400 naming the reason."""
        try:
            spec: dict[str, Any] = self.serializer.serialize_to_request(params, self.ops[op])
        except ParamValidationError as exc:
            raise InvalidRequest(
                f"request cannot be sent to the fallback: {exc}"[:1000], field="messages"
            ) from None
        except (RecursionError, ValueError, TypeError) as exc:
            raise InvalidRequest(
                f"request cannot be sent to the fallback: {type(exc).__name__}", field="messages"
            ) from None
        return spec

    async def send(
        self, op: str, params: dict[str, Any], target: BedrockTarget, timeouts: Timeouts
    ) -> aiohttp.ClientResponse:
        """Serialize, sign and send; returns the streaming response (status not checked)."""
        spec = self.request_spec(op, params)
        endpoint = (target.endpoint or f"https://bedrock-runtime.{target.region}.amazonaws.com").rstrip("/")
        aws = AWSRequest(
            method=spec["method"], url=endpoint + spec["url_path"], data=spec["body"], headers=spec["headers"]
        )
        await self.signer.sign(aws, target.region)
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in aws.headers.items()}
        timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect_seconds, sock_read=timeouts.idle_seconds
        )
        # encoded=True: send the path exactly as signed (``%3A`` in model ids stays encoded)
        url = yarl.URL(str(aws.url), encoded=True)
        return await self.http.get().post(url, data=spec["body"], headers=headers, timeout=timeout)


async def _bedrock_status_error(resp: aiohttp.ClientResponse) -> UpstreamStatusError:
    try:
        raw = await resp.content.read(65_536)
    except aiohttp.ClientError:
        raw = b""
    resp.close()
    kind = resp.headers.get("x-amzn-errortype", "").split(":")[0]
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    kind = kind or str(body.get("__type", "")).split("#")[-1] or f"HTTP{resp.status}"
    err = _mapped(kind, str(body.get("message") or body.get("Message") or ""), resp.status)
    err.retry_after = resp.headers.get("retry-after")
    return err


def _mapped(kind: str, message: str, status: int) -> UpstreamStatusError:
    kind = kind[0].upper() + kind[1:] if kind else kind
    status = EXCEPTION_STATUS.get(kind, status if status >= 400 else 502)
    err = UpstreamStatusError(
        f"bedrock {kind}: {message}"[:500], reason=f"bedrock_{kind}", upstream_status=status
    )
    err.error_type = (
        "rate_limit_error"
        if status == 429
        else "invalid_request_error"
        if status == 400
        else "upstream_error"
    )
    err.code = kind
    return err


class BedrockUpstream:
    """Answers an alias's requests from its Bedrock target (the fallback of a non-pinned alias)."""

    name = "bedrock"

    def __init__(
        self,
        alias: str,
        target: BedrockTarget,
        timeouts: Timeouts,
        client: BedrockClient,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.alias, self.target, self.timeouts, self.client = alias, target, timeouts, client
        self.max_response_bytes = max_response_bytes

    async def open(self, req: ChatRequest) -> Opened:
        params = to_converse(req, self.target.model, self.target.max_tokens)
        mode = answer_mode(req)
        start = time.monotonic()
        deadline = asyncio.get_running_loop().time() + self.timeouts.total_seconds
        resp: aiohttp.ClientResponse | None = None
        budget = self.timeouts.first_token_seconds if req.stream else self.timeouts.total_seconds
        try:
            async with asyncio.timeout(budget):
                resp = await self.client.send(
                    "ConverseStream" if req.stream else "Converse", params, self.target, self.timeouts
                )
                if resp.status != 200:
                    raise await _bedrock_status_error(resp)
                if not req.stream:
                    raw = await read_capped(resp, self.max_response_bytes, "bedrock")
                    resp.release()
                    body = answer_body(raw, self.target.model, mode)
                    return Opened(body=body, ttft_seconds=time.monotonic() - start)
                tr = StreamTranslator(self.target.model, include_usage=req.include_usage, mode=mode)
                frames = _frames(resp.content.iter_any())
                first = await self._first(frames, tr)
        except TimeoutError:
            _close(resp)
            what = "no first token before the deadline" if req.stream else "no answer within the deadline"
            raise UpstreamTimeout(f"bedrock: {what}", reason="bedrock_timeout") from None
        except aiohttp.ClientError as exc:
            _close(resp)
            err = classify(exc, "bedrock")
            raise UpstreamConnectError(err.message, reason=f"bedrock_{err.reason}") from None
        except UpstreamError:
            _close(resp)
            raise
        opened = Opened(first=first, ttft_seconds=time.monotonic() - start, aclose=closer(resp))
        opened.rest = self._rest(frames, tr, resp, opened, deadline)
        return opened

    async def _first(self, frames: AsyncIterator[EventStreamMessage], tr: StreamTranslator) -> bytes:
        async for msg in frames:
            chunks = _translate(msg, tr)
            if chunks:
                return b"".join(sse.encode(c) for c in chunks)
        raise UpstreamProtocolError("bedrock stream ended before any event", reason="bedrock_truncated")

    async def _rest(
        self,
        frames: AsyncIterator[EventStreamMessage],
        tr: StreamTranslator,
        resp: aiohttp.ClientResponse,
        opened: Opened,
        deadline: float,
    ) -> AsyncIterator[bytes]:
        """Translate each frame (idle = time between frames; ``deadline`` in loop time ends the stream)."""
        stopped, loop = False, asyncio.get_running_loop()
        try:
            while True:
                left = deadline - loop.time()
                try:
                    async with asyncio.timeout(min(self.timeouts.idle_seconds, max(left, 0.0))):
                        msg = await anext(frames)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if left <= self.timeouts.idle_seconds:
                        raise UpstreamTimeout(
                            "bedrock stream exceeded timeouts.totalSeconds", reason="bedrock_stream_deadline"
                        ) from None
                    raise UpstreamTimeout("bedrock stream stalled", reason="bedrock_idle_timeout") from None
                stopped = stopped or _headers(msg).get(":event-type") == "messageStop"
                for chunk in _translate(msg, tr):
                    yield sse.encode(chunk)
            if not stopped:
                raise UpstreamProtocolError(
                    "bedrock stream ended before messageStop", reason="bedrock_truncated"
                )
            yield sse.DONE
        except UpstreamStatusError as exc:
            opened.stats["error"] = exc.reason
            yield sse.error_event(
                exc.message, error_type=exc.error_type, code=exc.code or "stream_interrupted"
            )
        except UpstreamError as exc:
            opened.stats["error"] = exc.reason
            yield sse.error_event(exc.message)
        except aiohttp.ClientError:
            opened.stats["error"] = "bedrock_connection_reset"
            yield sse.error_event("bedrock connection lost mid-stream")
        finally:
            if "error" in opened.stats:
                resp.close()
            else:
                resp.release()  # the body was read to its end: the connection goes back to the pool


def answer_body(raw: bytes, model: str, mode: AnswerMode) -> bytes:
    """The ``chat.completion`` JSON for a Converse answer; an answer of an unknown shape is a protocol
    error (502), never an exception of another kind."""
    try:
        out = from_converse(_json(raw), model, mode)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise UpstreamProtocolError(
            "bedrock answer has an unknown shape", reason="bedrock_malformed"
        ) from None
    return json.dumps(out, separators=(",", ":")).encode()


def _headers(msg: EventStreamMessage) -> dict[str, Any]:
    headers: dict[str, Any] = msg.headers  # type: ignore[assignment]
    return headers


def _translate(msg: EventStreamMessage, tr: StreamTranslator) -> list[dict[str, Any]]:
    headers = _headers(msg)
    if headers.get(":message-type") == "exception":
        raise _mapped(
            str(headers.get(":exception-type", "")), str(_json(msg.payload).get("message", "")), 502
        )
    if headers.get(":message-type") == "error":
        raise _mapped(str(headers.get(":error-code", "")), str(headers.get(":error-message", "")), 502)
    try:
        return tr.feed(str(headers.get(":event-type", "")), _json(msg.payload))
    except (KeyError, TypeError, AttributeError, ValueError):
        raise UpstreamProtocolError(
            "bedrock sent an event of an unknown shape", reason="bedrock_malformed"
        ) from None


async def _frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[EventStreamMessage]:
    buf = EventStreamBuffer()
    async for chunk in chunks:
        buf.add_data(chunk)
        try:
            for msg in buf:
                yield msg
        except ParserError as exc:
            raise UpstreamProtocolError(
                f"bedrock event stream is corrupt: {type(exc).__name__}", reason="bedrock_malformed"
            ) from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        obj = strict_loads(raw) if raw else {}
    except (ValueError, RecursionError):
        raise UpstreamProtocolError("bedrock sent malformed JSON", reason="bedrock_malformed") from None
    if not isinstance(obj, dict):
        raise UpstreamProtocolError("bedrock sent a non-object JSON payload", reason="bedrock_malformed")
    return obj


def _close(resp: aiohttp.ClientResponse | None) -> None:
    if resp is not None:
        resp.close()
