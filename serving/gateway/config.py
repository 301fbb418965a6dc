"""routes.yaml: the gateway's routing table, parsed into frozen dataclasses.

Every problem is collected and raised once as :class:`RoutesConfigError`, each line naming its key
(``aliases.llama-8b.timeouts.firstTokenSeconds: expected a number > 0, got 'soon'``). Unknown keys are
errors too, so a typo such as ``fallbak`` cannot silently turn a fallback alias into a pinned one (or back).
An alias without ``fallback`` is pinned: the safe default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serving.gateway.errors import RoutesConfigError

DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1_048_576


@dataclass(frozen=True, kw_only=True)
class PrimaryTarget:
    """The self-hosted engine (vLLM/TGI OpenAI-compatible server)."""

    url: str
    """Base URL ending in ``/v1`` (e.g. ``http://llama-8b.serving.svc:8000/v1``)."""
    model: str
    """Served model name sent upstream in place of the alias."""
    max_in_flight: int | None = None
    """Requests in flight to the primary above which new requests spill (saturation); None = no limit."""
    max_queue_depth: int | None = None
    """Engine queue depth (``vllm:num_requests_waiting`` / ``tgi_queue_size``) above which requests spill."""
    metrics_url: str | None = None
    """Engine Prometheus endpoint polled for queue depth; default: the base URL's host + ``/metrics``."""
    metrics_interval_seconds: float = 2.0
    """Seconds between queue-depth polls."""


@dataclass(frozen=True, kw_only=True)
class BedrockTarget:
    """Claude on Amazon Bedrock via Converse / ConverseStream."""

    model: str
    """Model id, inference-profile id or ARN (e.g. ``eu.anthropic.claude-sonnet-4-5-20250929-v1:0``)."""
    region: str
    """Region of the bedrock-runtime endpoint; always explicit (no SDK default)."""
    endpoint: str | None = None
    """Endpoint override (tests, VPC endpoint DNS); default ``https://bedrock-runtime.<region>.amazonaws.com``."""
    max_tokens: int = 4096
    """``maxTokens`` sent when the request names none (Converse output cap)."""


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds."""

    connect_seconds: float = 2.0
    first_token_seconds: float = 30.0
    """Streams: until the first SSE event. Before it, a timeout falls back."""
    idle_seconds: float = 60.0
    """Streams: longest gap between events after the first; exceeded = one error event."""
    total_seconds: float = 600.0
    """Until the whole answer: non-streaming requests, and the overall deadline of a stream (an error
    event ends a stream still running then)."""


@dataclass(frozen=True, kw_only=True)
class BreakerPolicy:
    failure_threshold: int = 5
    """Consecutive primary failures that open the circuit."""
    cooldown_seconds: float = 30.0
    """Seconds the circuit stays open before one probe request is let through."""


@dataclass(frozen=True, kw_only=True)
class AliasRoute:
    """One alias: a primary, an optional Bedrock fallback and the policy between them."""

    name: str
    primary: PrimaryTarget
    fallback: BedrockTarget | None
    """None = pinned: this alias never reaches Bedrock."""
    timeouts: Timeouts = field(default_factory=Timeouts)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    cold_start_hold_seconds: float = 0.0
    """While the primary refuses connections (scaling 0→1), retry for up to this long, then spill."""
    retries: int = 0
    """Extra primary attempts on a retriable failure before falling back."""
    max_tokens: int | None = None
    """Ceiling on max_tokens/max_completion_tokens; larger requests get 400."""
    max_concurrency: int | None = None
    """Requests in flight for this alias (all upstreams); over it = 429."""

    @property
    def pinned(self) -> bool:
        return self.fallback is None


@dataclass(frozen=True, kw_only=True)
class ApiKeySource:
    """Where API keys come from: an env var or a mounted Secret file (comma or newline separated)."""

    env: str | None = None
    file: str | None = None


@dataclass(frozen=True, kw_only=True)
class GatewaySettings:
    aliases: Mapping[str, AliasRoute]
    api_keys: ApiKeySource | None = None
    """None = no authentication (local use only)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Request bodies over this are 413."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """Non-streaming upstream answers over this are a 502 (``response_too_large``), never buffered whole."""
    body_read_seconds: float = 10.0
    """A request body not fully received within this is a 408."""
    max_headers: int = 100
    """Requests with more headers are 431."""
    max_header_bytes: int = 32_768
    """Requests whose header names and values add up to more bytes are 431."""


class _Reader:
    """Typed field access that records problems instead of raising at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, path: str, msg: str) -> None:
        self.problems.append(f"{path}: {msg}")

    def mapping(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.bad(path, f"expected a mapping, got {value!r}")
            return None
        return value

    def only(self, m: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in m:
            if key not in allowed:
                self.bad(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def string(self, m: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        v = m.get(key)
        if v is None:
            if required:
                self.bad(f"{path}.{key}", "is required")
            return None
        if not isinstance(v, str) or not v.strip():
            self.bad(f"{path}.{key}", f"expected a non-empty string, got {v!r}")
            return None
        return v

    def number(
        self, m: Mapping[str, Any], key: str, path: str, default: float, *, zero: bool = False
    ) -> float:
        v = m.get(key, default)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and (v >= 0 if zero else v > 0)
        if not ok:
            self.bad(f"{path}.{key}", f"expected a number {'>= 0' if zero else '> 0'}, got {v!r}")
            return default
        return float(v)

    def integer(
        self, m: Mapping[str, Any], key: str, path: str, default: int | None, *, zero: bool = False
    ) -> Any:
        v = m.get(key, default)
        if v is None:
            return None
        if not isinstance(v, int) or isinstance(v, bool) or (v < 0 if zero else v < 1):
            self.bad(f"{path}.{key}", f"expected an integer {'>= 0' if zero else '>= 1'}, got {v!r}")
            return default
        return v


def _url(r: _Reader, m: Mapping[str, Any], key: str, path: str, *, required: bool) -> str | None:
    v = r.string(m, key, path, required=required)
    if v is not None and not v.startswith(("http://", "https://")):
        r.bad(f"{path}.{key}", f"expected an http(s) URL, got {v!r}")
        return None
    return v.rstrip("/") if v else None


def _primary(r: _Reader, raw: Any, path: str) -> PrimaryTarget | None:
    m = r.mapping(raw, path)
    if m is None:
        return None
    keys = {"url", "model", "maxInFlight", "maxQueueDepth", "metricsUrl", "metricsIntervalSeconds"}
    r.only(m, keys, path)
    url, model = _url(r, m, "url", path, required=True), r.string(m, "model", path, required=True)
    target = PrimaryTarget(
        url=url or "",
        model=model or "",
        max_in_flight=r.integer(m, "maxInFlight", path, None),
        max_queue_depth=r.integer(m, "maxQueueDepth", path, None, zero=True),
        metrics_url=_url(r, m, "metricsUrl", path, required=False),
        metrics_interval_seconds=r.number(m, "metricsIntervalSeconds", path, 2.0),
    )
    return target if url and model else None


def _fallback(r: _Reader, raw: Any, path: str) -> BedrockTarget | None:
    if raw is None or raw == "none":
        return None
    m = r.mapping(raw, path)
    if m is None:
        return None
    r.only(m, {"bedrock"}, path)
    b = r.mapping(m.get("bedrock"), f"{path}.bedrock")
    if b is None:
        return None
    bp = f"{path}.bedrock"
    r.only(b, {"model", "region", "endpoint", "maxTokens"}, bp)
    model, region = r.string(b, "model", bp, required=True), r.string(b, "region", bp, required=True)
    endpoint = _url(r, b, "endpoint", bp, required=False)
    max_tokens = r.integer(b, "maxTokens", bp, 4096)
    if model is None or region is None:
        return None
    return BedrockTarget(model=model, region=region, endpoint=endpoint, max_tokens=max_tokens)


def _alias(r: _Reader, name: str, raw: Any) -> AliasRoute | None:
    path = f"aliases.{name}"
    m = r.mapping(raw, path)
    if m is None:
        return None
    allowed = {"primary", "fallback", "timeouts", "breaker", "coldStartHoldSeconds", "retries", "limits"}
    r.only(m, allowed, path)
    if "fallback" in m and m["fallback"] is None:
        r.bad(f"{path}.fallback", "is empty; write 'none' to pin the alias or give a bedrock target")
    primary = _primary(r, m.get("primary"), f"{path}.primary")
    fallback = _fallback(r, m.get("fallback"), f"{path}.fallback")
    t = r.mapping(m.get("timeouts", {}), f"{path}.timeouts") or {}
    tp = f"{path}.timeouts"
    r.only(t, {"connectSeconds", "firstTokenSeconds", "idleSeconds", "totalSeconds"}, tp)
    timeouts = Timeouts(
        connect_seconds=r.number(t, "connectSeconds", tp, 2.0),
        first_token_seconds=r.number(t, "firstTokenSeconds", tp, 30.0),
        idle_seconds=r.number(t, "idleSeconds", tp, 60.0),
        total_seconds=r.number(t, "totalSeconds", tp, 600.0),
    )
    b = r.mapping(m.get("breaker", {}), f"{path}.breaker") or {}
    r.only(b, {"failureThreshold", "cooldownSeconds"}, f"{path}.breaker")
    breaker = BreakerPolicy(
        failure_threshold=r.integer(b, "failureThreshold", f"{path}.breaker", 5),
        cooldown_seconds=r.number(b, "cooldownSeconds", f"{path}.breaker", 30.0),
    )
    lim = r.mapping(m.get("limits", {}), f"{path}.limits") or {}
    r.only(lim, {"maxTokens", "maxConcurrency"}, f"{path}.limits")
    route = AliasRoute(
        name=name,
        primary=primary or PrimaryTarget(url="", model=""),
        fallback=fallback,
        timeouts=timeouts,
        breaker=breaker,
        cold_start_hold_seconds=r.number(m, "coldStartHoldSeconds", path, 0.0, zero=True),
        retries=r.integer(m, "retries", path, 0, zero=True),
        max_tokens=r.integer(lim, "maxTokens", f"{path}.limits", None),
        max_concurrency=r.integer(lim, "maxConcurrency", f"{path}.limits", None),
    )
    return route if primary is not None else None


def _api_keys(r: _Reader, raw: Any) -> ApiKeySource | None:
    if raw is None:
        return None
    m = r.mapping(raw, "apiKeys")
    if m is None:
        return None
    r.only(m, {"env", "file"}, "apiKeys")
    env, file = r.string(m, "env", "apiKeys"), r.string(m, "file", "apiKeys")
    if (env is None) == (file is None):
        r.bad("apiKeys", "give exactly one of 'env' or 'file'")
        return None
    return ApiKeySource(env=env, file=file)


def parse_routes(raw: Any) -> GatewaySettings:
    """Validate a parsed routes.yaml document; raise :class:`RoutesConfigError` listing every problem."""
    r = _Reader()
    top = r.mapping(raw, "<root>")
    if top is None:
        raise RoutesConfigError("; ".join(r.problems), field="<root>")
    r.only(top, {"apiKeys", "aliases", "limits"}, "<root>")
    api_keys = _api_keys(r, top.get("apiKeys"))
    lim = r.mapping(top.get("limits", {}), "limits") or {}
    keys = {"maxBodyBytes", "maxResponseBytes", "bodyReadSeconds", "maxHeaders", "maxHeaderBytes"}
    r.only(lim, keys, "limits")
    limits = {
        "max_body_bytes": r.integer(lim, "maxBodyBytes", "limits", DEFAULT_MAX_BODY_BYTES),
        "max_response_bytes": r.integer(lim, "maxResponseBytes", "limits", DEFAULT_MAX_RESPONSE_BYTES),
        "body_read_seconds": r.number(lim, "bodyReadSeconds", "limits", 10.0),
        "max_headers": r.integer(lim, "maxHeaders", "limits", 100),
        "max_header_bytes": r.integer(lim, "maxHeaderBytes", "limits", 32_768),
    }
    aliases_raw = top.get("aliases")
    aliases: dict[str, AliasRoute] = {}
    if not isinstance(aliases_raw, Mapping) or not aliases_raw:
        r.bad("aliases", f"expected a non-empty mapping of alias -> route, got {aliases_raw!r}")
    else:
        for name, value in aliases_raw.items():
            if not isinstance(name, str) or not name:
                r.bad(f"aliases.{name!r}", "alias names must be non-empty strings")
                continue
            route = _alias(r, name, value)
            if route is not None:
                aliases[name] = route
    if r.problems:
        raise RoutesConfigError(
            "invalid routes config:\n  " + "\n  ".join(r.problems), field=r.problems[0].split(":")[0]
        )
    return GatewaySettings(aliases=aliases, api_keys=api_keys, **limits)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping repeats a key (``line`` is 1-based): PyYAML would silently keep the last value, so a second
    ``fallback:`` could flip a pinned alias to Bedrock."""

    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"duplicate key {key!r} on line {line}")
        self.key, self.line = key, line


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                continue  # unhashable: SafeLoader reports it
            if key in seen:
                raise DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_unique(text: str) -> Any:
    """``yaml.safe_load`` that raises :class:`DuplicateKeyError` on a repeated mapping key."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def load_routes(path: str | Path) -> GatewaySettings:
    """Read and validate a routes.yaml file. Missing file, bad YAML or a duplicate key are
    :class:`RoutesConfigError` too."""
    p = Path(path)
    try:
        raw = load_unique(p.read_text())
    except OSError as exc:
        raise RoutesConfigError(f"cannot read {p}: {exc.strerror}", field="--config") from exc
    except yaml.YAMLError as exc:
        raise RoutesConfigError(f"{p} is not valid YAML: {exc}", field="--config") from exc
    return parse_routes(raw)
