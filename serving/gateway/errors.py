"""The gateway's error tree; one handler in ``app.py`` maps each to an OpenAI-shaped error body.

PaddockError (serving.errors)
└── GatewayError                  base: ``status`` (HTTP), ``error_type`` and ``code`` (OpenAI shape)
    ├── RoutesConfigError         routes.yaml is invalid (also an InputError: CLI exit 2); names the key
    ├── ClientRequestError        the client's fault, always 4xx
    │   ├── AuthenticationFailed  401, missing or unknown API key
    │   ├── InvalidRequest        400, malformed JSON, wrong types, ceilings exceeded
    │   ├── ModelNotFound         404, unknown alias
    │   ├── BodyTooLarge          413, body over ``maxBodyBytes``
    │   ├── BodyTimeout           408, the body did not arrive within ``bodyReadSeconds``
    │   ├── HeadersTooLarge       431, more than ``maxHeaders`` headers or ``maxHeaderBytes`` in all
    │   └── ConcurrencyLimited    429, alias concurrency limit reached
    ├── UpstreamError             an upstream failed; ``reason`` is the fallback-reason label
    │   ├── UpstreamConnectError  refused, reset or DNS failure before any byte
    │   ├── UpstreamTimeout       connect, first-token or idle timeout
    │   ├── UpstreamStatusError   the upstream answered an error status (429, 5xx, 4xx)
    │   └── UpstreamProtocolError malformed SSE, JSON or event-stream frame
    ├── FallbackExhausted         the primary failed and no fallback is allowed or left (429/502/503/504)
    ├── ResidencyViolation        a pinned alias would have reached Bedrock (a bug; never served)
    └── InternalError             500, an unexpected exception (a bug), still in the OpenAI shape
"""

from __future__ import annotations

from typing import Any

from serving.errors import InputError, PaddockError


class GatewayError(PaddockError):
    """Base of the gateway's errors. ``status`` is the HTTP status the client gets."""

    status: int = 500
    error_type: str = "server_error"
    code: str | None = None
    upstream: str = "primary"
    """Which upstream the error is about (``x-paddock-upstream``); ``none`` for local rejections."""
    fallback_reason: str | None = None
    """Why the fallback was tried, when the error came from the fallback."""
    retry_after: str | None = None
    """An upstream's ``Retry-After`` header, relayed to the client."""

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.field,
                "code": self.code,
            }
        }


class RoutesConfigError(GatewayError, InputError):
    """routes.yaml failed validation. The message lists every problem, each naming its key."""

    status = 500
    error_type = "config_error"


class ClientRequestError(GatewayError):
    """The request is at fault; the answer is a 4xx and never reaches an upstream."""

    status = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(ClientRequestError):
    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class InvalidRequest(ClientRequestError):
    status = 400
    code = "invalid_request"


class ModelNotFound(ClientRequestError):
    status = 404
    code = "model_not_found"


class BodyTooLarge(ClientRequestError):
    status = 413
    code = "request_too_large"


class BodyTimeout(ClientRequestError):
    status = 408
    code = "request_timeout"


class HeadersTooLarge(ClientRequestError):
    status = 431
    code = "request_headers_too_large"


class ConcurrencyLimited(ClientRequestError):
    status = 429
    error_type = "rate_limit_error"
    code = "concurrency_limit"


class UpstreamError(GatewayError):
    """An upstream failed. ``reason`` is a short label used in metrics and ``x-paddock-fallback-reason``."""

    status = 502
    error_type = "upstream_error"

    def __init__(self, message: str, *, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        if status is not None:
            self.status = status


class UpstreamConnectError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamStatusError(UpstreamError):
    """The upstream answered ``upstream_status``; ``body`` is the (already OpenAI-shaped) error to relay."""

    code = "upstream_status"

    def __init__(
        self, message: str, *, reason: str, upstream_status: int, body: dict[str, Any] | None = None
    ):
        super().__init__(message, reason=reason, status=_relay_status(upstream_status))
        self.upstream_status = upstream_status
        self.body = body
        if upstream_status == 429:
            self.error_type = "rate_limit_error"
        elif 400 <= upstream_status < 500:
            self.error_type = "invalid_request_error"

    def to_openai(self) -> dict[str, Any]:
        if self.body is not None and isinstance(self.body.get("error"), dict):
            return self.body
        return super().to_openai()


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class FallbackExhausted(GatewayError):
    """The primary failed before the first byte and there is no fallback (pinned) or it failed too."""

    status = 503
    error_type = "service_unavailable"
    code = "no_upstream_available"

    def __init__(self, message: str, *, reason: str, status: int = 503) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        if status == 429:
            self.error_type = "rate_limit_error"


class ResidencyViolation(GatewayError):
    """Raised if a pinned alias is ever routed to Bedrock. Defence in depth; a bug if it fires."""

    status = 500
    code = "residency_violation"


class InternalError(GatewayError):
    """An unexpected exception while serving (a bug): answered in the OpenAI shape, never a bare 500."""

    status = 500
    code = "internal_error"


def _relay_status(upstream_status: int) -> int:
    """Status the client sees for an upstream error: client errors and 429 relayed, others 502."""
    if 400 <= upstream_status < 500:
        return upstream_status
    return 503 if upstream_status == 503 else 502
