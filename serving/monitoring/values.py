"""Helm values for kube-prometheus-stack from ``helm_values/kube_prometheus_stack.yaml.j2``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serving.autoscaling.values import render_template
from serving.monitoring.alerting import alertmanager_config, secret_names
from serving.stack_config_models import AlertsConfig


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    """``paddock:monitoring`` (stack config)."""

    enabled: bool = True
    grafana: bool = True
    alerts: bool = True
    """Ship the PrometheusRules and run Alertmanager (on by default)."""
    retention: str = "15d"
    """Prometheus TSDB retention."""
    storage_gib: int = 50
    """Prometheus volume (GiB, gp3): engine + node metrics for ``retention``; the TSDB is capped at 90 %."""
    storage_class: str = "gp3"
    """StorageClass of the volume (created with the EBS CSI driver by components/cluster.py)."""
    scrape_interval: str = "15s"
    alerting: AlertsConfig = field(default_factory=AlertsConfig)
    """``paddock:monitoring.alerts``: receivers, heartbeat, docs base URL (serving/monitoring/alerting.py)."""


def kube_prometheus_stack_values(
    settings: MonitoringSettings, *, sns_topic_arn: str | None = None, region: str = ""
) -> dict[str, Any]:
    """Values for the kube-prometheus-stack chart; with alerts on, Alertmanager's routes and receivers
    (``sns_topic_arn``: the topic Monitoring created when ``alerting.sns``, in ``region``)."""
    values = render_template(
        "kube_prometheus_stack.yaml.j2",
        retention=settings.retention,
        retention_size=f"{int(settings.storage_gib * 0.9)}GB",
        storage_class=settings.storage_class,
        storage_size=f"{settings.storage_gib}Gi",
        scrape_interval=settings.scrape_interval,
        alerts=settings.alerts,
        grafana=settings.grafana,
    )
    if settings.alerts:
        am = values["alertmanager"]
        am["config"] = alertmanager_config(settings.alerting, sns_topic_arn=sns_topic_arn, region=region)
        am["alertmanagerSpec"]["secrets"] = secret_names(settings.alerting)
    return values
