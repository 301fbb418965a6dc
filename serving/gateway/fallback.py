"""The fallback policy: a pure async function over two ``Upstream`` objects and an alias's live state.

Order for one request: skip the primary when it is saturated (in-flight limit, engine queue depth) or its
circuit is open; otherwise open it (with ``retries`` extra tries while the circuit stays closed). Any failure
before the first byte except a client error (4xx other than 429) moves on to the fallback. A pinned alias has
``fallback=None`` by construction, so the only way out is an error: there is no code path to Bedrock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from serving.gateway.breaker import CircuitBreaker
from serving.gateway.config import AliasRoute
from serving.gateway.errors import (
    ConcurrencyLimited,
    FallbackExhausted,
    GatewayError,
    ResidencyViolation,
    UpstreamError,
)
from serving.gateway.request import ChatRequest
from serving.gateway.upstream import Opened, Upstream


@dataclass
class AliasState:
    """Everything the policy knows about one alias at run time."""

    route: AliasRoute
    primary: Upstream
    fallback: Upstream | None
    breaker: CircuitBreaker
    primary_in_flight: int = 0
    in_flight: int = 0
    queue_depth: float | None = None
    """Last engine queue depth read from the primary's /metrics (None = unknown)."""
    fallback_calls: int = field(default=0)

    def __post_init__(self) -> None:
        if self.route.pinned and self.fallback is not None:
            raise ResidencyViolation(f"pinned alias {self.route.name!r} was given a fallback upstream")

    def saturation(self) -> str | None:
        p = self.route.primary
        if p.max_in_flight is not None and self.primary_in_flight >= p.max_in_flight:
            return "saturated"
        if (
            p.max_queue_depth is not None
            and self.queue_depth is not None
            and self.queue_depth > p.max_queue_depth
        ):
            return "queue_depth"
        return None


@dataclass
class Routed:
    """Who answers, why, and how to release the primary's in-flight slot when the answer ends."""

    opened: Opened
    upstream: str
    reason: str | None
    release: Callable[[], None]


def _noop() -> None:
    return None


#: failures that are not the primary being unavailable: relayed, never retried elsewhere
NO_SPILL = frozenset({"client_error", "response_too_large"})


def _falls_back(exc: UpstreamError) -> bool:
    """Client errors (4xx other than 429) are the client's and an answer over ``maxResponseBytes`` would be
    as large from Bedrock; every other pre-first-byte failure may spill."""
    return exc.reason not in NO_SPILL


async def _try_primary(
    state: AliasState, req: ChatRequest, on_failure: Callable[[str, str], None]
) -> Routed | UpstreamError:
    """Open the primary; a :class:`Routed` on success, else its last error (non-spilling errors raise)."""
    last: UpstreamError | None = None
    for _ in range(1 + state.route.retries):
        state.primary_in_flight += 1
        try:
            opened = await state.primary.open(req)
        except UpstreamError as exc:
            state.primary_in_flight -= 1
            on_failure("primary", exc.reason)
            if not _falls_back(exc):
                state.breaker.release()
                raise
            state.breaker.failure()
            last = exc
            if state.breaker.state != "closed":
                break
            continue
        except BaseException:
            state.primary_in_flight -= 1
            state.breaker.release()
            raise
        state.breaker.success()

        def release() -> None:
            state.primary_in_flight -= 1

        return Routed(opened, "primary", None, release)
    assert last is not None
    return last


def _pinned_error(state: AliasState, reason: str, last: UpstreamError | None) -> GatewayError:
    """The answer of a pinned alias whose primary cannot serve; ``fallback_reason`` says why (header and
    ``paddock_gateway_pinned_unavailable_total``), ``retry_after`` relays the primary's."""
    err: GatewayError
    if reason == "saturated":
        err = ConcurrencyLimited(
            f"alias {state.route.name!r} is at its in-flight limit and is pinned (no fallback)"
        )
    else:
        status = last.status if last is not None and last.status in (429, 502, 503, 504) else 503
        err = FallbackExhausted(
            f"primary for alias {state.route.name!r} is unavailable ({reason}); "
            "the alias is pinned: no fallback",
            reason=reason,
            status=status,
        )
    err.fallback_reason = reason
    err.retry_after = last.retry_after if last is not None else None
    return err


async def route_request(
    state: AliasState, req: ChatRequest, on_failure: Callable[[str, str], None] = lambda u, r: None
) -> Routed:
    """Answer ``req`` from the primary or, before the first byte and only if allowed, the fallback."""
    reason = state.saturation()
    last: UpstreamError | None = None
    if reason == "queue_depth" and state.route.pinned:
        reason = None  # a pinned alias queues on its own engine: there is nowhere else to go
    if reason is None:
        if state.breaker.allow():
            outcome = await _try_primary(state, req, on_failure)
            if isinstance(outcome, Routed):
                return outcome
            reason, last = outcome.reason, outcome
        else:
            reason = "circuit_open"
    if state.fallback is None:
        if state.route.fallback is not None:
            raise ResidencyViolation("a fallback alias has no fallback upstream")
        raise _pinned_error(state, reason, last)
    if state.route.pinned:
        raise ResidencyViolation(f"pinned alias {state.route.name!r} reached the fallback path")
    state.fallback_calls += 1
    try:
        opened = await state.fallback.open(req)
    except UpstreamError as exc:
        on_failure(state.fallback.name, exc.reason)
        exc.upstream, exc.fallback_reason = state.fallback.name, reason
        raise
    except GatewayError as exc:
        exc.upstream, exc.fallback_reason = state.fallback.name, reason
        raise
    return Routed(opened, state.fallback.name, reason, _noop)
