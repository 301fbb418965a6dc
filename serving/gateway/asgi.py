"""ASGI plumbing of the chat route: bounded request reading, the client-disconnect watch, error and SSE
responses.

A request is read under limits (header count and size: 431; body size: 413; body-read time: 408), then a
:class:`DisconnectWatch` listens for the client leaving from that moment until the response's last byte:
a client that leaves before the first byte cancels the routing (no Bedrock call, the engine's connection
closed so it aborts the request), one that leaves mid-stream cancels the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from serving.gateway import sse
from serving.gateway.errors import BodyTimeout, BodyTooLarge, GatewayError, HeadersTooLarge
from serving.gateway.logs import LOGGER
from serving.gateway.upstream import Opened

UPSTREAM_HEADER = "x-paddock-upstream"
REASON_HEADER = "x-paddock-fallback-reason"


def error_response(exc: GatewayError, upstream: str | None = None, reason: str | None = None) -> Response:
    """The OpenAI error body with ``x-paddock-upstream``/``x-paddock-fallback-reason`` (and the upstream's
    ``Retry-After`` when it sent one). JSON is ASCII-escaped, so any client text (lone surrogates
    included) encodes."""
    headers = {UPSTREAM_HEADER: upstream or exc.upstream, REASON_HEADER: reason or "none"}
    if exc.retry_after is not None:
        headers["retry-after"] = exc.retry_after
    body = json.dumps(exc.to_openai(), separators=(",", ":")).encode()
    return Response(body, status_code=exc.status, media_type="application/json", headers=headers)


def check_headers(scope: Scope, max_count: int, max_bytes: int) -> None:
    """Raise :class:`HeadersTooLarge` (431) over ``max_count`` headers or ``max_bytes`` of names+values."""
    headers = scope["headers"]
    if len(headers) > max_count:
        raise HeadersTooLarge(f"more than {max_count} request headers", field="headers")
    if sum(len(k) + len(v) for k, v in headers) > max_bytes:
        raise HeadersTooLarge(f"request headers exceed {max_bytes} bytes", field="headers")


async def read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The whole body: 413 over ``limit`` bytes (declared or sent), 408 when not in within ``seconds``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body is {declared} bytes; the limit is {limit}", field="body")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes", field="body")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"request body not received within {seconds:g} s", field="body") from None
    return b"".join(chunks)


class DisconnectWatch:
    """Cancels the request's task when the client disconnects, while ``armed``.

    Started once the body is read (``receive`` then only ever yields ``http.disconnect``); disarmed when
    the answer's last byte is handed to the server, so a client that leaves after that cancels nothing."""

    def __init__(self, receive: Receive) -> None:
        self.gone = False
        self.armed = True
        self._task = asyncio.current_task()
        self._watcher = asyncio.create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        if self._task is not None and self.armed:
            self._task.cancel()

    def absorb(self) -> bool:
        """After a CancelledError: True (and the cancel request withdrawn) when it was the client leaving."""
        if self.gone and self._task is not None:
            self._task.uncancel()
            return True
        return False

    def close(self) -> None:
        self.armed = False
        self._watcher.cancel()


class JSONAnswer(Response):
    """A whole JSON answer; the watch is disarmed before the (single) write."""

    def __init__(self, body: bytes, headers: dict[str, str], watch: DisconnectWatch) -> None:
        super().__init__(body, media_type="application/json", headers=headers)
        self.watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.watch.close()
        await super().__call__(scope, receive, send)


class SSEResponse(Response):
    """Sends ``opened.first`` then ``opened.rest`` as they come; ``finalize`` runs exactly once at the end.

    The chunk the producer marks as its last (``opened.ended``) goes out with the end of the response in one
    write, and the producer's clean-up after it (draining the upstream for reuse) runs after the client has
    its whole answer. A client that leaves before that cancels the producer (through ``watch``)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        opened: Opened,
        headers: dict[str, str],
        finalize: Callable[[], Awaitable[None]],
        watch: DisconnectWatch,
    ) -> None:
        self.status_code, self.background = 200, None
        all_headers = {
            **headers,
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
        }
        self.raw_headers = [(k.encode(), v.encode()) for k, v in all_headers.items()]
        self.opened, self.finalize, self.watch = opened, finalize, watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opened, watch = self.opened, self.watch
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if opened.ended:
                watch.armed = False
            await send({"type": "http.response.body", "body": opened.first, "more_body": watch.armed})
            assert opened.rest is not None
            async for event in opened.rest:
                if watch.armed:
                    if opened.ended:
                        watch.armed = False
                    await send({"type": "http.response.body", "body": event, "more_body": watch.armed})
            if watch.armed:
                watch.armed = False
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not watch.absorb():
                raise
        except Exception as exc:  # noqa: BLE001 - a bug mid-stream: still one error event, then the end
            LOGGER.error("internal error mid-stream", extra={"error": type(exc).__name__})
            opened.stats.setdefault("error", "internal_error")
            if watch.armed:
                watch.armed = False
                event = sse.error_event("internal error", error_type="server_error", code="internal_error")
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": event, "more_body": False})
        finally:
            watch.close()
            await self.finalize()
