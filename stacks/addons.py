"""The add-ons of the platform program, in creation order (stacks/program.py runs :data:`ADDONS` in list
order after :func:`stacks.core.build_core`).

One function per component, ``def add_<x>(platform: Platform) -> None``, each a single constructor call fed
from ``platform``. The list order is the creation order made real: each add-on records on ``platform`` what
later ones must wait for (``before_models``, ``before_model``, ``gateway_after``...), and those become
``depends_on`` edges (Pulumi waits for them on create and deletes in reverse on destroy).
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from components._common import LEGACY_AUTOSCALING
from serving.autoscaling.config import monitoring_settings
from serving.stack_images import gateway_image, system_node_selector
from stacks.core import MONITORING_NAMESPACE, PROMETHEUS_URL, Platform, build_model_server

# ── add-ons ───────────────────────────────────────────────────────────────────────────────────────────────
# One function per component, `def add_<x>(platform: Platform) -> None`, appended to ADDONS. Keep each to a
# single constructor call fed from `platform` (config, plans, cluster.provider, model_servers[alias]...).
#
# ADDONS run in list order, and the order is the creation order made real: each add-on records on
# `platform` what later ones must wait for (`before_models`, `before_model`, `gateway_after`...), and those
# become `depends_on` edges (Pulumi waits for them on create and deletes in reverse on destroy):
#   bedrock (role + Pod Identity association) · monitoring (kube-prometheus-stack after storage)
#   · controllers (LWS, EFA) · node scaling (cluster-autoscaler / Karpenter) · pod scaling (KEDA after kps)
#   → model servers (after node group, autoscalers, operator, device plugin, LWS)
#   → per-model ScaledObjects/HPAs (after operator + their release) · gateway (after its association).

ADDONS: list[Callable[[Platform], None]] = []
LEGACY = LEGACY_AUTOSCALING  # (name, type) of the Autoscaling component split into node/pod/model scaling


# ── add-on: residency (components/bedrock_fallback.py; owner: residency) ──────────────────────────────────
def add_bedrock_fallback(platform: Platform) -> None:
    """The gateway's least-privilege Bedrock role (no role at all when every alias is pinned).

    Exports ``bedrockRoleArn`` (None when pinned) for the gateway add-on; the role is bound by Pod Identity to
    ServiceAccount ``components.bedrock_fallback.GATEWAY_SERVICE_ACCOUNT`` in ``paddock:namespace``. The
    gateway release waits for that association (``platform.gateway_after``).
    """
    import pulumi_aws as aws

    from components.bedrock_fallback import BedrockFallback, BedrockFallbackArgs
    from serving.errors import InputError
    from serving.residency import facts_from_stack_config
    from serving.residency.iam import bedrock_targets

    cfg, net = platform.config, platform.network
    try:
        targets = bedrock_targets(facts_from_stack_config(cfg))
    except InputError as exc:  # a geo profile with unknown destinations: name the key, no traceback
        raise pulumi.RunError(str(exc)) from None
    fallback = BedrockFallback(
        "bedrock",
        BedrockFallbackArgs(
            targets=targets,
            region=cfg.fallback.region or cfg.region,
            account_id=aws.get_caller_identity_output().account_id if targets else "",
            namespace=cfg.namespace,
            cluster_name=platform.cluster.cluster_name,
            create_endpoint=net.endpoint_security_group_id is not None,  # an adopted VPC brings its own
            vpc_id=net.vpc_id,
            subnet_ids=net.private_subnet_ids,
            security_group_ids=(
                [net.endpoint_security_group_id] if net.endpoint_security_group_id is not None else None
            ),
            tags=platform.tags,
        ),
    )
    platform.gateway_after += fallback.ready
    platform.exports["bedrockRoleArn"] = fallback.role_arn


ADDONS.append(add_bedrock_fallback)


# ── add-on: monitoring (components/monitoring.py; owner: order) ─────────────────────────────────────────────
def add_monitoring(platform: Platform) -> None:
    """kube-prometheus-stack, engine/gateway monitors, per-model PrometheusRules and Grafana dashboards.
    With ``paddock:monitoring.enabled: false`` only a Prometheus for KEDA runs (none without KEDA).
    kube-prometheus-stack waits for the system nodes and the storage Prometheus writes to."""
    from components.monitoring import Monitoring, MonitoringArgs
    from serving.autoscaling.config import autoscaling_settings, model_scaling
    from serving.monitoring.targets import ScrapeTargets

    cfg = platform.config
    settings = monitoring_settings(cfg)  # None = no Prometheus at all (monitoring and KEDA both off)
    if settings is None:
        return
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            models=model_scaling(cfg, platform.plans),
            settings=settings,
            autoscaling=autoscaling_settings(cfg),
            provider=platform.cluster.provider,
            kube_prometheus_stack_version=str(cfg.versions.kube_prometheus_stack_chart),
            gateway=cfg.gateway.enabled,
            namespace=MONITORING_NAMESPACE,
            targets=ScrapeTargets(serving_namespace=cfg.namespace, gateway_namespace=cfg.namespace),
            dcgm_service_monitor=True,  # here, not in GpuPlumbing: kube-prometheus-stack brings the CRD
            after=[*platform.system, *platform.storage],
            releases=platform.releases,
            cluster_name=platform.cluster.cluster_name,
            region=cfg.region,
            tags=platform.tags,
        ),
    )
    platform.prometheus = monitoring.release
    platform.exports["prometheusUrl"] = monitoring.prometheus_url
    if monitoring.alerts_topic_arn is not None:
        platform.exports["alertsTopicArn"] = monitoring.alerts_topic_arn


# ── add-on: controllers (components/controllers.py; owner: order) ──────────────────────────────────────────
def add_controllers(platform: Platform) -> None:
    """The LeaderWorkerSet controller when a plan spans nodes, the EFA device plugin when it does so on an
    EFA instance; the spanning models' releases wait for them. Nothing when no plan spans nodes."""
    from components.controllers import Controllers, ControllersArgs
    from serving.controllers import multi_node, needs_efa

    cfg, plans = platform.config, platform.plans
    lws, efa = multi_node(plans.values()), needs_efa(plans.values())
    if not lws:
        return
    controllers = Controllers(
        "controllers",
        ControllersArgs(
            provider=platform.cluster.provider,
            lws_chart_version=cfg.versions.lws_chart,  # planning.py requires it when a plan spans nodes
            efa_device_plugin_chart_version=cfg.versions.efa_device_plugin_chart if efa else None,
            releases=platform.releases,
            after=list(platform.system),
        ),
    )
    for alias, plan in plans.items():
        if multi_node([plan]):
            platform.before_model.setdefault(alias, []).extend(controllers.ready)


# ── add-on: node scaling (components/node_scaling.py; owner: order) ────────────────────────────────────────
def add_node_scaling(platform: Platform) -> None:
    """GPU node scaling BEFORE the models: cluster-autoscaler (Pod Identity role) over the managed GPU node
    groups, or Karpenter (controller, IAM, interruption queue, node role + access entry, NodePools). A model
    at scale to zero needs a node from it, so every model release waits for it."""
    import pulumi_aws as aws

    from components.node_scaling import NodeScaling, NodeScalingArgs
    from serving.autoscaling.config import autoscaling_settings, model_scaling

    cfg = platform.config
    karpenter = cfg.autoscaling.node_autoscaler == "karpenter"
    scaling = NodeScaling(
        "node-scaling",
        NodeScalingArgs(
            models=model_scaling(cfg, platform.plans),
            settings=autoscaling_settings(cfg),
            provider=platform.cluster.provider,
            cluster_name=cfg.cluster.existing_cluster_name or cfg.cluster.name,
            cluster=platform.cluster.cluster_name,
            region=cfg.region,
            account_id=aws.get_caller_identity_output().account_id if karpenter else None,
            tags=platform.tags,
            cluster_autoscaler_chart_version=cfg.versions.cluster_autoscaler_chart,
            karpenter_chart_version=cfg.versions.karpenter_chart,
            karpenter_ami_alias=cfg.autoscaling.karpenter_ami_alias,
            releases=platform.releases,
            isolated_vpc=not cfg.network.nat_gateway,
            after=list(platform.system),
        ),
        # its children were "autoscaling-<x>" under the former Autoscaling component: inherited aliases
        opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name=LEGACY[0], type_=LEGACY[1])]),
    )
    platform.before_models += scaling.ready
    for alias, pool in scaling.node_pools.items():
        platform.before_model.setdefault(alias, []).append(pool)
    if scaling.interruption_queue is not None:
        platform.exports["karpenterInterruptionQueue"] = scaling.interruption_queue


# ── add-on: pod scaling operator (components/pod_scaling.py; owner: order) ─────────────────────────────────
def add_pod_scaling(platform: Platform) -> None:
    """KEDA (or prometheus-adapter without KEDA) BEFORE the models; KEDA waits for kube-prometheus-stack,
    whose ServiceMonitor CRD its own monitors need."""
    from components.pod_scaling import PodScaling, PodScalingArgs
    from serving.autoscaling.config import autoscaling_settings

    cfg = platform.config
    if not cfg.models:
        return
    after = [*platform.system, *([platform.prometheus] if platform.prometheus is not None else [])]
    scaling = PodScaling(
        "pod-scaling",
        PodScalingArgs(
            settings=autoscaling_settings(cfg),
            provider=platform.cluster.provider,
            prometheus=monitoring_settings(cfg) is not None,
            keda_chart_version=cfg.versions.keda_chart,
            prometheus_adapter_chart_version=cfg.versions.prometheus_adapter_chart,
            prometheus_url=PROMETHEUS_URL,
            after=after,
            moved_from=pulumi.create_urn(*LEGACY),
            releases=platform.releases,
        ),
    )
    platform.pod_operator = scaling.operator
    platform.before_models.append(scaling.operator)


# ── add-on: model servers (components/model_server.py) ─────────────────────────────────────────────────────
def add_model_servers(platform: Platform) -> None:
    """One ModelServer per model; its release waits for its GPU node group (destroy then removes pods before
    nodes), everything in ``before_models`` and its own ``before_model`` entries, and the device plugin."""
    cfg = platform.config
    for m in cfg.models:
        group = platform.node_groups.get(m.alias)
        after = [
            *([group] if group is not None else []),
            *platform.gpu_plumbing.ready,
            *platform.before_models,
            *platform.before_model.get(m.alias, []),
        ]
        platform.model_servers[m.alias] = build_model_server(
            cfg,
            m,
            platform.plans[m.alias],
            platform.cluster,
            platform.tags,
            platform.releases,
            platform.registry,
            after=after,
        )


# ── add-on: per-model scalers (components/model_scalers.py; owner: order) ──────────────────────────────────
def add_model_scalers(platform: Platform) -> None:
    """KEDA ScaledObject (or HPA) per model on its engine metrics, after the operator and its own release.
    Exports ``scalers`` (alias -> object name)."""
    from components.model_scalers import ModelScalers, ModelScalersArgs
    from serving.autoscaling.config import autoscaling_settings, model_scaling

    cfg = platform.config
    if not cfg.models:
        return
    scalers = ModelScalers(
        "autoscaling",
        ModelScalersArgs(
            models=model_scaling(cfg, platform.plans),
            settings=autoscaling_settings(cfg),
            provider=platform.cluster.provider,
            gateway=cfg.gateway.enabled,
            operator=platform.pod_operator,
            model_releases={alias: server.release for alias, server in platform.model_servers.items()},
            prometheus_url=PROMETHEUS_URL,
            moved_from=pulumi.create_urn(*LEGACY),
        ),
    )
    platform.exports["scalers"] = scalers.scalers


# ── add-on: gateway (components/gateway.py; owner: gateway) ────────────────────────────────────────────────
def add_gateway(platform: Platform) -> None:
    """The OpenAI-compatible gateway in front of every model, with routes rendered from config + plans.

    Its ServiceAccount is the one BedrockFallback binds by Pod Identity, so no IRSA annotation is set
    (``role_arn=None``): an IRSA annotation would make the SDK try a trust the role does not have. The
    release waits for that association (``platform.gateway_after``) and the system nodes.
    Exports ``gatewayUrl``.
    """
    from components.gateway import Gateway, GatewayArgs
    from serving.gateway.routes_from_stack import routes_from_stack

    cfg = platform.config
    if not cfg.gateway.enabled:
        return
    image = gateway_image(cfg, platform.account)  # default: the stack's ECR repository, project version tag
    router = platform.releases.router
    gateway = Gateway(
        "gateway",
        GatewayArgs(
            namespace=cfg.namespace,
            image=router.resolve(image, key="paddock:versions.gatewayImage").reference if router else image,
            routes=routes_from_stack(cfg, platform.plans),
            provider=platform.cluster.provider,
            role_arn=None,
            replicas=cfg.gateway.replicas,
            api_keys_secret=cfg.gateway.api_keys_secret or None,
            node_selector=system_node_selector(cfg),
            after=[
                *platform.system,
                *platform.gateway_after,
                *([platform.registry] if platform.registry is not None else []),
            ],
        ),
        opts=pulumi.ResourceOptions(depends_on=list(platform.model_servers.values())),
    )
    platform.exports["gatewayUrl"] = gateway.service_url


ADDONS.extend(
    [
        add_monitoring,
        add_controllers,
        add_node_scaling,
        add_pod_scaling,
        add_model_servers,
        add_model_scalers,
        add_gateway,
    ]
)
