"""Helm values for kube-prometheus-stack from ``helm_values/kube_prometheus_stack.yaml.j2``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serving.autoscaling.values import render_template


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


def kube_prometheus_stack_values(settings: MonitoringSettings) -> dict[str, Any]:
    """Values for the kube-prometheus-stack chart."""
    return render_template(
        "kube_prometheus_stack.yaml.j2",
        retention=settings.retention,
        retention_size=f"{int(settings.storage_gib * 0.9)}GB",
        storage_class=settings.storage_class,
        storage_size=f"{settings.storage_gib}Gi",
        scrape_interval=settings.scrape_interval,
        alerts=settings.alerts,
        grafana=settings.grafana,
    )
