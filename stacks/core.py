"""The core of the platform program: :class:`Platform` and :func:`build_core` (network, cluster with its
managed add-ons and system nodes, one GPU node group per model, GPU plumbing, registry), plus the builders
the add-ons share (:func:`build_model_server`). Composition only, no logic of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from components.registry import PullThroughRule, Registry, RegistryArgs
from serving.autoscaling.config import monitoring_settings
from serving.catalog import get_instance
from serving.chart_overrides import ReleasePolicy
from serving.release_values import NodeShape
from serving.sizing.plan import ServingPlan
from serving.stack_config import ModelConfig, StackConfig
from serving.stack_images import registry_needs, release_policy

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
            weights_region=model.weights_region,
            tags=tags,
        ),
        # nodes only become Ready once the CNI runs (the created cluster has no self-managed add-ons)
        opts=pulumi.ResourceOptions(depends_on=cluster.node_prerequisites),
    )


def build_model_server(
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
