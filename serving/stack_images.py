"""Every image one stack pulls, and the route of each (for the config check, the plan and the mirror step).

Pure. :func:`stack_image_routes` lists our own images (engine per model, the aws-cli init container, the
gateway) and each deployed third-party chart's images (from data/charts.yaml, enabled as our values enable
them), each with its route under ``paddock:registry``; :func:`stack_image_problems` turns unroutable ones into
config problems; :func:`images_markdown` is the "## Images" section of summary.md.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import Any

from serving.catalog.charts import get_chart
from serving.chart_overrides import ReleasePolicy, enabled_images, upstream_reference
from serving.errors import CatalogLookupError
from serving.images import ImageRouteError, ImageRouter, PulledImage
from serving.release_values import SYSTEM_POOL_LABEL
from serving.stack_config import StackConfig

#: ECR repository the stack creates for the gateway image (components/registry.py)
GATEWAY_REPOSITORY = "paddock-gateway"
#: account id used where the real one is not known yet (config checks); the plan uses the mock's
PLACEHOLDER_ACCOUNT = "123456789012"


def project_version() -> str:
    """The installed Paddock version (pyproject ``version``): the gateway image's default tag."""
    try:
        return importlib.metadata.version("paddock")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def image_router(cfg: StackConfig, account: str) -> ImageRouter:
    """The stack's :class:`ImageRouter` (``account``: aws.get_caller_identity at deploy time)."""
    reg = cfg.registry
    return ImageRouter(
        mode=reg.mode,
        region=cfg.region,
        account=account,
        mirror=reg.mirror,
        docker_hub_credential=reg.docker_hub_credential_arn is not None,
        github_credential=reg.github_credential_arn is not None,
    )


def gateway_image(cfg: StackConfig, account: str) -> str:
    """``paddock:versions.gatewayImage``, default the stack's ECR repository at the project version."""
    if cfg.versions.gateway_image:
        return cfg.versions.gateway_image
    return image_router(cfg, account).own_image(GATEWAY_REPOSITORY, project_version())


def system_node_selector(cfg: StackConfig) -> dict[str, str]:
    """``{paddock.dev/pool: system}`` on a created cluster (its system node group carries it); ``{}`` on an
    adopted cluster, whose node labels Paddock does not know."""
    return dict(SYSTEM_POOL_LABEL) if cfg.cluster.create else {}


def release_policy(cfg: StackConfig, account: str) -> ReleasePolicy:
    """Placement + image routes for the stack's third-party releases."""
    return ReleasePolicy(router=image_router(cfg, account), system_node_selector=system_node_selector(cfg))


def deployed_charts(cfg: StackConfig) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(release, chart, version, the values switches that matter) of every third-party chart the stack
    deploys, mirroring stacks/core.py and stacks/addons.py."""
    v, a = cfg.versions, cfg.autoscaling
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    if not v.gpu_ami_type.startswith("BOTTLEROCKET"):
        out.append(("nvidia-device-plugin", "nvidia-device-plugin", v.nvidia_device_plugin_chart, {}))
    out.append(("dcgm-exporter", "dcgm-exporter", v.dcgm_exporter_chart, {}))
    monitoring = cfg.monitoring.enabled
    if v.kube_prometheus_stack_chart and (monitoring or a.keda or cfg.models):
        switches = {
            "grafana": {"enabled": monitoring and cfg.monitoring.grafana},
            "alertmanager": {"enabled": monitoring and cfg.monitoring.alerts},
        }
        out.append(
            ("kube-prometheus-stack", "kube-prometheus-stack", v.kube_prometheus_stack_chart, switches)
        )
    if a.keda and v.keda_chart:
        out.append(("keda", "keda", v.keda_chart, {}))
    elif v.prometheus_adapter_chart and cfg.models:
        out.append(("prometheus-adapter", "prometheus-adapter", v.prometheus_adapter_chart, {}))
    if a.node_autoscaler == "cluster-autoscaler" and v.cluster_autoscaler_chart:
        out.append(("cluster-autoscaler", "cluster-autoscaler", v.cluster_autoscaler_chart, {}))
    if a.node_autoscaler == "karpenter" and v.karpenter_chart:
        out.append(("karpenter", "karpenter", v.karpenter_chart, {}))
    return out


@dataclass(frozen=True, kw_only=True)
class ImageRow:
    """One image of the stack: who pulls it, from where, by which route."""

    user: str
    """Release or pod that pulls it (``model-llama-8b``, ``kube-prometheus-stack``)."""
    image: str
    """Image id (``engine``, ``prometheus``...)."""
    key: str
    """Config key or catalog entry the image comes from."""
    pulled: PulledImage | None
    """None when no route exists (``error`` says why)."""
    error: str = ""


def own_images(cfg: StackConfig, account: str) -> list[tuple[str, str, str, str]]:
    """(user, image id, key, reference) of the images our own values name."""
    out: list[tuple[str, str, str, str]] = []
    for model in cfg.models:
        key = "paddock:versions.vllmImage" if model.engine == "vllm" else "paddock:versions.tgiImage"
        image = cfg.versions.vllm_image if model.engine == "vllm" else cfg.versions.tgi_image
        if image:
            out.append((f"model-{model.alias}", "engine", key, image))
        if model.weights_source == "s3" and cfg.versions.aws_cli_image:
            out.append(
                (
                    f"model-{model.alias}",
                    "weights-sync",
                    "paddock:versions.awsCliImage",
                    cfg.versions.aws_cli_image,
                )
            )
    if cfg.gateway.enabled:
        out.append(("gateway", "gateway", "paddock:versions.gatewayImage", gateway_image(cfg, account)))
    return out


def stack_image_routes(cfg: StackConfig, account: str = PLACEHOLDER_ACCOUNT) -> list[ImageRow]:
    """Every image the stack pulls with its route (or the reason it has none)."""
    router = image_router(cfg, account)
    rows = [_row(router, user, image_id, key, ref) for user, image_id, key, ref in own_images(cfg, account)]
    for release, chart_name, version, switches in deployed_charts(cfg):
        try:
            chart = get_chart(chart_name, version)
        except CatalogLookupError as exc:  # a version charts.yaml does not describe: say so, per release
            rows.append(ImageRow(user=release, image="*", key=chart_name, pulled=None, error=str(exc)))
            continue
        for image in enabled_images(chart, switches):
            ref = upstream_reference(image, switches)
            rows.append(_row(router, release, image.id, f"charts.yaml {chart.name} {version}", ref))
    return rows


def _row(router: ImageRouter, user: str, image_id: str, key: str, ref: str) -> ImageRow:
    try:
        return ImageRow(user=user, image=image_id, key=key, pulled=router.route(ref, key=key))
    except ImageRouteError as exc:
        return ImageRow(user=user, image=image_id, key=key, pulled=None, error=str(exc))


def stack_image_problems(cfg: StackConfig) -> list[tuple[str, str]]:
    """(config key, message) for every image without a route under ``paddock:registry``."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for row in stack_image_routes(cfg):
        if row.pulled is None and row.error not in seen:
            seen.add(row.error)
            field, _, message = row.error.partition(": ")
            problems.append(
                (field if field.startswith("paddock:") else "paddock:registry", message or row.error)
            )
    return problems


def images_markdown(rows: list[ImageRow]) -> str:
    """The "## Images" section of summary.md: one line per image with its route."""
    lines = [
        "## Images",
        "",
        "| pulled by | image | upstream | pulled as | route | note |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.pulled is None:
            lines.append(f"| {row.user} | {row.image} | | | **none** | {row.error} |")
            continue
        p = row.pulled
        lines.append(f"| {row.user} | {row.image} | `{p.source}` | `{p.reference}` | {p.route} | {p.note} |")
    copies = mirror_commands(rows)
    if copies:
        lines += [
            "",
            "Copy these into the mirror before `pulumi up` (crane keeps the manifest digest; log in to the",
            "target registry first, e.g. `aws ecr get-login-password | crane auth login <registry> -u AWS "
            "--password-stdin`):",
            "",
            "```sh",
            *copies,
            "```",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, kw_only=True)
class RuleNeed:
    """One pull-through cache rule the stack needs (components/registry.py PullThroughRule)."""

    prefix: str
    upstream_url: str
    credential_arn: str | None
    credential_required: bool


@dataclass(frozen=True, kw_only=True)
class RegistryNeeds:
    """What the Registry component must create for the stack's images to be pullable."""

    rules: tuple[RuleNeed, ...]
    mirror_repositories: tuple[str, ...]
    """Repository names in the stack's own registry (mirror prefix in it); a mirror on another host is the
    user's to create."""
    gateway_repository: str | None


def registry_needs(cfg: StackConfig, account: str) -> RegistryNeeds:
    """Rules (one per upstream a pull-through route uses), mirror repositories and the gateway repository."""
    from serving.catalog.charts import get_registry

    rows = stack_image_routes(cfg, account)
    own = image_router(cfg, account).own_registry
    rules: dict[str, RuleNeed] = {}
    mirrors: set[str] = set()
    for row in rows:
        p = row.pulled
        if p is None:
            continue
        spec = get_registry(p.upstream)
        if p.route == "pull-through" and spec is not None and spec.pull_through is not None:
            upstream = spec.pull_through
            credential = {
                "docker.io": cfg.registry.docker_hub_credential_arn,
                "ghcr.io": cfg.registry.github_credential_arn,
            }.get(spec.host)
            rules[upstream.prefix] = RuleNeed(
                prefix=upstream.prefix,
                upstream_url=upstream.upstream_url,
                credential_arn=credential,
                credential_required=upstream.credential == "required",
            )
        elif p.route == "mirror" and p.pulled.registry == own:
            mirrors.add(p.pulled.repository)
    # Repository names are per account and region, not per stack: short-lived stacks (paddock:ephemeral) use
    # the ones a permanent stack of their region created (the ephemeral template shares dev's region) instead
    # of colliding with them, and their destroy never meets a repository full of images.
    owner = cfg.ephemeral is None
    gateway = GATEWAY_REPOSITORY if owner and cfg.gateway.enabled and not cfg.versions.gateway_image else None
    return RegistryNeeds(
        rules=tuple(rules[k] for k in sorted(rules)) if owner else (),
        mirror_repositories=tuple(sorted(mirrors)) if owner else (),
        gateway_repository=gateway,
    )


def mirror_commands(rows: list[ImageRow]) -> list[str]:
    """Copy commands for every mirrored image (crane keeps the manifest, so the digest is preserved)."""
    return [
        f"crane copy {_explicit(row.pulled.source)} {row.pulled.reference}"
        for row in rows
        if row.pulled is not None and row.pulled.route == "mirror"
    ]


def _explicit(image: str) -> str:
    """``vllm/vllm-openai:v1`` -> ``docker.io/vllm/vllm-openai:v1`` (copy tools want the registry)."""
    from serving.images import parse_image

    return str(parse_image(image))
