"""Paddock's OpenAI-compatible gateway: self-hosted engine first, Claude on Bedrock as the fallback.

Public API: :func:`create_app` (an ASGI app from :class:`GatewaySettings`) and :func:`load_routes` /
:func:`parse_routes` (routes.yaml). Layout: config -> request (validation) -> fallback (policy) over
upstream (primary, aiohttp) and bedrock (botocore; translate.py) -> app (routes) over asgi (limits, the
disconnect watch, error and SSE responses); server.py bounds request heads in uvicorn. See errors.py for the
error tree.

``create_app`` loads lazily: the platform stack imports this package for routes.yaml and chart values only,
and must not pay for the HTTP stack (aiohttp, botocore, starlette) on every ``paddock plan``.
"""

from typing import TYPE_CHECKING, Any

from serving.gateway.config import (
    AliasRoute,
    BedrockTarget,
    GatewaySettings,
    PrimaryTarget,
    load_routes,
    parse_routes,
)

__all__ = [
    "AliasRoute",
    "BedrockTarget",
    "GatewaySettings",
    "PrimaryTarget",
    "create_app",
    "load_routes",
    "parse_routes",
]

if TYPE_CHECKING:
    from serving.gateway.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from serving.gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'serving.gateway' has no attribute {name!r}")
