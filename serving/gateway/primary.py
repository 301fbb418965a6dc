"""The primary upstream: the alias's vLLM/TGI OpenAI-compatible server, spoken to with aiohttp.

aiohttp's pooled keep-alive connector and C HTTP parser keep the per-event cost low (the streaming hot path);
httpx's pool scans and polls every idle connection per request, which dominated CPU at 100 streams. Streams
are read per upstream read (``content.iter_any``) and forwarded as checked batches of whole events.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

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
from serving.gateway.upstream import Opened, check_json, drain, encode_batch, first_batch

MAX_ERROR_BODY = 65_536


class UpstreamSession:
    """The aiohttp session shared by the primaries and Bedrock, opened in the app's lifespan (it needs a
    running loop)."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=30, enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def get(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("the gateway's lifespan has not started (UpstreamSession.start)")
        return self.session


def classify(exc: BaseException, what: str = "primary") -> UpstreamError:
    """An aiohttp error raised before any byte reached the client, as the fallback reason it stands for."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return UpstreamConnectError(f"{what}: DNS lookup failed", reason="dns_error")
        cause = getattr(cause, "os_error", None) or cause.__cause__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(f"{what}: connect timeout", reason="connect_timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectError(f"{what}: connection refused", reason="connect_refused")
    return UpstreamConnectError(f"{what}: connection reset before the first byte", reason="connection_reset")


async def _status_error(resp: aiohttp.ClientResponse) -> UpstreamStatusError:
    code = resp.status
    body: Any = None
    try:
        raw = await resp.content.read(MAX_ERROR_BODY)
        body = json.loads(raw) if raw else None
    except (aiohttp.ClientError, ValueError):
        body = None
    resp.close()
    reason = "status_429" if code == 429 else "status_5xx" if code >= 500 else "client_error"
    return UpstreamStatusError(
        f"primary answered HTTP {code}",
        reason=reason,
        upstream_status=code,
        body=body if isinstance(body, dict) else None,
    )


async def _batches(resp: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
    async for batch in sse.split_events(resp.content.iter_any()):
        yield batch


class PrimaryUpstream:
    """The alias's vLLM/TGI server; per-alias timeouts, cold-start hold."""

    name = "primary"

    def __init__(
        self,
        route: AliasRoute,
        session: UpstreamSession,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.route = route
        self.session = session
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
        timeout = aiohttp.ClientTimeout(
            total=None, connect=t.connect_seconds, sock_read=t.idle_seconds if req.stream else t.total_seconds
        )
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if req.stream else "application/json",
        }
        start = time.monotonic()
        resp: aiohttp.ClientResponse | None = None
        try:
            async with asyncio.timeout(t.first_token_seconds if req.stream else t.total_seconds):
                resp = await self.session.get().post(
                    self._url,
                    data=req.upstream_body(self.route.primary.model),
                    headers=headers,
                    timeout=timeout,
                )
                if resp.status != 200:
                    raise await _status_error(resp)
                if not req.stream:
                    body = await resp.read()
                    resp.release()
                    check_json(body)
                    return Opened(body=body, ttft_seconds=time.monotonic() - start)
                events = _batches(resp)
                data, done, pending = await first_batch(events)
        except TimeoutError:
            _close(resp)
            raise UpstreamTimeout(
                "primary: no first token before the deadline", reason="ttft_timeout"
            ) from None
        except aiohttp.ClientError as exc:
            _close(resp)
            raise classify(exc) from None
        except UpstreamError:
            _close(resp)
            raise
        opened = Opened(first=data, ttft_seconds=time.monotonic() - start, aclose=closer(resp))
        opened.rest = self._rest(events, resp, opened, done=done, pending=pending)
        return opened

    async def _rest(
        self,
        events: AsyncIterator[list[bytes]],
        resp: aiohttp.ClientResponse,
        opened: Opened,
        *,
        done: bool,
        pending: UpstreamError | None,
    ) -> AsyncIterator[bytes]:
        idle = self.route.timeouts.idle_seconds
        reusable = False
        try:
            if pending is not None:
                raise pending
            while not done:
                try:
                    async with asyncio.timeout(idle):
                        batch = await anext(events)
                except StopAsyncIteration:
                    raise UpstreamProtocolError(
                        "primary stream ended before [DONE]", reason="truncated"
                    ) from None
                except TimeoutError:
                    raise UpstreamTimeout("primary stream stalled", reason="idle_timeout") from None
                data, done, error = encode_batch(batch)
                if data:
                    yield data
                if error is not None:
                    raise error
            reusable = await drain(events)
        except UpstreamError as exc:
            opened.stats["error"] = exc.reason
            yield sse.error_event(exc.message)
        except aiohttp.ClientError:
            opened.stats["error"] = "connection_reset"
            yield sse.error_event("primary connection lost mid-stream")
        finally:
            if reusable:
                resp.release()
            else:
                resp.close()


def _close(resp: aiohttp.ClientResponse | None) -> None:
    if resp is not None:
        resp.close()


def closer(resp: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        if not resp.closed:
            resp.close()

    return close
