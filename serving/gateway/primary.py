"""The primary upstream: the alias's vLLM/TGI OpenAI-compatible server, spoken to with aiohttp.

aiohttp's pooled keep-alive connector and C HTTP parser keep the per-event cost low (the streaming hot path);
httpx's pool scans and polls every idle connection per request, which dominated CPU at 100 streams. Streams
are read per upstream read (``content.readany``), split by a synchronous ``sse.EventSplitter`` and forwarded
as one checked write per read; after the first byte, :class:`IdleWatch` keeps the idle limit (counted in
events, not bytes) and the stream's overall deadline (no timer per event).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from yarl import URL

from serving.gateway import sse
from serving.gateway.config import DEFAULT_MAX_RESPONSE_BYTES, AliasRoute
from serving.gateway.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from serving.gateway.request import ChatRequest
from serving.gateway.upstream import Opened, check_json, encode_batch, read_capped

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
    err = UpstreamStatusError(
        f"primary answered HTTP {code}",
        reason=reason,
        upstream_status=code,
        body=body if isinstance(body, dict) else None,
    )
    err.retry_after = resp.headers.get("retry-after")
    return err


async def next_batch(content: aiohttp.StreamReader, splitter: sse.EventSplitter) -> list[bytes] | None:
    """The payloads completed by the next upstream reads (never empty); None once the body ended cleanly.

    Reads whatever the socket brought in (``readany``), so what one read completed goes downstream as one
    write. No timer is created here per event: the idle limit is enforced by :class:`IdleWatch`."""
    while True:
        chunk = await content.readany()
        if not chunk:
            splitter.close()
            return None
        batch = splitter.feed(chunk)
        if batch:
            return batch


async def first_batch(
    content: aiohttp.StreamReader, splitter: sse.EventSplitter
) -> tuple[bytes, bool, UpstreamError | None]:
    """The first forwardable bytes; a failure before any of them is a pre-first-byte failure (raised)."""
    while (batch := await next_batch(content, splitter)) is not None:
        data, done, error = encode_batch(batch)
        if data:
            return data, done, error
        if error is not None:
            raise error
    raise UpstreamProtocolError("primary stream ended before any event", reason="truncated")


class IdleWatch:
    """The primary's idle limit and overall deadline once the first byte is in, at no cost per event.

    aiohttp's ``sock_read`` timeout cancels and re-creates a loop timer on every read. This watch instead
    wakes every quarter of the limit and reads the loop time of the last forwarded batch of events
    (``last_event``, set by the reader; SSE comments and keep-alive bytes do not count): when none came for
    ``idle`` seconds (up to a quarter more) while the stream was waiting on the upstream, the pending read
    fails with an ``idle_timeout``. Time spent sending to a slow client does not count, as no read is
    pending then. At ``deadline`` (loop time: the request's start plus ``timeouts.totalSeconds``) the
    stream ends with a ``stream_deadline`` whatever it is doing."""

    def __init__(self, content: aiohttp.StreamReader, idle: float, deadline: float) -> None:
        self.waiting = False
        """Set by the reader around each upstream read."""
        self._content, self._idle, self._step, self._deadline = content, idle, idle / 4, deadline
        self._loop = asyncio.get_running_loop()
        self.clock = self._loop.time
        self.last_event = self.clock()
        """Loop time of the last forwarded batch of events (set by the reader)."""
        self._handle = self._loop.call_later(self._next(self.last_event), self._check)

    def _next(self, now: float) -> float:
        return max(0.0, min(self._step, self._deadline - now))

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._deadline:
            self._content.set_exception(
                UpstreamTimeout("primary stream exceeded timeouts.totalSeconds", reason="stream_deadline")
            )
            return
        if not self.waiting:
            self.last_event = now  # sending to a slow client: not the upstream's idle time
        elif now - self.last_event >= self._idle:
            self._content.set_exception(UpstreamTimeout("primary stream stalled", reason="idle_timeout"))
            return
        self._handle = self._loop.call_later(self._next(now), self._check)

    def cancel(self) -> None:
        self._handle.cancel()


class PrimaryUpstream:
    """The alias's vLLM/TGI server; per-alias timeouts, cold-start hold."""

    name = "primary"

    def __init__(
        self,
        route: AliasRoute,
        session: UpstreamSession,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.route = route
        self.session = session
        self._sleep = sleep
        self._max_response = max_response_bytes
        self._url = URL(f"{route.primary.url}/chat/completions")  # parsed once, not per request
        t = route.timeouts
        #: (timeout, headers) for non-stream (False) and stream (True) requests, built once
        self._per_mode = {
            stream: (
                aiohttp.ClientTimeout(
                    total=None,
                    connect=t.connect_seconds,
                    sock_read=t.idle_seconds if stream else t.total_seconds,
                ),
                {
                    "content-type": "application/json",
                    "accept": "text/event-stream" if stream else "application/json",
                },
            )
            for stream in (False, True)
        }

    async def open(self, req: ChatRequest) -> Opened:
        """Open, holding through a cold start (connection refused) for the full ``coldStartHoldSeconds``:
        retries back off from 0.1 s to 2 s, the last one lands on the deadline itself."""
        hold = self.route.cold_start_hold_seconds
        deadline = time.monotonic() + hold
        delay = 0.1
        while True:
            try:
                return await self._open_once(req)
            except UpstreamConnectError as exc:
                if hold <= 0 or exc.reason != "connect_refused":
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UpstreamConnectError(
                        "primary still cold after the hold deadline", reason="cold_start"
                    ) from exc
                await self._sleep(min(delay, left))
                delay = min(delay * 2, 2.0)

    async def _open_once(self, req: ChatRequest) -> Opened:
        t = self.route.timeouts
        timeout, headers = self._per_mode[req.stream]
        start = time.monotonic()
        deadline = asyncio.get_running_loop().time() + t.total_seconds
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
                    body = await read_capped(resp, self._max_response, "primary")
                    resp.release()
                    check_json(body)
                    return Opened(body=body, ttft_seconds=time.monotonic() - start)
                splitter = sse.EventSplitter()
                data, done, pending = await first_batch(resp.content, splitter)
        except TimeoutError:
            _close(resp)
            if not req.stream:
                raise UpstreamTimeout(
                    "primary: no answer within timeouts.totalSeconds", reason="response_timeout"
                ) from None
            raise UpstreamTimeout(
                "primary: no first token before the deadline", reason="ttft_timeout"
            ) from None
        except aiohttp.ClientError as exc:
            _close(resp)
            raise classify(exc) from None
        except UpstreamError:
            _close(resp)
            raise
        if resp.connection is not None and resp.connection.protocol is not None:
            resp.connection.protocol.read_timeout = None  # IdleWatch takes over from sock_read
        opened = Opened(first=data, ttft_seconds=time.monotonic() - start, aclose=closer(resp))
        opened.ended = done
        opened.rest = self._rest(splitter, resp, opened, done=done, pending=pending, deadline=deadline)
        return opened

    async def _rest(
        self,
        splitter: sse.EventSplitter,
        resp: aiohttp.ClientResponse,
        opened: Opened,
        *,
        done: bool,
        pending: UpstreamError | None,
        deadline: float,
    ) -> AsyncIterator[bytes]:
        """Forward each read's events; ``opened.ended`` is set before the last chunk is yielded."""
        content, reusable = resp.content, False
        watch = IdleWatch(content, self.route.timeouts.idle_seconds, deadline)
        try:
            if pending is not None:
                raise pending
            while not done:
                watch.waiting = True
                batch = await next_batch(content, splitter)
                watch.waiting = False
                if batch is None:
                    raise UpstreamProtocolError("primary stream ended before [DONE]", reason="truncated")
                watch.last_event = watch.clock()
                data, done, error = encode_batch(batch)
                if error is not None:
                    raise _Ended(data, error)
                if data:
                    opened.ended = done
                    yield data
            watch.cancel()
            reusable = await drain(content)
        except _Ended as ended:
            opened.stats["error"] = ended.error.reason
            opened.ended = True
            yield ended.data + sse.error_event(ended.error.message)
        except UpstreamError as exc:
            opened.stats["error"] = exc.reason
            opened.ended = True
            yield sse.error_event(exc.message)
        except aiohttp.ServerTimeoutError:
            opened.stats["error"] = "idle_timeout"
            opened.ended = True
            yield sse.error_event("primary stream stalled")
        except aiohttp.ClientError:
            opened.stats["error"] = "connection_reset"
            opened.ended = True
            yield sse.error_event("primary connection lost mid-stream")
        finally:
            watch.cancel()
            if reusable:
                resp.release()
            else:
                resp.close()


class _Ended(Exception):
    """A batch whose good events (``data``) are followed by a stream-ending ``error``."""

    def __init__(self, data: bytes, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.data, self.error = data, error


async def drain(content: aiohttp.StreamReader) -> bool:
    """Read what follows ``[DONE]`` (normally just the end of the body) so the connection can be reused;
    False when that failed or took over a second (the caller closes the connection instead)."""
    try:
        async with asyncio.timeout(1.0):
            while await content.readany():
                pass
    except Exception:  # noqa: BLE001 - any failure here only means "do not reuse the connection"
        return False
    return True


def _close(resp: aiohttp.ClientResponse | None) -> None:
    if resp is not None:
        resp.close()


def closer(resp: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        if not resp.closed:
            resp.close()

    return close
