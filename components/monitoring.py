"""Monitoring: kube-prometheus-stack, scrape targets for engines/gateway/DCGM, alert rules and dashboards.

kube-prometheus-stack is referenced by repository URL and the version pinned in ``paddock:versions``; the
PodMonitors, ServiceMonitors, PrometheusRules (one per model, on by default) and Grafana dashboards
(ConfigMaps labelled ``grafana_dashboard: "1"``) come from serving/monitoring (pure). The DCGM exporter itself
is deployed by GpuPlumbing; its ServiceMonitor is created here, after the CRDs exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components._common import PKG, child, raise_problems, system_release_args
from serving.autoscaling import AutoscalingSettings, ModelScaling, validate_models
from serving.chart_overrides import ReleasePolicy
from serving.monitoring.alerting import ALERTMANAGER_SERVICE_ACCOUNT, sns_publish_policy
from serving.monitoring.dashboards import dashboards
from serving.monitoring.health import cluster_prometheus_rule
from serving.monitoring.rules import prometheus_rule
from serving.monitoring.targets import ScrapeTargets, monitors
from serving.monitoring.values import MonitoringSettings, kube_prometheus_stack_values
from serving.residency.iam import pod_identity_trust_policy

KPS_REPO = "https://prometheus-community.github.io/helm-charts"
_VERSION = re.compile(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Arguments of :class:`Monitoring`."""

    models: tuple[ModelScaling, ...]
    settings: MonitoringSettings
    autoscaling: AutoscalingSettings
    """For the scaling targets shown on dashboards."""
    provider: k8s.Provider
    kube_prometheus_stack_version: str
    """kube-prometheus-stack chart version (paddock:versions.kubePrometheusStackChart)."""
    gateway: bool
    """The gateway runs: scrape it, ship its dashboard, use its metrics in rules."""
    namespace: str = "monitoring"
    targets: ScrapeTargets = field(default_factory=ScrapeTargets)
    dcgm_service_monitor: bool = True
    """Create the DCGM ServiceMonitor here (keep GpuPlumbingArgs.service_monitor False: no duplicate)."""
    after: Sequence[pulumi.Resource] = ()
    """What kube-prometheus-stack waits for: the system nodes and the storage Prometheus writes to (EBS CSI
    driver add-on + gp3 StorageClass, from the Cluster component)."""
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """System-node placement and image routes of kube-prometheus-stack (serving/chart_overrides.py)."""
    cluster_name: pulumi.Input[str] | None = None
    """EKS cluster of the Pod Identity association of Alertmanager's SNS role (``alerting.sns``)."""
    region: str = ""
    """AWS region of the SNS topic (``alerting.sns``)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as ``(path, reason)``; checked before any child exists."""
        found = [_split(p) for p in validate_models(self.models)]
        if not self.settings.enabled:
            found.append(
                ("settings.enabled", "is false: do not create Monitoring (paddock:monitoring.enabled)")
            )
        if not _VERSION.fullmatch(self.kube_prometheus_stack_version):
            found.append(
                (
                    "kube_prometheus_stack_version",
                    f"{self.kube_prometheus_stack_version!r} is not a chart version",
                )
            )
        if (
            self.settings.alerts
            and self.settings.alerting.sns
            and (self.cluster_name is None or not self.region)
        ):
            found.append(
                ("cluster_name", "alerting.sns needs the cluster name and region (Pod Identity, sigv4)")
            )
        return found


def _split(problem: str) -> tuple[str, str]:
    path, _, reason = problem.partition(": ")
    return path, reason


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Grafana, Alertmanager and Paddock's monitors, rules and dashboards (token
    ``paddock:monitoring:Monitoring``). Outputs: ``rules`` and ``dashboards`` (object names),
    ``prometheus_url``."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Monitoring", args.problems())
        super().__init__(f"{PKG}:monitoring:Monitoring", name, None, opts)
        ns = args.namespace
        self.alerts_topic_arn: pulumi.Output[str] | None = None
        """ARN of the SNS topic Alertmanager publishes to (``alerting.sns``); subscribe pagers/email to it."""
        after_sns: list[pulumi.Resource] = []
        if args.settings.alerts and args.settings.alerting.sns:
            self.alerts_topic_arn, after_sns = self._sns(name, args)

        def values(topic_arn: str | None) -> dict[str, Any]:
            return args.releases.apply(
                "kube-prometheus-stack",
                args.kube_prometheus_stack_version,
                kube_prometheus_stack_values(args.settings, sns_topic_arn=topic_arn, region=args.region),
            )

        kps = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            name="kube-prometheus-stack",
            chart="kube-prometheus-stack",
            version=args.kube_prometheus_stack_version,
            repository_opts={"repo": KPS_REPO},
            namespace=ns,
            create_namespace=True,
            values=values(None) if self.alerts_topic_arn is None else self.alerts_topic_arn.apply(values),
            **system_release_args(),
            opts=child(self, provider=args.provider, depends_on=[*args.after, *after_sns]),
        )
        self.release: k8s.helm.v3.Release = kps
        """kube-prometheus-stack: brings the prometheus-operator CRDs (ServiceMonitor, PrometheusRule...)."""
        after = child(self, provider=args.provider, depends_on=[kps])
        engines = {m.plan.engine for m in args.models}
        for manifest in monitors(engines, args.targets, namespace=ns, gateway=args.gateway):
            if manifest["metadata"]["name"] == "paddock-dcgm" and not args.dcgm_service_monitor:
                continue
            _custom(f"{name}-{manifest['metadata']['name']}", manifest, after)
        self.rules: list[str] = []
        if args.settings.alerts:
            docs = args.settings.alerting.docs_base_url
            cluster = cluster_prometheus_rule(ns, docs)
            _custom(f"{name}-cluster-rules", cluster, after)
            self.rules.append(cluster["metadata"]["name"])
            for m in args.models:
                rule = prometheus_rule(
                    m, args.autoscaling, gateway=args.gateway, namespace=ns, docs_base_url=docs
                )
                _custom(f"{name}-{m.alias}-rules", rule, after)
                self.rules.append(rule["metadata"]["name"])
        self.dashboards: list[str] = []
        if args.settings.grafana:
            for file_name, board in dashboards(args.models, args.autoscaling, gateway=args.gateway).items():
                cm_name = file_name.removesuffix(".json")
                k8s.core.v1.ConfigMap(
                    f"{name}-{cm_name}-dashboard",
                    metadata={
                        "name": f"{cm_name}-dashboard",
                        "namespace": ns,
                        "labels": {"grafana_dashboard": "1"},
                    },
                    data={file_name: json.dumps(board, sort_keys=True)},
                    opts=after,
                )
                self.dashboards.append(file_name)
        self.prometheus_url = f"http://prometheus-operated.{ns}.svc:9090"
        self.register_outputs(
            {
                "rules": self.rules,
                "dashboards": self.dashboards,
                "prometheus_url": self.prometheus_url,
                "alerts_topic_arn": self.alerts_topic_arn,
            }
        )

    def _sns(self, name: str, args: MonitoringArgs) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """SNS topic + a role Alertmanager assumes through EKS Pod Identity, allowed to publish to it only."""
        import pulumi_aws as aws

        topic = aws.sns.Topic(f"{name}-alerts", tags=dict(args.tags), opts=child(self))
        role = aws.iam.Role(
            f"{name}-alertmanager-role",
            assume_role_policy=json.dumps(pod_identity_trust_policy()),
            description="Paddock Alertmanager: sns:Publish to the stack's alert topic",
            tags=dict(args.tags),
            opts=child(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-alertmanager-publish",
            role=role.id,
            policy=topic.arn.apply(lambda arn: json.dumps(sns_publish_policy(arn))),
            opts=child(self),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{name}-alertmanager-pod-identity",
            cluster_name=args.cluster_name or "",
            namespace=args.namespace,
            service_account=ALERTMANAGER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=dict(args.tags),
            opts=child(self),
        )
        return topic.arn, [policy, association]


def _custom(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
    k8s.apiextensions.CustomResource(
        name,
        api_version=str(manifest["apiVersion"]),
        kind=str(manifest["kind"]),
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )
