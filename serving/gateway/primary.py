"""The primary upstream: the alias's vLLM/TGI OpenAI-compatible server, spoken to with aiohttp.

aiohttp's pooled keep-alive connector and C HTTP parser keep the per-event cost low (the streaming hot path);
httpx's pool scans and polls every idle connection per request, which dominated CPU at 100 streams. Streams
are read per upstream read (``content.readany``), split by a synchronous ``sse.EventSplitter`` and forwarded
as one checked write per read; after the first byte, :class:`IdleWatch` keeps the idle limit (no timer per
event).
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
from serving.gateway.config import AliasRoute
from serving.gateway.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from serving.gateway.request import ChatRequest
from serving.gateway.upstream import Opened, check_json, encode_batch

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
    """The primary's idle limit once the first byte is in, at no cost per streamed event.

    aiohttp's ``sock_read`` timeout cancels and re-creates a loop timer on every read. This watch instead
    wakes every quarter of the limit and compares the bytes the response has received
    (``StreamReader.total_bytes``): when none arrived for ``idle`` seconds (up to a quarter more) while the
    stream was waiting on the upstream, the pending read fails with an ``idle_timeout``. Time spent
    sending to a slow client does not count, as no read is pending then."""

    def __init__(self, content: aiohttp.StreamReader, idle: float) -> None:
        self.waiting = False
        """Set by the reader around each upstream read."""
        self._content, self._idle, self._step = content, idle, idle / 4
        self._loop = asyncio.get_running_loop()
        self._seen, self._since = content.total_bytes, self._loop.time()
        self._handle = self._loop.call_later(self._step, self._check)

    def _check(self) -> None:
        now, seen = self._loop.time(), self._content.total_bytes
        if seen != self._seen or not self.waiting:
            self._seen, self._since = seen, now
        elif now - self._since >= self._idle:
            self._content.set_exception(UpstreamTimeout("primary stream stalled", reason="idle_timeout"))
            return
        self._handle = self._loop.call_later(self._step, self._check)

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
    ) -> None:
        self.route = route
        self.session = session
        self._sleep = sleep
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
        timeout, headers = self._per_mode[req.stream]
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
                splitter = sse.EventSplitter()
                data, done, pending = await first_batch(resp.content, splitter)
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
        if resp.connection is not None and resp.connection.protocol is not None:
            resp.connection.protocol.read_timeout = None  # IdleWatch takes over from sock_read
        opened = Opened(first=data, ttft_seconds=time.monotonic() - start, aclose=closer(resp))
        opened.ended = done
        opened.rest = self._rest(splitter, resp, opened, done=done, pending=pending)
        return opened

    async def _rest(
        self,
        splitter: sse.EventSplitter,
        resp: aiohttp.ClientResponse,
        opened: Opened,
        *,
        done: bool,
        pending: UpstreamError | None,
    ) -> AsyncIterator[bytes]:
        """Forward each read's events; ``opened.ended`` is set before the last chunk is yielded."""
        content, reusable = resp.content, False
        watch = IdleWatch(content, self.route.timeouts.idle_seconds)
        try:
            if pending is not None:
                raise pending
            while not done:
                watch.waiting = True
                batch = await next_batch(content, splitter)
                watch.waiting = False
                if batch is None:
                    raise UpstreamProtocolError("primary stream ended before [DONE]", reason="truncated")
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
