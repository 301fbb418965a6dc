"""The gateway's ASGI app, built by :func:`create_app` (no module globals; state lives on ``app.state``).

Routes only parse, call the fallback policy and format. Every chat answer, errors included, is OpenAI-shaped
and carries ``x-paddock-upstream`` and ``x-paddock-fallback-reason``; an unexpected exception is an
:class:`InternalError` 500 in that shape, never a bare one. Streaming answers are sent by
:class:`SSEResponse`, which forwards events as they arrive; the client leaving (before or after the first
byte) cancels the upstream work; the alias's slots are released exactly once.

Probes and Prometheus: ``/readyz`` says only ``ready`` (the probe reads its status). ``/metrics`` carries
per-alias series that show which aliases are pinned, so with ``admin_port`` set it is served only on that
port (which the Service does not expose) and is 404 on the API port.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from serving.gateway import probe
from serving.gateway.asgi import (
    REASON_HEADER,
    UPSTREAM_HEADER,
    DisconnectWatch,
    JSONAnswer,
    SSEResponse,
    check_headers,
    error_response,
    read_body,
)
from serving.gateway.auth import ApiKeys
from serving.gateway.bedrock import BedrockClient, BedrockSigner, BedrockUpstream
from serving.gateway.breaker import CircuitBreaker
from serving.gateway.config import GatewaySettings
from serving.gateway.errors import (
    ConcurrencyLimited,
    FallbackExhausted,
    GatewayError,
    InternalError,
    InvalidRequest,
    ModelNotFound,
)
from serving.gateway.fallback import AliasState, Routed, route_request
from serving.gateway.logs import LOGGER, log_request
from serving.gateway.metrics import AliasMetrics, GatewayMetrics
from serving.gateway.primary import PrimaryUpstream, UpstreamSession
from serving.gateway.request import ChatRequest, parse_chat_request

CHAT_PATH = "/v1/chat/completions"
ADMIN_PATHS = frozenset({"/metrics", "/readyz", "/healthz"})


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
            cap = settings.max_response_bytes
            if route.fallback is not None and bedrock is not None:
                fallback = BedrockUpstream(
                    name, route.fallback, route.timeouts, bedrock, max_response_bytes=cap
                )
            self.aliases[name] = AliasState(
                route=route,
                primary=PrimaryUpstream(route, self.upstreams, max_response_bytes=cap),
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


def _check_limits(state: AliasState, req: ChatRequest) -> None:
    ceiling = state.route.max_tokens
    if ceiling is not None and req.max_tokens is not None and req.max_tokens > ceiling:
        raise InvalidRequest(
            f"max_tokens {req.max_tokens} exceeds this alias's ceiling of {ceiling}", field="max_tokens"
        )
    limit = state.route.max_concurrency
    if limit is not None and state.in_flight >= limit:
        raise ConcurrencyLimited(f"alias {state.route.name!r} has {limit} requests in flight; retry later")


async def chat_completions(request: Request) -> Response | None:
    """The chat route; None when the client left (nothing to send)."""
    gw: Gateway = request.app.state.gateway
    t0 = time.perf_counter()
    lim = gw.settings
    try:
        check_headers(request.scope, lim.max_headers, lim.max_header_bytes)
        gw.keys.check(request.headers.get("authorization"))
        req = parse_chat_request(await read_body(request, lim.max_body_bytes, lim.body_read_seconds))
        state = gw.aliases.get(req.alias)
        if state is None:
            raise ModelNotFound(
                f"unknown model {req.alias[:100]!r}; GET /v1/models lists the aliases", field="model"
            )
        _check_limits(state, req)
    except GatewayError as exc:
        gw.metrics.requests.labels("", "none", str(exc.status)).inc()
        return error_response(exc, "none")
    except ClientDisconnect:  # the client left while sending its body: nobody to answer
        gw.metrics.requests.labels("", "none", "499").inc()
        return None
    except Exception as exc:  # noqa: BLE001 - a bug: still an OpenAI-shaped answer with our headers
        LOGGER.error("internal error before routing", extra={"error": type(exc).__name__})
        gw.metrics.requests.labels("", "none", "500").inc()
        return error_response(InternalError("internal error"), "none")
    watch = DisconnectWatch(request.receive)
    try:
        return await _serve(gw, state, req, t0, watch)
    except asyncio.CancelledError:
        watch.close()
        if watch.absorb():
            return None
        raise


async def _serve(
    gw: Gateway, state: AliasState, req: ChatRequest, t0: float, watch: DisconnectWatch
) -> Response:
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
        reason = exc.fallback_reason or getattr(exc, "reason", None)
        if state.route.pinned and isinstance(exc, FallbackExhausted | ConcurrencyLimited) and reason:
            m.pinned_blocked.labels(alias, reason).inc()
        watch.close()
        finish(exc.upstream, exc.status, reason, exc.code)
        return error_response(exc, exc.upstream, reason)
    except asyncio.CancelledError:
        finish("none", 499, None, "client_disconnected" if watch.gone else "cancelled")
        raise
    except Exception as exc:  # noqa: BLE001 - a bug: logged by type, answered in the OpenAI shape
        return _internal(exc, alias, watch, finish)
    try:
        return _respond(gw, state, routed, finish, watch)
    except Exception as exc:  # noqa: BLE001 - as above; the upstream's slot is given back
        routed.release()
        return _internal(exc, alias, watch, finish)


def _internal(
    exc: Exception,
    alias: str,
    watch: DisconnectWatch,
    finish: Callable[[str, int, str | None, str | None], None],
) -> Response:
    watch.close()
    finish("none", 500, None, f"internal:{type(exc).__name__}")
    LOGGER.error("internal error while routing", extra={"alias": alias, "error": type(exc).__name__})
    return error_response(InternalError("internal error"), "none")


def _respond(
    gw: Gateway,
    state: AliasState,
    routed: Routed,
    finish: Callable[[str, int, str | None, str | None], None],
    watch: DisconnectWatch,
) -> Response:
    alias, m, opened = state.route.name, gw.metrics, routed.opened
    if routed.reason is not None:
        m.fallbacks.labels(alias, routed.reason).inc()
    gw.alias_metrics[alias].ttft(routed.upstream).observe(opened.ttft_seconds)
    headers = {UPSTREAM_HEADER: routed.upstream, REASON_HEADER: routed.reason or "none"}
    if opened.body is not None:
        routed.release()
        finish(routed.upstream, 200, routed.reason, None)
        return JSONAnswer(opened.body, headers, watch)
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
            elif watch.gone:
                error = "client_disconnected"
            finish(routed.upstream, 200, routed.reason, error)

    return SSEResponse(opened, headers, finalize, watch)


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
    """Readiness: the status code is all the probe reads; nothing about aliases, pinning or circuits."""
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class GatewayApp(Starlette):
    """Starlette with a direct path for ``POST /v1/chat/completions`` and an optional admin port.

    Starlette's generic layers (error and exception middleware, the route's exception wrapper) each wrap the
    ASGI ``send`` of every response; for a stream that is three extra coroutine hops per event. The chat
    route catches its own errors and answers them in the OpenAI shape, so it is called with the server's
    ``send`` directly. Every other path and the lifespan go through Starlette as usual.

    With ``admin_port`` set (the server listens on both ports), the admin port serves only ``/metrics``,
    ``/readyz`` and ``/healthz``, and the API port answers ``/metrics`` with 404."""

    admin_port: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.admin_port is not None:
                server = scope.get("server") or ("", None)
                on_admin, path = server[1] == self.admin_port, scope["path"]
                if (on_admin and path not in ADMIN_PATHS) or (not on_admin and path == "/metrics"):
                    await _not_found(scope, receive, send)
                    return
            if scope["method"] == "POST":
                path, root = scope["path"], scope.get("root_path", "")
                if path == CHAT_PATH or (root and path == root + CHAT_PATH):
                    scope["app"] = self
                    response = await chat_completions(Request(scope, receive))
                    if response is not None:
                        await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    body = {"error": {"message": "not found", "type": "invalid_request_error", "param": None, "code": None}}
    await JSONResponse(body, status_code=404)(scope, receive, send)


async def _chat_route(request: Request) -> Response:
    """The chat route as Starlette sees it (only reached for methods other than POST: 405)."""
    return await chat_completions(request) or Response(status_code=499)


def create_app(
    settings: GatewaySettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    signer: BedrockSigner | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    admin_port: int | None = None,
) -> Starlette:
    """Build the gateway (the primary's aiohttp session opens in the lifespan).

    ``transport`` replaces the network of the engine-metrics probe (an httpx transport); ``signer`` the
    SigV4 signer (default: botocore's credential chain);
    ``environ`` is where ``apiKeys.env`` is read (default ``os.environ``); ``clock`` drives the breakers;
    ``admin_port`` moves ``/metrics`` to that port (see :class:`GatewayApp`)."""
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
            Route(CHAT_PATH, _chat_route, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.admin_port = admin_port
    app.router.redirect_slashes = False  # a redirect would echo the Host header; a 404 says enough
    return app
