"""Gateway: Paddock's OpenAI-compatible gateway deployed with our own chart (serving/charts/gateway).

One child, a ``helm.v3.Release`` whose values come from helm_values/gateway.yaml.j2
(:func:`serving.gateway.chart_values.gateway_values`): Deployment, Service, PDB, the ServiceAccount the
Bedrock role is bound to, and a ConfigMap holding ``routes`` (from
:func:`serving.gateway.routes_from_stack.routes_from_stack`). The routes are validated by the gateway's own
loader before anything is created, so a stack never ships a table the gateway would refuse at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components._common import PKG, child, raise_problems
from serving.gateway.chart_values import CHART_PATH, GATEWAY_PORT, gateway_values
from serving.gateway.config import parse_routes
from serving.gateway.errors import RoutesConfigError
from serving.values import split_image

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
RELEASE_NAME = "paddock-gateway"


@dataclass(frozen=True, kw_only=True)
class GatewayArgs:
    """Arguments of :class:`Gateway`."""

    namespace: str
    """Kubernetes namespace (``paddock:namespace``); the engines' Services live there too."""
    image: str
    """Gateway image pinned in ``paddock:versions.gatewayImage`` (``repo:tag``)."""
    routes: Mapping[str, Any]
    """The routes.yaml document (``routes_from_stack(cfg, plans)``)."""
    provider: k8s.Provider | None
    """Kubernetes provider of the cluster."""
    role_arn: pulumi.Input[str] | None = None
    """IRSA role ARN annotated on the ServiceAccount. None with EKS Pod Identity (the association made by
    BedrockFallback binds the role) or when every alias is pinned."""
    replicas: int = 2
    """Gateway pods (``paddock:gateway.replicas``); the PDB keeps one available when > 1."""
    api_keys_secret: str | None = "paddock-gateway-keys"
    """Secret with key ``keys`` mounted for ``apiKeys.file`` (created out of band); None = no auth."""
    service_account: str = "paddock-gateway"
    """ServiceAccount of the pods (BedrockFallback's GATEWAY_SERVICE_ACCOUNT)."""
    chart_path: Path = CHART_PATH
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """nodeSelector of the pods: ``{paddock.dev/pool: system}`` on created clusters, ``{}`` when adopted."""

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for label, value in (("namespace", self.namespace), ("service_account", self.service_account)):
            if not DNS_LABEL.fullmatch(value):
                found.append((label, f"{value!r} is not a DNS-1123 label"))
        try:
            split_image(self.image, key="paddock:versions.gatewayImage")
        except ValueError as exc:
            found.append(("image", str(exc)))
        if self.replicas < 1:
            found.append(("replicas", f"must be >= 1, got {self.replicas}"))
        try:
            settings = parse_routes(self.routes)
        except RoutesConfigError as exc:
            found.append(("routes", exc.message.replace("\n  ", " ")))
        else:
            if (
                settings.api_keys is not None
                and settings.api_keys.file is not None
                and not self.api_keys_secret
            ):
                found.append(("api_keys_secret", "routes read apiKeys.file but no Secret is mounted"))
        if not (self.chart_path / "Chart.yaml").is_file():
            found.append(("chart_path", f"{self.chart_path} is not a Helm chart"))
        return found


class Gateway(pulumi.ComponentResource):
    """The gateway release. Outputs: ``service_url`` (``http://paddock-gateway.<ns>.svc:8080/v1``)."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Gateway", args.problems())
        super().__init__(f"{PKG}:serving:Gateway", name, None, opts)

        def values(role_arn: str | None) -> dict[str, Any]:
            return gateway_values(
                image=args.image,
                routes=args.routes,
                replicas=args.replicas,
                service_account=args.service_account,
                role_arn=role_arn,
                api_keys_secret=args.api_keys_secret,
                node_selector=args.node_selector,
            )

        rendered: pulumi.Input[Mapping[str, Any]] = (
            values(None) if args.role_arn is None else pulumi.Output.from_input(args.role_arn).apply(values)
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=str(args.chart_path),
            namespace=args.namespace,
            values=rendered,
            opts=child(self, provider=args.provider),
        )
        self.service_url: str = f"http://{RELEASE_NAME}.{args.namespace}.svc:{GATEWAY_PORT}/v1"
        self.aliases: list[str] = sorted(args.routes["aliases"])
        self.register_outputs(
            {"service_url": self.service_url, "release": release.name, "aliases": self.aliases}
        )
