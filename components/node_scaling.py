"""NodeScaling: GPU node scaling, by cluster-autoscaler over the managed GPU node groups or by Karpenter
(controller, IAM, interruption queue, node role + access entry, EC2NodeClass and one NodePool per model).

Created BEFORE the model releases (stacks/addons.py): at scale to zero (GPU node group min 0) an engine pod
is Pending until this autoscaler adds a node, so a release that waited for a node nobody can add would time
out. :attr:`NodeScaling.ready` lists what a model release must wait for. Every controller release waits for
its EKS Pod Identity association (EKS injects credentials at pod admission only when the association exists)
and for ``after`` (the system nodes it runs on, the Pod Identity agent). Decisions live in
serving/autoscaling (pure); this file only creates the objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._common import (
    PKG,
    assume_role_policy,
    aws_partition,
    child,
    raise_problems,
    system_release_args,
)
from serving.autoscaling import (
    AutoscalingSettings,
    ModelScaling,
    cluster_autoscaler_policy,
    cluster_autoscaler_settings,
    karpenter_node_class,
    karpenter_node_pool,
    validate_models,
)
from serving.autoscaling.karpenter import (
    INTERRUPTION_EVENTS,
    KARPENTER_SERVICE_ACCOUNT,
    QUEUE_RETENTION_SECONDS,
    event_pattern,
    integration_policy,
    interruption_queue_policy,
    node_lifecycle_policy,
)
from serving.autoscaling.values import cluster_autoscaler_values, karpenter_values
from serving.catalog import get_instance
from serving.chart_overrides import ReleasePolicy
from serving.release_values import gpu_node_labels
from serving.residency.iam import pod_identity_trust_policy

CLUSTER_AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler"
KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_NODE_CLASS = "paddock-gpu"
#: ServiceAccount name set in helm_values/cluster_autoscaler.yaml.j2
CLUSTER_AUTOSCALER_SA = "cluster-autoscaler"
#: managed policies of nodes Karpenter launches (Karpenter's getting-started template, v1.14)
KARPENTER_NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
)


@dataclass(frozen=True, kw_only=True)
class NodeScalingArgs:
    """Arguments of :class:`NodeScaling`."""

    models: tuple[ModelScaling, ...]
    settings: AutoscalingSettings
    """Only ``node_autoscaler`` is read (``cluster-autoscaler``, ``karpenter`` or ``none``)."""
    provider: k8s.Provider
    cluster_name: str
    """EKS cluster name (plain: it goes into tags, policies and values)."""
    region: str
    cluster: pulumi.Input[str] | None = None
    """The cluster name as an Output of the Cluster component (orders associations/access entries after the
    cluster); None = ``cluster_name``."""
    account_id: pulumi.Input[str] | None = None
    """AWS account id (Karpenter's policies name instance profiles and the cluster ARN). Required with
    karpenter."""
    tags: Mapping[str, str] = field(default_factory=dict)
    cluster_autoscaler_chart_version: str | None = None
    """Required with ``cluster-autoscaler``."""
    cluster_autoscaler_role_arn: pulumi.Input[str] | None = None
    """An existing IRSA role for cluster-autoscaler; None = a role bound by EKS Pod Identity."""
    karpenter_chart_version: str | None = None
    """``paddock:versions.karpenterChart``. Required with ``karpenter``."""
    karpenter_ami_alias: str | None = None
    """Pinned EC2NodeClass AMI alias (``al2023@v20251103``). Required with ``karpenter``."""
    namespace: str = "kube-system"
    after: Sequence[pulumi.Resource] = ()
    """What every controller release waits for (system node group, Pod Identity agent add-on)."""
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """System-node placement and image routes of cluster-autoscaler and Karpenter (chart_overrides)."""
    isolated_vpc: bool = False
    """No internet egress (no NAT gateway): Karpenter's ``settings.isolatedVPC``."""

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as ``(path, reason)``; checked before any child exists."""
        found = [_split(p) for p in validate_models(self.models)]
        mode = self.settings.node_autoscaler
        if not self.cluster_name:
            found.append(("cluster_name", "is empty"))
        if mode == "cluster-autoscaler" and not self.cluster_autoscaler_chart_version:
            found.append(
                ("cluster_autoscaler_chart_version", "is required with node_autoscaler cluster-autoscaler")
            )
        if mode == "karpenter":
            for key in ("karpenter_chart_version", "karpenter_ami_alias", "account_id"):
                if getattr(self, key) is None:
                    found.append((key, "is required with node_autoscaler karpenter"))
            for i, m in enumerate(self.models):
                if m.capacity_type == "reserved" and not m.capacity_reservation_id:
                    found.append(
                        (
                            f"models[{i}].capacity_reservation_id",
                            "is required for reserved capacity (paddock:models[i].capacityReservationId)",
                        )
                    )
        return found


def _split(problem: str) -> tuple[str, str]:
    path, _, reason = problem.partition(": ")
    return path, reason


class NodeScaling(pulumi.ComponentResource):
    """GPU node autoscaler (token ``paddock:scaling:NodeScaling``).

    Outputs: ``node_autoscaler``, ``ready`` (resources a model release waits for), ``node_pools`` (alias ->
    NodePool, Karpenter only), ``policy_arn`` (cluster-autoscaler policy, or None), ``node_role_arn``
    (Karpenter nodes' role, or None), ``interruption_queue`` (queue name, or None)."""

    def __init__(self, name: str, args: NodeScalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("NodeScaling", args.problems())
        super().__init__(f"{PKG}:scaling:NodeScaling", name, None, opts)
        self.node_autoscaler = args.settings.node_autoscaler
        self.ready: list[pulumi.Resource] = []
        self.node_pools: dict[str, k8s.apiextensions.CustomResource] = {}
        self.policy_arn: pulumi.Output[str] | None = None
        self.node_role_arn: pulumi.Output[str] | None = None
        self.interruption_queue: pulumi.Output[str] | None = None
        if self.node_autoscaler == "cluster-autoscaler":
            self.policy_arn = self._cluster_autoscaler(name, args)
        elif self.node_autoscaler == "karpenter":
            self._karpenter(name, args)
        self.register_outputs(
            {
                "node_autoscaler": self.node_autoscaler,
                "policy_arn": self.policy_arn,
                "node_role_arn": self.node_role_arn,
                "interruption_queue": self.interruption_queue,
            }
        )

    # ── cluster-autoscaler ────────────────────────────────────────────────────────────────────────────────
    def _cluster_autoscaler(self, name: str, args: NodeScalingArgs) -> pulumi.Output[str]:
        policy = aws.iam.Policy(
            f"{name}-cluster-autoscaler-policy",
            description="cluster-autoscaler: discover node groups, resize only those this cluster owns",
            policy=json.dumps(cluster_autoscaler_policy(args.cluster_name), sort_keys=True),
            tags=dict(args.tags),
            opts=child(self),
        )
        settings = cluster_autoscaler_settings(
            args.models, cluster_name=args.cluster_name, region=args.region
        )
        version = args.cluster_autoscaler_chart_version
        values: pulumi.Input[dict[str, Any]] = args.releases.apply(
            "cluster-autoscaler", version, cluster_autoscaler_values(settings)
        )
        waits: list[pulumi.Resource] = [*args.after]
        if args.cluster_autoscaler_role_arn is not None:
            values = pulumi.Output.from_input(args.cluster_autoscaler_role_arn).apply(
                lambda arn: args.releases.apply(
                    "cluster-autoscaler", version, cluster_autoscaler_values(replace(settings, role_arn=arn))
                )
            )
        else:
            waits += self._pod_identity(
                f"{name}-cluster-autoscaler", args, [policy.arn], CLUSTER_AUTOSCALER_SA, "cluster-autoscaler"
            )
        release = k8s.helm.v3.Release(
            f"{name}-cluster-autoscaler",
            name="cluster-autoscaler",
            chart="cluster-autoscaler",
            version=args.cluster_autoscaler_chart_version,
            repository_opts={"repo": CLUSTER_AUTOSCALER_REPO},
            namespace=args.namespace,
            values=values,
            **system_release_args(),
            opts=child(self, provider=args.provider, depends_on=waits),
        )
        self.ready.append(release)
        return policy.arn

    def _pod_identity(
        self,
        prefix: str,
        args: NodeScalingArgs,
        policy_arns: Sequence[pulumi.Input[str]],
        service_account: str,
        what: str,
    ) -> list[pulumi.Resource]:
        """A Pod Identity role with ``policy_arns`` bound to ``service_account``; returns the association and
        the attachments (what the controller's release must wait for)."""
        role = aws.iam.Role(
            f"{prefix}-role",
            assume_role_policy=json.dumps(pod_identity_trust_policy()),
            description=f"{what} (EKS Pod Identity)",
            tags=dict(args.tags),
            opts=child(self),
        )
        waits: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{prefix}-attach" if len(policy_arns) == 1 else f"{prefix}-attach-{i}",
                role=role.name,
                policy_arn=arn,
                opts=child(self),
            )
            for i, arn in enumerate(policy_arns)
        ]
        waits.append(
            aws.eks.PodIdentityAssociation(
                f"{prefix}-pod-identity",
                cluster_name=args.cluster if args.cluster is not None else args.cluster_name,
                namespace=args.namespace,
                service_account=service_account,
                role_arn=role.arn,
                tags=dict(args.tags),
                opts=child(self),
            )
        )
        return waits

    # ── Karpenter ─────────────────────────────────────────────────────────────────────────────────────────
    def _karpenter(self, name: str, args: NodeScalingArgs) -> None:
        partition = aws_partition(args.region)
        tags = dict(args.tags)
        cluster = args.cluster if args.cluster is not None else args.cluster_name
        node_role, entry = self._karpenter_node_role(name, args, partition, cluster)
        queue = self._interruption_queue(name, args)
        account = pulumi.Output.from_input(args.account_id or "")
        lifecycle = aws.iam.Policy(
            f"{name}-karpenter-node-lifecycle",
            description="Karpenter: launch, tag and terminate this cluster's NodePool instances only",
            policy=json.dumps(
                node_lifecycle_policy(
                    cluster_name=args.cluster_name, region=args.region, partition=partition
                ),
                sort_keys=True,
            ),
            tags=tags,
            opts=child(self),
        )
        integration = aws.iam.Policy(
            f"{name}-karpenter-integration",
            description="Karpenter: node role, instance profiles, interruption queue, cluster and EC2 reads",
            policy=pulumi.Output.all(account, node_role.arn, queue.arn).apply(
                lambda v: json.dumps(
                    integration_policy(
                        cluster_name=args.cluster_name,
                        region=args.region,
                        partition=partition,
                        account_id=v[0],
                        node_role_arn=v[1],
                        queue_arn=v[2],
                    ),
                    sort_keys=True,
                )
            ),
            tags=tags,
            opts=child(self),
        )
        waits = self._pod_identity(
            f"{name}-karpenter",
            args,
            [lifecycle.arn, integration.arn],
            KARPENTER_SERVICE_ACCOUNT,
            "Karpenter controller",
        )
        release = k8s.helm.v3.Release(
            f"{name}-karpenter",
            name="karpenter",
            chart=KARPENTER_CHART,
            version=args.karpenter_chart_version,
            namespace=args.namespace,
            values=args.releases.apply(
                "karpenter",
                args.karpenter_chart_version,
                karpenter_values(
                    cluster_name=args.cluster_name,
                    interruption_queue=args.cluster_name,
                    role_arn=None,
                    isolated_vpc=args.isolated_vpc,
                ),
            ),
            **system_release_args(),
            opts=child(self, provider=args.provider, depends_on=[*args.after, *waits, queue]),
        )
        root = max((m.plan.root_volume_gib for m in args.models), default=100)
        reservations = tuple(
            sorted({m.capacity_reservation_id for m in args.models if m.capacity_reservation_id})
        )
        nvme = any(
            m.plan.instance_type and get_instance(m.plan.instance_type).nvme_gb > 0 for m in args.models
        )
        node_class = node_role.name.apply(
            lambda role: karpenter_node_class(
                name=KARPENTER_NODE_CLASS,
                cluster_name=args.cluster_name,
                node_role=str(role),
                ami_alias=args.karpenter_ami_alias or "",
                root_volume_gib=root,
                local_nvme=nvme,
                capacity_reservation_ids=reservations,
            )
        )
        # the EC2NodeClass CRD comes with the chart; nodes it launches join through the access entry
        cls = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": KARPENTER_NODE_CLASS},
            spec=node_class.apply(lambda c: c["spec"]),
            opts=child(self, provider=args.provider, depends_on=[release, entry]),
        )
        self.ready += [release, cls]
        for m in args.models:
            pool = karpenter_node_pool(
                m, node_class=KARPENTER_NODE_CLASS, node_labels=gpu_node_labels(m.alias, m.plan)
            )
            self.node_pools[m.alias] = k8s.apiextensions.CustomResource(
                f"{name}-{m.alias}-node-pool",
                api_version=pool["apiVersion"],
                kind=pool["kind"],
                metadata=pool["metadata"],
                spec=pool["spec"],
                opts=child(self, provider=args.provider, depends_on=[release, cls]),
            )
        self.node_role_arn = node_role.arn
        self.interruption_queue = queue.name

    def _karpenter_node_role(
        self, name: str, args: NodeScalingArgs, partition: str, cluster: pulumi.Input[str]
    ) -> tuple[aws.iam.Role, aws.eks.AccessEntry]:
        """The role of nodes Karpenter launches (the EC2NodeClass names it; Karpenter makes the instance
        profile) and its EKS access entry of type EC2_LINUX, without which those nodes cannot join."""
        tags = dict(args.tags)
        role = aws.iam.Role(
            f"{name}-karpenter-node-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            description="GPU nodes launched by Karpenter",
            tags=tags,
            opts=child(self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-karpenter-node-{policy}",
                role=role.name,
                policy_arn=f"arn:{partition}:iam::aws:policy/{policy}",
                opts=child(self),
            )
            for policy in KARPENTER_NODE_POLICIES
        ]
        entry = aws.eks.AccessEntry(
            f"{name}-karpenter-node-access",
            cluster_name=cluster,
            principal_arn=role.arn,
            type="EC2_LINUX",
            tags=tags,
            # on destroy the entry goes first, while the policies are still attached
            opts=child(self, depends_on=attachments),
        )
        return role, entry

    def _interruption_queue(self, name: str, args: NodeScalingArgs) -> aws.sqs.Queue:
        """SQS queue (named after the cluster: ``settings.interruptionQueue``) fed by EventBridge rules for
        spot interruption, rebalance, instance state change, scheduled (health) change and capacity
        reservation interruption."""
        tags = dict(args.tags)
        queue = aws.sqs.Queue(
            f"{name}-karpenter-interruption",
            name=args.cluster_name,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child(self),
        )
        aws.sqs.QueuePolicy(
            f"{name}-karpenter-interruption-policy",
            queue_url=queue.id,
            policy=queue.arn.apply(lambda arn: json.dumps(interruption_queue_policy(arn), sort_keys=True)),
            opts=child(self),
        )
        for suffix, source, detail_type in INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(
                f"{name}-karpenter-{suffix}",
                description=f"Karpenter interruption queue: {detail_type}",
                event_pattern=event_pattern(source, detail_type),
                tags=tags,
                opts=child(self),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-karpenter-{suffix}-target",
                rule=rule.name,
                arn=queue.arn,
                target_id="KarpenterInterruptionQueueTarget",
                opts=child(self),
            )
        return queue
