"""The upstream seam: an ``Upstream`` opens a request and returns once its first bytes are in hand.

``open`` raising an :class:`UpstreamError` means nothing reached the client yet, so the fallback policy may
try elsewhere. After ``open`` returns, ``Opened.rest`` never raises: a failure becomes exactly one SSE error
event and the stream ends. Shared helpers: SSE batch checking, transport-error classification.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import httpx

from serving.gateway import sse
from serving.gateway.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from serving.gateway.request import ChatRequest


async def read_capped(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """A non-streaming upstream body, read up to ``limit`` bytes (``limits.maxResponseBytes``); a longer
    one (declared or actual) is an :class:`UpstreamProtocolError` ``response_too_large`` (502) and is never
    buffered whole. The caller closes the response on error."""
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise _too_large(what, limit)
    chunks, size = [], 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, limit: int) -> UpstreamProtocolError:
    return UpstreamProtocolError(
        f"{what} answer exceeds limits.maxResponseBytes ({limit} bytes)", reason="response_too_large"
    )


async def _noop() -> None:
    return None


@dataclass
class Opened:
    """An upstream answer whose first bytes are in hand; ``body`` (non-stream) or ``first`` + ``rest``."""

    body: bytes | None = None
    first: bytes = b""
    rest: AsyncIterator[bytes] | None = None
    aclose: Callable[[], Awaitable[None]] = _noop
    ttft_seconds: float = 0.0
    """Seconds from sending upstream to the first event (streams) or the whole body (non-stream)."""
    ended: bool = False
    """Set by the producer of ``rest`` before it yields its last chunk (or when ``first`` is the last), so
    that chunk can go out together with the end of the response; producers that never set it still work."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Filled while streaming: ``error`` (str) when the stream ended in an error event."""


class Upstream(Protocol):
    """Something that can answer a chat request: the primary engine or Bedrock."""

    name: str

    async def open(self, req: ChatRequest) -> Opened: ...


def connect_error(exc: Exception, what: str) -> UpstreamError:
    """Classify an httpx transport error raised before any byte arrived."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return UpstreamConnectError(f"{what}: DNS lookup failed", reason="dns_error")
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"{what}: connect timeout", reason="connect_timeout")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamConnectError(f"{what}: connection refused", reason="connect_refused")
    return UpstreamConnectError(f"{what}: connection reset before the first byte", reason="connection_reset")


def encode_batch(payloads: list[bytes]) -> tuple[bytes, bool, UpstreamError | None]:
    """Check and re-encode a batch: (bytes to forward, saw ``[DONE]``, error that must end the stream)."""
    out: list[bytes] = []
    for payload in payloads:
        try:
            obj = sse.check_payload(payload)
        except UpstreamProtocolError as exc:
            return b"".join(out), False, exc
        if obj is None:
            out.append(sse.DONE)
            return b"".join(out), True, None
        if "error" in obj:
            return b"".join(out), False, UpstreamProtocolError(error_message(obj), reason="stream_error")
        if b"\n" in payload:  # a multi-line ``data:`` event: one ``data:`` line per line again
            payload = payload.replace(b"\n", b"\ndata: ")
        out.append(b"data: " + payload + b"\n\n")
    return b"".join(out), False, None


def error_message(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    msg = err.get("message") if isinstance(err, dict) else err
    return f"primary stream error: {msg}"[:500]


def check_json(body: bytes) -> None:
    try:
        obj = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UpstreamProtocolError("primary answered malformed JSON", reason="malformed_response") from None
    if not isinstance(obj, dict) or "choices" not in obj:
        raise UpstreamProtocolError("primary answer has no choices", reason="malformed_response")
