"""Paddock's OpenAI-compatible gateway: self-hosted engine first, Claude on Bedrock as the fallback.

Public API: :func:`create_app` (an ASGI app from :class:`GatewaySettings`) and :func:`load_routes` /
:func:`parse_routes` (routes.yaml). Layout: config -> request -> fallback (policy) over upstream (primary,
httpx) and bedrock (botocore) -> app (routes). See errors.py for the error tree.
"""

from serving.gateway.app import create_app
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
