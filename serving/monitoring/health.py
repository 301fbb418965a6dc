"""Health rules: the signals the other rules and the autoscaler read must exist.

KEDA reads an empty engine query as 0 (``ignoreNullValues``) and the rules of serving/monitoring/rules.py see
nothing on an absent series, so a broken scrape would look like an idle model. These rules say so instead:
a model's engine target down, its ready pods exporting no metrics, and (cluster level, one group) the
kube-state-metrics scrape the readiness rules depend on. ``PaddockMonitoringDegraded`` also mutes per-model
alerts through Alertmanager inhibition (serving/monitoring/alerting.py).
"""

from __future__ import annotations

from typing import Any

from serving.autoscaling.model import ModelScaling
from serving.monitoring.rules import AlertRule, engine_selector, engine_series, pod_selector

KSM_JOB = "kube-state-metrics"
"""``job`` label of the kube-state-metrics scrape in kube-prometheus-stack (its ServiceMonitor)."""


def model_health_rules(model: ModelScaling) -> list[AlertRule]:
    """Scrape-target-down and metrics-absent rules of one model."""
    pods = pod_selector(model)
    waiting, _ = engine_series(model)
    return [
        AlertRule(
            alert="PaddockScrapeTargetDown",
            expr=f"up{{{pods}}} == 0",
            for_="5m",
            severity="warning",
            summary=f"{model.alias}: Prometheus cannot scrape engine pod {{{{ $labels.pod }}}}",
            description="An engine pod's metrics endpoint failed every scrape for 5m: its queue and KV "
            "cache are invisible to the autoscaler and to the alerts.",
            runbook="curl the pod's /metrics port; check the PodMonitor port name and NetworkPolicy.",
        ),
        AlertRule(
            alert="PaddockMetricsAbsent",
            expr=(
                f'(sum(kube_pod_status_ready{{{pods},condition="true"}}) > 0)'
                f" unless on() count({waiting}{{{engine_selector(model)}}})"
            ),
            for_="10m",
            severity="warning",
            summary=f"{model.alias}: ready engine pods but no {waiting} series",
            description="Engine pods are Ready but Prometheus holds none of their queue series for 10m "
            "(target missing, relabelling lost the alias label): KEDA reads 0 and may scale the model down.",
            runbook="Prometheus /targets: is the engine PodMonitor there and its alias relabel intact?",
        ),
    ]


def cluster_rules() -> list[AlertRule]:
    """Cluster-level rules (no ``alias``): the monitoring itself."""
    return [
        AlertRule(
            alert="PaddockMonitoringDegraded",
            expr=f'up{{job="{KSM_JOB}"}} == 0 or absent(up{{job="{KSM_JOB}"}})',
            for_="5m",
            severity="warning",
            summary="kube-state-metrics is not scraped: readiness and restart alerts are blind",
            description="The kube-state-metrics target is down or gone for 5m; per-model alerts are muted "
            "(inhibition) until it is back, since their signals are unreliable.",
            runbook="kubectl -n monitoring get pods: kube-state-metrics; Prometheus /targets.",
            per_model=False,
        )
    ]


def cluster_prometheus_rule(
    namespace: str = "monitoring", docs_base_url: str | None = None
) -> dict[str, Any]:
    """The ``paddock-cluster`` PrometheusRule (one per stack)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "paddock-cluster",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "paddock"},
        },
        "spec": {"groups": [cluster_group(namespace, docs_base_url)]},
    }


def cluster_group(namespace: str = "monitoring", docs_base_url: str | None = None) -> dict[str, Any]:
    """The ``paddock.cluster`` rule group."""
    return {
        "name": "paddock.cluster",
        "rules": [r.to_dict("", namespace, docs_base_url) for r in cluster_rules()],
    }
