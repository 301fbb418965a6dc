"""prometheus-adapter for the HPA fallback (``paddock:autoscaling.keda: false``).

Without KEDA nothing serves the custom-metrics API, so the per-model HPAs (:func:`serving.autoscaling.hpa`)
would never get a metric. prometheus-adapter serves it from the in-cluster Prometheus with exactly the
rules of :func:`serving.autoscaling.adapter_rules`. Values come from
``helm_values/prometheus_adapter.yaml.j2`` through :func:`serving.values.render_values` (leaf substitution,
StrictUndefined, no unused context).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from serving.autoscaling.pods import adapter_rules
from serving.errors import InputError
from serving.values import render_values

TEMPLATE = "prometheus_adapter.yaml.j2"
#: Helm repository of the chart (version pinned in ``paddock:versions.prometheusAdapterChart``).
PROMETHEUS_ADAPTER_REPO = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_ADAPTER_CHART = "prometheus-adapter"
#: Series relist interval: new engine pods are visible to the HPA within this time (engine scrape: 15 s).
RELIST_INTERVAL = "30s"


def split_prometheus_url(url: str) -> tuple[str, int, str]:
    """``http://prometheus-operated.monitoring.svc:9090`` -> (``http://prometheus-operated.monitoring.svc``,
    9090, ``""``): the chart joins ``url:port path``. InputError (field ``prometheus_url``) for a URL without
    http(s) scheme or host; the port defaults to 80/443."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.query:
        raise InputError(
            f"'{url}' is not an http(s)://host[:port][/path] Prometheus URL", field="prometheus_url"
        )
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{parts.hostname}", port or default, parts.path.rstrip("/")


def prometheus_adapter_values(*, prometheus_url: str, replicas: int = 2) -> dict[str, Any]:
    """Values for the prometheus-adapter chart: our engine rules only, reading ``prometheus_url``."""
    base, port, path = split_prometheus_url(prometheus_url)
    return render_values(
        TEMPLATE,
        {
            "prometheus_base_url": base,
            "prometheus_port": port,
            "prometheus_path": path,
            "replicas": replicas,
            "relist_interval": RELIST_INTERVAL,
            "custom_rules": adapter_rules(),
        },
    )
