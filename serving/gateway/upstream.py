"""The upstream seam: an ``Upstream`` opens a request and returns once its first bytes are in hand.

``open`` raising an :class:`UpstreamError` means nothing reached the client yet, so the fallback policy may
try elsewhere. After ``open`` returns, ``Opened.rest`` never raises: a failure becomes exactly one SSE error
event and the stream ends. :class:`PrimaryUpstream` talks to vLLM/TGI with httpx (transport injectable).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from serving.gateway import sse
from serving.gateway.config import AliasRoute
from serving.gateway.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from serving.gateway.request import ChatRequest

MAX_BODY_BYTES = 16 * 1_048_576


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


async def _error_body(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        raw = await resp.aread()
        obj = json.loads(raw[:65536]) if raw else None
    except (httpx.HTTPError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


async def status_error(resp: httpx.Response, what: str) -> UpstreamStatusError:
    code = resp.status_code
    body = await _error_body(resp)
    await resp.aclose()
    reason = "status_429" if code == 429 else "status_5xx" if code >= 500 else "client_error"
    return UpstreamStatusError(f"{what} answered HTTP {code}", reason=reason, upstream_status=code, body=body)


class PrimaryUpstream:
    """The alias's vLLM/TGI server. One shared httpx client; per-alias timeouts."""

    name = "primary"

    def __init__(
        self,
        route: AliasRoute,
        client: httpx.AsyncClient,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.route = route
        self.client = client
        self._sleep = sleep
        self._url = f"{route.primary.url}/chat/completions"

    async def open(self, req: ChatRequest) -> Opened:
        """Open, holding through a cold start (connection refused) for up to ``coldStartHoldSeconds``."""
        hold = self.route.cold_start_hold_seconds
        deadline = time.monotonic() + hold
        delay = 0.1
        while True:
            try:
                return await self._open_once(req)
            except UpstreamConnectError as exc:
                if hold <= 0 or exc.reason != "connect_refused":
                    raise
                if time.monotonic() + delay > deadline:
                    raise UpstreamConnectError(
                        "primary still cold after the hold deadline", reason="cold_start"
                    ) from exc
                await self._sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _open_once(self, req: ChatRequest) -> Opened:
        t = self.route.timeouts
        timeout = httpx.Timeout(
            t.total_seconds, connect=t.connect_seconds, read=t.idle_seconds if req.stream else t.total_seconds
        )
        request = self.client.build_request(
            "POST",
            self._url,
            content=req.upstream_body(self.route.primary.model),
            headers={
                "content-type": "application/json",
                "accept": "text/event-stream" if req.stream else "application/json",
            },
            timeout=timeout,
        )
        start = time.monotonic()
        budget = t.first_token_seconds if req.stream else t.total_seconds
        resp: httpx.Response | None = None
        try:
            async with asyncio.timeout(budget):
                resp = await self.client.send(request, stream=True)
                if resp.status_code != 200:
                    raise await status_error(resp, "primary")
                if not req.stream:
                    body = await resp.aread()
                    await resp.aclose()
                    _check_json(body)
                    return Opened(body=body, ttft_seconds=time.monotonic() - start)
                events = sse.split_events(resp.aiter_bytes())
                first = await _first_event(events)
        except TimeoutError:
            await _close(resp)
            raise UpstreamTimeout(
                "primary: no first token before the deadline", reason="ttft_timeout"
            ) from None
        except httpx.HTTPError as exc:
            await _close(resp)
            raise connect_error(exc, "primary") from None
        except UpstreamError:
            await _close(resp)
            raise
        opened = Opened(first=first, ttft_seconds=time.monotonic() - start, aclose=resp.aclose)
        opened.rest = self._rest(events, resp, opened, done=first == sse.DONE)
        return opened

    async def _rest(
        self, events: AsyncIterator[bytes], resp: httpx.Response, opened: Opened, *, done: bool
    ) -> AsyncIterator[bytes]:
        idle = self.route.timeouts.idle_seconds
        try:
            while not done:
                try:
                    async with asyncio.timeout(idle):
                        payload = await anext(events)
                except StopAsyncIteration:
                    raise UpstreamProtocolError(
                        "primary stream ended before [DONE]", reason="truncated"
                    ) from None
                except TimeoutError:
                    raise UpstreamTimeout("primary stream stalled", reason="idle_timeout") from None
                obj = sse.check_payload(payload)
                if obj is None:
                    done = True
                    yield sse.DONE
                elif "error" in obj:
                    raise UpstreamProtocolError(_error_message(obj), reason="stream_error")
                else:
                    yield b"data: " + payload + b"\n\n"
        except UpstreamError as exc:
            opened.stats["error"] = exc.reason
            yield sse.error_event(exc.message)
        except httpx.HTTPError:
            opened.stats["error"] = "connection_reset"
            yield sse.error_event("primary connection lost mid-stream")
        finally:
            await resp.aclose()


def _error_message(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    msg = err.get("message") if isinstance(err, dict) else err
    return f"primary stream error: {msg}"[:500]


async def _first_event(events: AsyncIterator[bytes]) -> bytes:
    """The first event, re-encoded; an upstream error event here is a pre-first-byte failure."""
    try:
        payload = await anext(events)
    except StopAsyncIteration:
        raise UpstreamProtocolError("primary stream ended before any event", reason="truncated") from None
    obj = sse.check_payload(payload)
    if obj is None:
        return sse.DONE
    if "error" in obj:
        raise UpstreamProtocolError(_error_message(obj), reason="stream_error")
    return b"data: " + payload + b"\n\n"


def _check_json(body: bytes) -> None:
    try:
        obj = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UpstreamProtocolError("primary answered malformed JSON", reason="malformed_response") from None
    if not isinstance(obj, dict) or "choices" not in obj:
        raise UpstreamProtocolError("primary answer has no choices", reason="malformed_response")


async def _close(resp: httpx.Response | None) -> None:
    if resp is not None:
        await resp.aclose()
