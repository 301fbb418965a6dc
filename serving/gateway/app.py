"""The gateway's ASGI app, built by :func:`create_app` (no module globals; state lives on ``app.state``).

Routes only parse, call the fallback policy and format. Streaming answers are sent by :class:`SSEResponse`,
which forwards events as they arrive, stops the upstream when the client leaves, and always releases the
alias's slots exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from serving.gateway import probe
from serving.gateway.auth import ApiKeys
from serving.gateway.bedrock import BedrockClient, BedrockSigner, BedrockUpstream
from serving.gateway.breaker import CircuitBreaker
from serving.gateway.config import GatewaySettings
from serving.gateway.errors import (
    BodyTooLarge,
    ConcurrencyLimited,
    FallbackExhausted,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
)
from serving.gateway.fallback import AliasState, Routed, route_request
from serving.gateway.logs import log_request
from serving.gateway.metrics import AliasMetrics, GatewayMetrics
from serving.gateway.primary import PrimaryUpstream, UpstreamSession
from serving.gateway.request import ChatRequest, parse_chat_request
from serving.gateway.upstream import Opened

CHAT_PATH = "/v1/chat/completions"
UPSTREAM_HEADER = "x-paddock-upstream"
REASON_HEADER = "x-paddock-fallback-reason"


class Gateway:
    """Per-app state: settings, keys, alias states, HTTP clients, metrics."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        signer: BedrockSigner | None,
        environ: Mapping[str, str] | None,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.keys = ApiKeys.load(settings.api_keys, dict(environ) if environ is not None else None)
        self.metrics = GatewayMetrics()
        #: per-alias metric children, bound once at start
        self.alias_metrics = {name: AliasMetrics(self.metrics, name) for name in settings.aliases}
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
        self.http = httpx.AsyncClient(transport=transport, limits=limits)
        self.upstreams = UpstreamSession()
        #: None when every alias is pinned: such a gateway holds no Bedrock client at all
        self.bedrock: BedrockClient | None = None
        if any(not r.pinned for r in settings.aliases.values()):
            self.bedrock = BedrockClient(self.upstreams, signer)
        bedrock = self.bedrock
        self.aliases: dict[str, AliasState] = {}
        for name, route in settings.aliases.items():
            fallback = None
            if route.fallback is not None and bedrock is not None:
                fallback = BedrockUpstream(name, route.fallback, route.timeouts, bedrock)
            self.aliases[name] = AliasState(
                route=route,
                primary=PrimaryUpstream(route, self.upstreams),
                fallback=fallback,
                breaker=CircuitBreaker(route.breaker, clock),
            )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.upstreams.start()
        for state in self.aliases.values():
            if state.route.primary.max_queue_depth is not None:
                self._tasks.append(asyncio.create_task(probe.poll_forever(state, self.http)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.aclose()
        await self.upstreams.close()


def error_response(exc: GatewayError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.to_openai(), status_code=exc.status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body is {declared} bytes; the limit is {limit}", field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


class SSEResponse(Response):
    """Sends ``opened.first`` then ``opened.rest`` as they come; ``finalize`` runs exactly once at the end.

    The chunk the producer marks as its last (``opened.ended``) goes out with the end of the response in one
    write, and the producer's clean-up after it (draining the upstream for reuse) runs after the client has
    its whole answer. A client that leaves before that cancels the producer."""

    media_type = "text/event-stream"

    def __init__(
        self, opened: Opened, headers: dict[str, str], finalize: Callable[[], Awaitable[None]]
    ) -> None:
        self.status_code, self.background = 200, None
        all_headers = {
            **headers,
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
        }
        self.raw_headers = [(k.encode(), v.encode()) for k, v in all_headers.items()]
        self.opened, self.finalize = opened, finalize

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        gone = complete = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            if task is not None and not complete:
                task.cancel()

        watcher = asyncio.create_task(watch())
        opened = self.opened
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            complete = opened.ended
            await send({"type": "http.response.body", "body": opened.first, "more_body": not complete})
            assert opened.rest is not None
            async for event in opened.rest:
                if not complete:
                    complete = opened.ended
                    await send({"type": "http.response.body", "body": event, "more_body": not complete})
            if not complete:
                complete = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not gone or task is None:
                raise
            task.uncancel()
        finally:
            watcher.cancel()
            await self.finalize()


def _check_limits(state: AliasState, req: ChatRequest) -> None:
    ceiling = state.route.max_tokens
    if ceiling is not None and req.max_tokens is not None and req.max_tokens > ceiling:
        raise InvalidRequest(
            f"max_tokens {req.max_tokens} exceeds this alias's ceiling of {ceiling}", field="max_tokens"
        )
    limit = state.route.max_concurrency
    if limit is not None and state.in_flight >= limit:
        raise ConcurrencyLimited(f"alias {state.route.name!r} has {limit} requests in flight; retry later")


async def chat_completions(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    t0 = time.perf_counter()
    try:
        gw.keys.check(request.headers.get("authorization"))
        req = parse_chat_request(await read_body(request, gw.settings.max_body_bytes))
        state = gw.aliases.get(req.alias)
        if state is None:
            raise ModelNotFound(
                f"unknown model {req.alias!r}; GET /v1/models lists the aliases", field="model"
            )
        _check_limits(state, req)
    except GatewayError as exc:
        gw.metrics.requests.labels("", "none", str(exc.status)).inc()
        return error_response(exc, {UPSTREAM_HEADER: "none"})
    return await _serve(gw, state, req, t0)


async def _serve(gw: Gateway, state: AliasState, req: ChatRequest, t0: float) -> Response:
    alias, m, am = state.route.name, gw.metrics, gw.alias_metrics[state.route.name]
    state.in_flight += 1
    am.in_flight.inc()
    am.added.observe(time.perf_counter() - t0)
    done = False

    def finish(upstream: str, status: int, reason: str | None, error: str | None = None) -> None:
        nonlocal done
        if done:
            return
        done = True
        state.in_flight -= 1
        am.in_flight.dec()
        am.requests(upstream, status).inc()
        log_request(
            alias=alias,
            upstream=upstream,
            status=status,
            reason=reason,
            stream=req.stream,
            duration_ms=round((time.perf_counter() - t0) * 1000, 3),
            error=error,
        )

    def on_failure(upstream: str, reason: str) -> None:
        m.upstream_errors.labels(alias, upstream, reason).inc()

    try:
        routed = await route_request(state, req, on_failure)
    except GatewayError as exc:
        if isinstance(exc, FallbackExhausted) and state.route.pinned:
            m.pinned_blocked.labels(alias, exc.reason).inc()
        reason = exc.fallback_reason or (exc.reason if isinstance(exc, FallbackExhausted) else None)
        finish(exc.upstream, exc.status, reason, exc.code)
        return error_response(exc, {UPSTREAM_HEADER: exc.upstream, REASON_HEADER: reason or "none"})
    except BaseException:
        finish("primary", 499, None, error="cancelled")
        raise
    return _respond(gw, state, routed, req, finish)


def _respond(
    gw: Gateway,
    state: AliasState,
    routed: Routed,
    req: ChatRequest,
    finish: Callable[[str, int, str | None, str | None], None],
) -> Response:
    alias, m, opened = state.route.name, gw.metrics, routed.opened
    if routed.reason is not None:
        m.fallbacks.labels(alias, routed.reason).inc()
    gw.alias_metrics[alias].ttft(routed.upstream).observe(opened.ttft_seconds)
    headers = {UPSTREAM_HEADER: routed.upstream, REASON_HEADER: routed.reason or "none"}
    if opened.body is not None:
        routed.release()
        finish(routed.upstream, 200, routed.reason, None)
        return Response(opened.body, media_type="application/json", headers=headers)
    assert opened.rest is not None

    async def finalize() -> None:
        try:
            await opened.rest.aclose()  # type: ignore[union-attr]
            await opened.aclose()
        finally:
            routed.release()
            error = opened.stats.get("error")
            if error is not None:
                m.upstream_errors.labels(alias, routed.upstream, error).inc()
            finish(routed.upstream, 200, routed.reason, error)

    return SSEResponse(opened, headers, finalize)


async def list_models(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        gw.keys.check(request.headers.get("authorization"))
    except GatewayError as exc:
        return error_response(exc)
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "paddock"} for name in gw.aliases]
    return JSONResponse({"object": "list", "data": data})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    aliases: dict[str, Any] = {
        name: {
            "pinned": s.route.pinned,
            "circuit": s.breaker.state,
            "inFlight": s.in_flight,
            "queueDepth": s.queue_depth,
        }
        for name, s in gw.aliases.items()
    }
    return JSONResponse({"status": "ready", "aliases": aliases})


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class GatewayApp(Starlette):
    """Starlette with a direct path for ``POST /v1/chat/completions``.

    Starlette's generic layers (error and exception middleware, the route's exception wrapper) each wrap the
    ASGI ``send`` of every response; for a stream that is three extra coroutine hops per event. The chat
    route catches its own errors and answers them in the OpenAI shape, so it is called with the server's
    ``send`` directly; an unexpected exception still reaches the server, which answers 500 if nothing was
    sent. Every other path and the lifespan go through Starlette as usual."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            if path == CHAT_PATH or (root and path == root + CHAT_PATH):
                scope["app"] = self
                response = await chat_completions(Request(scope, receive))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: GatewaySettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    signer: BedrockSigner | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """Build the gateway (the primary's aiohttp session opens in the lifespan).

    ``transport`` replaces the network of the engine-metrics probe (an httpx transport); ``signer`` the
    SigV4 signer (default: botocore's credential chain);
    ``environ`` is where ``apiKeys.env`` is read (default ``os.environ``); ``clock`` drives the breakers."""
    gateway = Gateway(
        settings,
        transport=transport,
        signer=signer,
        environ=environ,
        clock=clock,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    app = GatewayApp(
        routes=[
            Route(CHAT_PATH, chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
