"""Autoscaling: pod scaling per model (KEDA ScaledObject, or HPA without KEDA) and GPU node scaling
(cluster-autoscaler, or Karpenter NodePools), all derived from the ServingPlans.

Charts are referenced by repository URL and the version pinned in ``paddock:versions``; values come from
helm_values/ via serving.autoscaling.values. Decisions live in serving/autoscaling (pure); this file only
creates the objects. See serving/monitoring/README.md for the reasoning behind each number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._common import PKG, child, raise_problems
from serving.autoscaling import (
    DEFAULT_PROMETHEUS_URL,
    AutoscalingSettings,
    ModelScaling,
    cluster_autoscaler_policy,
    cluster_autoscaler_settings,
    hpa,
    karpenter_node_class,
    karpenter_node_pool,
    scaled_object,
    validate_models,
    validate_settings,
)
from serving.autoscaling.adapter import (
    PROMETHEUS_ADAPTER_CHART,
    PROMETHEUS_ADAPTER_REPO,
    prometheus_adapter_values,
    split_prometheus_url,
)
from serving.autoscaling.values import cluster_autoscaler_values, karpenter_values, keda_values
from serving.chart_overrides import ReleasePolicy
from serving.errors import InputError
from serving.release_values import gpu_node_labels
from serving.residency.iam import pod_identity_trust_policy

KEDA_REPO = "https://kedacore.github.io/charts"
CLUSTER_AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler"
KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_NODE_CLASS = "paddock-gpu"
#: ServiceAccount name set in helm_values/cluster_autoscaler.yaml.j2
CLUSTER_AUTOSCALER_SA = "cluster-autoscaler"


@dataclass(frozen=True, kw_only=True)
class AutoscalingArgs:
    """Arguments of :class:`Autoscaling`."""

    models: tuple[ModelScaling, ...]
    """One entry per ``paddock:models`` item, with its ServingPlan."""
    settings: AutoscalingSettings
    provider: k8s.Provider
    cluster_name: str
    region: str
    gateway: bool
    """The gateway runs (its in-flight gauge wakes models at zero)."""
    prometheus: bool
    """kube-prometheus-stack runs (KEDA triggers and the HPA's adapter read it)."""
    keda_chart_version: str | None = None
    """Required when ``settings.keda``."""
    prometheus_adapter_chart_version: str | None = None
    """prometheus-adapter chart (serves the HPAs' custom-metrics API); required when ``settings.keda`` is
    false."""
    cluster_autoscaler_chart_version: str | None = None
    """Required when ``settings.node_autoscaler`` is ``cluster-autoscaler``."""
    cluster_autoscaler_role_arn: pulumi.Input[str] | None = None
    """An existing IRSA role for cluster-autoscaler (attach :attr:`Autoscaling.policy_arn` to it). None =
    create a role with the policy, bound to the ServiceAccount by an EKS Pod Identity association."""
    cluster: pulumi.Input[str] | None = None
    """The cluster name as an Output of the Cluster component (orders the Pod Identity association after it);
    None = ``cluster_name``."""
    tags: Mapping[str, str] = field(default_factory=dict)
    karpenter_chart_version: str | None = None
    """Karpenter chart; None = Karpenter is installed outside Paddock (only NodePools are created)."""
    karpenter_role_arn: pulumi.Input[str] | None = None
    karpenter_interruption_queue: str | None = None
    karpenter_node_role: pulumi.Input[str] | None = None
    """IAM role NAME of GPU nodes launched by Karpenter. Required with ``karpenter``."""
    karpenter_ami_alias: str | None = None
    """Pinned EC2NodeClass AMI alias (``al2023@v20251103``). Required with ``karpenter``."""
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    keda_namespace: str = "keda"
    adapter_namespace: str = "monitoring"
    """Namespace of the prometheus-adapter release (beside Prometheus)."""
    node_autoscaler_namespace: str = "kube-system"
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """System-node placement and image routes of KEDA, prometheus-adapter, cluster-autoscaler, Karpenter."""

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as ``(path, reason)``; checked before any child exists."""
        found = [
            _split(p)
            for p in validate_models(self.models) + validate_settings(self.settings, field="settings")
        ]
        s = self.settings
        if not self.cluster_name:
            found.append(("cluster_name", "is empty"))
        if s.keda and not self.keda_chart_version:
            found.append(
                ("keda_chart_version", "is required when settings.keda is true (paddock:versions.kedaChart)")
            )
        if not s.keda and self.models and not self.prometheus_adapter_chart_version:
            found.append(
                (
                    "prometheus_adapter_chart_version",
                    "is required when settings.keda is false (paddock:versions.prometheusAdapterChart)",
                )
            )
        if not s.keda:
            try:
                split_prometheus_url(self.prometheus_url)
            except InputError as exc:
                found.append(("prometheus_url", exc.message))
        if not self.prometheus:
            found.append(
                ("prometheus", "autoscaling reads engine metrics from Prometheus: enable paddock:monitoring")
            )
        for i, m in enumerate(self.models):
            if m.min_replicas == 0 and not s.keda:
                found.append((f"models[{i}].min_replicas", "0 (scale to zero) needs settings.keda"))
            if m.min_replicas == 0 and not self.gateway:
                found.append(
                    (f"models[{i}].min_replicas", "0 (scale to zero) needs the gateway to wake the model")
                )
        if s.node_autoscaler == "cluster-autoscaler" and not self.cluster_autoscaler_chart_version:
            found.append(
                ("cluster_autoscaler_chart_version", "is required with node_autoscaler cluster-autoscaler")
            )
        if s.node_autoscaler == "karpenter":
            for key in ("karpenter_node_role", "karpenter_ami_alias"):
                if getattr(self, key) is None:
                    found.append((key, "is required with node_autoscaler karpenter"))
            if self.karpenter_chart_version and not self.karpenter_interruption_queue:
                found.append(
                    ("karpenter_interruption_queue", "is required when the Karpenter chart is installed")
                )
        return found


def _split(problem: str) -> tuple[str, str]:
    path, _, reason = problem.partition(": ")
    return path, reason


class Autoscaling(pulumi.ComponentResource):
    """Pod + node autoscaling (token ``paddock:scaling:Autoscaling``).

    Outputs: ``scalers`` (alias -> ScaledObject/HPA name), ``node_autoscaler`` and ``policy_arn``
    (cluster-autoscaler IAM policy, or None)."""

    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Autoscaling", args.problems())
        super().__init__(f"{PKG}:scaling:Autoscaling", name, None, opts)
        self.scalers = self._pod_scalers(name, args)
        self.policy_arn: pulumi.Output[str] | None = None
        if args.settings.node_autoscaler == "cluster-autoscaler":
            self.policy_arn = self._cluster_autoscaler(name, args)
        elif args.settings.node_autoscaler == "karpenter":
            self._karpenter(name, args)
        self.node_autoscaler = args.settings.node_autoscaler
        self.register_outputs(
            {"scalers": self.scalers, "node_autoscaler": self.node_autoscaler, "policy_arn": self.policy_arn}
        )

    def _pod_scalers(self, name: str, args: AutoscalingArgs) -> dict[str, str]:
        scalers: dict[str, str] = {}
        if not args.settings.keda:
            return self._hpas(name, args)
        keda = k8s.helm.v3.Release(
            f"{name}-keda",
            name="keda",
            chart="keda",
            version=args.keda_chart_version,
            repository_opts={"repo": KEDA_REPO},
            namespace=args.keda_namespace,
            create_namespace=True,
            values=args.releases.apply(
                "keda", args.keda_chart_version, keda_values(monitoring=args.prometheus)
            ),
            opts=child(self, provider=args.provider),
        )
        for m in args.models:
            manifest = scaled_object(
                m, args.settings, gateway=args.gateway, prometheus_url=args.prometheus_url
            )
            _custom(
                f"{name}-{m.alias}-scaledobject",
                manifest,
                child(self, provider=args.provider, depends_on=[keda]),
            )
            scalers[m.alias] = manifest["metadata"]["name"]
        return scalers

    def _hpas(self, name: str, args: AutoscalingArgs) -> dict[str, str]:
        """Without KEDA: prometheus-adapter serving the engine gauges, and one HPA per model reading them."""
        adapter = k8s.helm.v3.Release(
            f"{name}-prometheus-adapter",
            name="prometheus-adapter",
            chart=PROMETHEUS_ADAPTER_CHART,
            version=args.prometheus_adapter_chart_version,
            repository_opts={"repo": PROMETHEUS_ADAPTER_REPO},
            namespace=args.adapter_namespace,
            create_namespace=True,
            values=args.releases.apply(
                "prometheus-adapter",
                args.prometheus_adapter_chart_version,
                prometheus_adapter_values(prometheus_url=args.prometheus_url),
            ),
            opts=child(self, provider=args.provider),
        )
        scalers: dict[str, str] = {}
        for m in args.models:
            manifest = hpa(m, args.settings)
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-{m.alias}-hpa",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=child(self, provider=args.provider, depends_on=[adapter]),
            )
            scalers[m.alias] = manifest["metadata"]["name"]
        return scalers

    def _cluster_autoscaler(self, name: str, args: AutoscalingArgs) -> pulumi.Output[str]:
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
        if args.cluster_autoscaler_role_arn is not None:
            values = pulumi.Output.from_input(args.cluster_autoscaler_role_arn).apply(
                lambda arn: args.releases.apply(
                    "cluster-autoscaler", version, cluster_autoscaler_values(replace(settings, role_arn=arn))
                )
            )
        else:
            self._pod_identity(name, args, policy)
        k8s.helm.v3.Release(
            f"{name}-cluster-autoscaler",
            name="cluster-autoscaler",
            chart="cluster-autoscaler",
            version=args.cluster_autoscaler_chart_version,
            repository_opts={"repo": CLUSTER_AUTOSCALER_REPO},
            namespace=args.node_autoscaler_namespace,
            values=values,
            opts=child(self, provider=args.provider),
        )
        return policy.arn

    def _pod_identity(self, name: str, args: AutoscalingArgs, policy: aws.iam.Policy) -> None:
        role = aws.iam.Role(
            f"{name}-cluster-autoscaler-role",
            assume_role_policy=json.dumps(pod_identity_trust_policy()),
            description="cluster-autoscaler (EKS Pod Identity)",
            tags=dict(args.tags),
            opts=child(self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-cluster-autoscaler-attach", role=role.name, policy_arn=policy.arn, opts=child(self)
        )
        aws.eks.PodIdentityAssociation(
            f"{name}-cluster-autoscaler-pod-identity",
            cluster_name=args.cluster if args.cluster is not None else args.cluster_name,
            namespace=args.node_autoscaler_namespace,
            service_account=CLUSTER_AUTOSCALER_SA,
            role_arn=role.arn,
            tags=dict(args.tags),
            opts=child(self),
        )

    def _karpenter(self, name: str, args: AutoscalingArgs) -> None:
        deps: list[pulumi.Resource] = []
        if args.karpenter_chart_version:
            values = pulumi.Output.from_input(args.karpenter_role_arn).apply(
                lambda arn: args.releases.apply(
                    "karpenter",
                    args.karpenter_chart_version,
                    karpenter_values(
                        cluster_name=args.cluster_name,
                        interruption_queue=args.karpenter_interruption_queue or "",
                        role_arn=arn,
                    ),
                )
            )
            deps.append(
                k8s.helm.v3.Release(
                    f"{name}-karpenter",
                    name="karpenter",
                    chart=KARPENTER_CHART,
                    version=args.karpenter_chart_version,
                    namespace=args.node_autoscaler_namespace,
                    values=values,
                    opts=child(self, provider=args.provider),
                )
            )
        root = max((m.plan.root_volume_gib for m in args.models), default=100)
        node_class = pulumi.Output.from_input(args.karpenter_node_role).apply(
            lambda role: karpenter_node_class(
                name=KARPENTER_NODE_CLASS,
                cluster_name=args.cluster_name,
                node_role=str(role),
                ami_alias=args.karpenter_ami_alias or "",
                root_volume_gib=root,
            )
        )
        cls = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": KARPENTER_NODE_CLASS},
            spec=node_class.apply(lambda c: c["spec"]),
            opts=child(self, provider=args.provider, depends_on=deps),
        )
        for m in args.models:
            pool = karpenter_node_pool(
                m, node_class=KARPENTER_NODE_CLASS, node_labels=gpu_node_labels(m.alias, m.plan)
            )
            _custom(
                f"{name}-{m.alias}-node-pool", pool, child(self, provider=args.provider, depends_on=[cls])
            )


def _custom(
    name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """A CustomResource from a plain manifest (apiVersion, kind, metadata, spec)."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )
