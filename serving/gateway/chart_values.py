"""Values of the gateway chart (serving/charts/gateway), rendered from helm_values/gateway.yaml.j2.

Pure: the Gateway component passes the result to ``helm.v3.Release``; ``paddock plan`` can write it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serving.gateway.config import parse_routes
from serving.helm import CHARTS_DIR
from serving.values import render_values, split_image

CHART_PATH: Path = CHARTS_DIR / "gateway"
GATEWAY_PORT = 8080
#: mount path of the API-key Secret in the pod (key ``keys``); routes_from_stack points apiKeys.file here
API_KEYS_FILE = "/etc/paddock/api-keys/keys"


def gateway_values(
    *,
    image: str,
    routes: Mapping[str, Any],
    replicas: int,
    service_account: str,
    role_arn: str | None,
    api_keys_secret: str | None,
    node_selector: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Chart values; ``routes`` is validated with the gateway's own loader first (RoutesConfigError)."""
    parse_routes(routes)
    repository, tag = split_image(image, key="paddock:versions.gatewayImage")
    return render_values(
        "gateway.yaml.j2",
        {
            "image_repository": repository,
            "image_tag": tag,
            "replicas": replicas,
            "port": GATEWAY_PORT,
            "routes": dict(routes),
            "service_account": service_account,
            "role_arn": role_arn or "",
            "api_keys_secret": api_keys_secret or "",
            "pdb_min_available": 1 if replicas > 1 else 0,
            "node_selector": dict(node_selector or {}),
        },
    )
