"""The platform program: StackConfig + ServingPlans -> components. The composition root, no logic of its own.

``main()`` is what ``pulumi up`` runs (stacks/__main__.py) and what ``paddock plan`` runs under mocks.
Layout: the core (network, cluster, one GPU node group per model, GPU plumbing) is built by
:func:`build_core`; every further component is ONE function in the "add-ons" section below, registered in
``ADDONS`` in creation order (the model servers are one of them, after the autoscalers and controllers they
wait for). An add-on reads what it needs from :class:`Platform`, records what later resources must wait for
(real ``depends_on`` edges) and may add exports to ``platform.exports``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import (
    Cluster,
    ClusterArgs,
    GpuNodeGroup,
    GpuNodeGroupArgs,
    GpuPlumbing,
    GpuPlumbingArgs,
    ModelServer,
    ModelServerArgs,
    Network,
    NetworkArgs,
)
from components._common import LEGACY_AUTOSCALING
from components.registry import PullThroughRule, Registry, RegistryArgs
from serving.autoscaling.config import monitoring_settings
from serving.catalog import get_instance
from serving.chart_overrides import ReleasePolicy
from serving.errors import PaddockError
from serving.release_values import NodeShape
from serving.sizing.plan import ServingPlan
from serving.stack_config import ModelConfig, StackConfig
from serving.stack_images import gateway_image, registry_needs, release_policy, system_node_selector
from stacks import config as stack_config
from stacks.planning import plan_models

#: namespaces whose pods may call the engines (besides the serving namespace itself)
MONITORING_NAMESPACE = "monitoring"
#: Prometheus as KEDA triggers and prometheus-adapter read it (kube-prometheus-stack's operated Service)
PROMETHEUS_URL = f"http://prometheus-operated.{MONITORING_NAMESPACE}.svc:9090"


@dataclass
class Platform:
    """What the core built; add-ons read it (and add exports)."""

    config: StackConfig
    plans: Mapping[str, ServingPlan]
    """ServingPlan per model alias."""
    tags: dict[str, str]
    network: Network
    cluster: Cluster
    node_groups: dict[str, GpuNodeGroup]
    """Managed GPU node group per alias (none in Karpenter mode: NodePools instead)."""
    gpu_plumbing: GpuPlumbing
    model_servers: dict[str, ModelServer] = field(default_factory=dict)
    """Filled by the add-on :func:`add_model_servers`, after everything a model waits for exists."""
    exports: dict[str, Any] = field(default_factory=dict)
    # ── creation order: real depends_on edges, filled as the program goes ──
    system: list[pulumi.Resource] = field(default_factory=list)
    """What every pod on the system nodes waits for: the system node group and the core EKS add-ons (CoreDNS,
    Pod Identity agent), i.e. ``Cluster.ready`` (empty for an adopted cluster)."""
    storage: list[pulumi.Resource] = field(default_factory=list)
    """What a pod with a PersistentVolume waits for: the EBS CSI add-on and the gp3 StorageClass
    (``Cluster.storage``)."""
    prometheus: pulumi.Resource | None = None
    """kube-prometheus-stack release (brings the ServiceMonitor/PrometheusRule CRDs)."""
    pod_operator: pulumi.Resource | None = None
    """KEDA (or prometheus-adapter) release; per-model scalers wait for it."""
    before_models: list[pulumi.Resource] = field(default_factory=list)
    """What every model release waits for (node autoscaler, pod-scaling operator, device plugin)."""
    before_model: dict[str, list[pulumi.Resource]] = field(default_factory=dict)
    """alias -> what that model's release also waits for (its NodePool, the LWS controller...)."""
    gateway_after: list[pulumi.Resource] = field(default_factory=list)
    """What the gateway release waits for (its Bedrock role's Pod Identity association)."""
    account: str = ""
    """AWS account id of the stack (aws.get_caller_identity; 123456789012 under the mock runtime)."""
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """Image routes + system placement for every release (serving/stack_images.py)."""
    registry: Registry | None = None
    """ECR repositories and pull-through rules the images need (components/registry.py)."""


def node_shape(plan: ServingPlan) -> NodeShape | None:
    """vCPUs/memory/GPUs of the plan's instance type, from the instance catalog."""
    if plan.instance_type is None:
        return None
    spec = get_instance(plan.instance_type)
    return NodeShape(vcpus=spec.vcpu, memory_gib=spec.memory_gib, gpus=spec.gpus)


def _network(cfg: StackConfig, tags: dict[str, str]) -> Network:
    net = cfg.network
    return Network(
        "net",
        NetworkArgs(
            region=cfg.region,
            tags=tags,
            create=net.create,
            cidr=net.cidr,
            az_count=net.az_count,
            nat_gateway=net.nat_gateway,
            vpc_endpoints=net.vpc_endpoints,
            discovery_tag=cfg.cluster.name,
            bedrock_endpoint=False,  # BedrockFallback creates it, with an endpoint policy naming its role
            existing_vpc_id=net.existing_vpc_id,
            private_subnet_ids=net.private_subnet_ids,
        ),
    )


def _cluster(cfg: StackConfig, network: Network, tags: dict[str, str]) -> Cluster:
    cl = cfg.cluster
    return Cluster(
        "eks",
        ClusterArgs(
            region=cfg.region,
            name=cl.name,
            tags=tags,
            create=cl.create,
            kubernetes_version=cl.kubernetes_version,
            subnet_ids=network.private_subnet_ids,
            endpoint_public_access=cl.endpoint_public_access,
            public_access_cidrs=cl.public_access_cidrs,
            private_access_cidrs=cl.private_access_cidrs,
            addon_versions=cfg.versions.eks_addons,
            system_nodes=cl.system_nodes,
            secrets_kms_key_arn=cl.secrets_kms_key_arn,
            admin_role_arns=cl.admin_role_arns,
            log_retention_days=cfg.residency.log_retention_days,
            serving_namespace=cfg.namespace,
            existing_cluster_name=cl.existing_cluster_name,
        ),
    )


def _node_group(
    cfg: StackConfig,
    model: ModelConfig,
    plan: ServingPlan,
    network: Network,
    cluster: Cluster,
    tags: dict[str, str],
) -> GpuNodeGroup:
    return GpuNodeGroup(
        f"gpu-{model.alias}",
        GpuNodeGroupArgs(
            alias=model.alias,
            plan=plan,
            cluster_name=cluster.cluster_name,
            subnet_ids=network.private_subnet_ids,
            region=cfg.region,
            ami_type=cfg.versions.gpu_ami_type,
            capacity_type=model.capacity_type,
            capacity_reservation_id=model.capacity_reservation_id,
            cluster_security_group_id=cluster.cluster_security_group_id,
            vpc_id=network.vpc_id,
            replicas_min=model.replicas_min,
            replicas_max=model.replicas_max,
            weights_bucket=model.weights_bucket,
            weights_prefix=model.weights_prefix,
            tags=tags,
        ),
        # nodes only become Ready once the CNI runs (the created cluster has no self-managed add-ons)
        opts=pulumi.ResourceOptions(depends_on=cluster.node_prerequisites),
    )


def _model_server(
    cfg: StackConfig,
    model: ModelConfig,
    plan: ServingPlan,
    cluster: Cluster,
    tags: dict[str, str],
    releases: ReleasePolicy,
    registry: Registry | None,
    after: list[pulumi.Resource] | None = None,
) -> ModelServer:
    route = releases.router.resolve if releases.router is not None else None
    image = cfg.versions.engine_image(model.engine)
    sync = cfg.versions.aws_cli_image
    return ModelServer(
        f"model-{model.alias}",
        ModelServerArgs(
            model=model,
            plan=plan,
            image=route(image).reference if route else image,
            aws_cli_image=route(sync).reference if route and sync else sync,
            cluster_name=cluster.cluster_name,
            provider=cluster.provider,
            namespace=cluster.serving_namespace,
            region=cfg.region,
            tags=tags,
            # Prometheus scrapes engines whenever it runs (also KEDA-only mode, monitoring.enabled: false)
            allowed_client_namespaces=(MONITORING_NAMESPACE,) if monitoring_settings(cfg) is not None else (),
            node=node_shape(plan),
            after=after or [],
        ),
        # pull-through rules before the first pull
        opts=pulumi.ResourceOptions(depends_on=[registry] if registry is not None else []),
    )


def _account() -> str:
    """The stack's AWS account id (a synchronous invoke: image references are plain strings in values)."""
    import pulumi_aws as aws

    return str(aws.get_caller_identity().account_id)


def _registry(cfg: StackConfig, account: str, tags: dict[str, str]) -> Registry:
    """ECR pull-through rules, mirror repositories and the gateway repository the stack's images need."""
    needs = registry_needs(cfg, account)
    return Registry(
        "registry",
        RegistryArgs(
            region=cfg.region,
            account=account,
            rules=tuple(
                PullThroughRule(
                    prefix=r.prefix,
                    upstream_url=r.upstream_url,
                    credential_arn=r.credential_arn,
                    credential_required=r.credential_required,
                )
                for r in needs.rules
            ),
            mirror_repositories=needs.mirror_repositories,
            gateway_repository=needs.gateway_repository,
            tags=tags,
        ),
    )


def attach_first_pull(name: str, role_arn: pulumi.Input[str], registry: Registry) -> None:
    """Let a node role make the first pull through the stack's pull-through rules (GPU node groups here;
    integration: the system node group's ``node_role_arn`` too). No-op without rules."""
    import pulumi_aws as aws

    if registry.node_policy_arn is None:
        return
    aws.iam.RolePolicyAttachment(
        f"{name}-first-pull",
        role=pulumi.Output.from_input(role_arn).apply(lambda arn: arn.rsplit("/", 1)[-1]),
        policy_arn=registry.node_policy_arn,
    )


def _gpu_plumbing(cfg: StackConfig, cluster: Cluster, releases: ReleasePolicy) -> GpuPlumbing:
    # Bottlerocket's NVIDIA AMI ships the device plugin; Karpenter's EC2NodeClass runs AL2023 (no plugin)
    karpenter = cfg.autoscaling.node_autoscaler == "karpenter"
    bottlerocket = cfg.versions.gpu_ami_type.startswith("BOTTLEROCKET") and not karpenter
    return GpuPlumbing(
        "gpu",
        GpuPlumbingArgs(
            provider=cluster.provider,
            device_plugin_version=None if bottlerocket else cfg.versions.nvidia_device_plugin_chart,
            dcgm_exporter_version=cfg.versions.dcgm_exporter_chart,
            service_monitor=False,  # Monitoring creates DCGM's ServiceMonitor after the Prometheus CRDs exist
            releases=releases,
        ),
    )


def build_core(cfg: StackConfig, plans: Mapping[str, ServingPlan]) -> Platform:
    """Network -> Cluster -> per model GpuNodeGroup (none in Karpenter mode) -> GpuPlumbing. The model
    servers come later (:func:`add_model_servers`), once what they wait for exists."""
    tags = cfg.aws_tags()
    network = _network(cfg, tags)
    cluster = _cluster(cfg, network, tags)
    karpenter = cfg.autoscaling.node_autoscaler == "karpenter"  # NodePools replace managed GPU groups
    node_groups = (
        {}
        if karpenter
        else {m.alias: _node_group(cfg, m, plans[m.alias], network, cluster, tags) for m in cfg.models}
    )
    account = _account()
    releases = release_policy(cfg, account)
    registry = _registry(cfg, account, tags)
    for alias, group in node_groups.items():
        attach_first_pull(f"gpu-{alias}", group.node_role_arn, registry)
    if cluster.addons is not None and cluster.addons.system_node_group is not None:
        attach_first_pull("system", cluster.addons.system_node_group.node_role_arn, registry)
    return Platform(
        config=cfg,
        plans=plans,
        tags=tags,
        network=network,
        cluster=cluster,
        node_groups=node_groups,
        gpu_plumbing=_gpu_plumbing(cfg, cluster, releases),
        system=list(cluster.ready),
        storage=list(cluster.storage),
        account=account,
        releases=releases,
        registry=registry,
    )


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
        ),
    )
    platform.prometheus = monitoring.release
    platform.exports["prometheusUrl"] = monitoring.prometheus_url


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
        platform.model_servers[m.alias] = _model_server(
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

# ── exports ───────────────────────────────────────────────────────────────────────────────────────────────


def core_exports(platform: Platform) -> dict[str, Any]:
    """Stack outputs of the core: cluster, VPC and, per model, its endpoint and hardware."""
    registry = platform.registry
    return {
        "gatewayRepositoryUrl": registry.gateway_repository_url if registry is not None else None,
        "clusterName": platform.cluster.cluster_name,
        "vpcId": platform.network.vpc_id,
        "kubeconfig": platform.cluster.kubeconfig,
        "models": {
            alias: {
                "serviceUrl": server.service_url,
                "servedModelName": server.served_model_name,
                "instanceType": platform.plans[alias].instance_type,
                "pinned": platform.config.model(alias).pinned,
            }
            for alias, server in platform.model_servers.items()
        },
    }


def main(plans: Mapping[str, ServingPlan] | None = None) -> Platform:
    """Load config, size every model (unless ``plans`` are given), build core + add-ons, export."""
    cfg = stack_config.load()
    if plans is None:
        try:
            plans = plan_models(cfg)
        except PaddockError as exc:  # an InputError naming the key: show it without a traceback
            raise pulumi.RunError(str(exc)) from None
    platform = build_core(cfg, plans)
    for addon in ADDONS:
        addon(platform)
    for key, value in {**core_exports(platform), **platform.exports}.items():
        pulumi.export(key, value)
    return platform
