"""Scrape targets: PodMonitors for the engines, ServiceMonitors for the gateway and the DCGM exporter.

Engine pods carry :func:`serving.autoscaling.pods.engine_pod_labels`; the PodMonitor copies the pod label
``app.kubernetes.io/instance`` (the alias) into the series label ``alias``, which every rule, trigger and
dashboard filters on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from serving.autoscaling.pods import ALIAS_LABEL, ENGINE_LABEL, ENGINE_POD_NAME, NAME_LABEL

EngineKind = Literal["vllm", "tgi"]


def pod_regex(workload: str) -> str:
    """Regex (anchored by Prometheus) matching the pods of Deployment ``workload`` and no other:
    ``llama-8b-7d9f8c-x2k4p`` matches ``llama-8b`` but not ``llama-8b-eu``'s pods."""
    return f"{workload}-[a-z0-9]+-[a-z0-9]+"


def lws_pod_regex(workload: str) -> str:
    """Regex matching the leader (``<lws>-<group>``) and worker (``<lws>-<group>-<index>``) pods of
    LeaderWorkerSet ``workload`` and no other:
    ``llama-405b-0``, ``llama-405b-0-1``, not ``llama-405b-eu-0``."""
    return f"{workload}-[0-9]+(-[0-9]+)?"


def _meta_label(pod_label: str) -> str:
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in pod_label)


@dataclass(frozen=True, kw_only=True)
class ScrapeTargets:
    """Where the things we scrape live. Defaults follow the platform's charts."""

    serving_namespace: str = "serving"
    vllm_port: str = "http"
    """Container port NAME of vLLM's OpenAI server (serves /metrics)."""
    tgi_port: str = "http"
    """Container port NAME serving TGI's /metrics (the router's HTTP port)."""
    gateway_namespace: str = "serving"
    gateway_selector: tuple[tuple[str, str], ...] = (("app.kubernetes.io/name", "paddock-gateway"),)
    gateway_port: str = "http"
    dcgm_namespace: str = "kube-system"
    dcgm_selector: tuple[tuple[str, str], ...] = (("app.kubernetes.io/name", "dcgm-exporter"),)
    dcgm_port: str = "metrics"
    interval: str = "15s"


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "paddock"}}


def engine_pod_monitor(engine: EngineKind, targets: ScrapeTargets, *, namespace: str) -> dict[str, Any]:
    """PodMonitor scraping every engine pod of one kind; adds the ``alias`` label from the pod label."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _meta(f"paddock-{engine}", namespace),
        "spec": {
            "namespaceSelector": {"matchNames": [targets.serving_namespace]},
            "selector": {"matchLabels": {NAME_LABEL: ENGINE_POD_NAME, ENGINE_LABEL: engine}},
            "podMetricsEndpoints": [
                {
                    "port": targets.vllm_port if engine == "vllm" else targets.tgi_port,
                    "path": "/metrics",
                    "interval": targets.interval,
                    "relabelings": [
                        {"sourceLabels": [_meta_label(ALIAS_LABEL)], "targetLabel": "alias"},
                    ],
                }
            ],
        },
    }


def _service_monitor(
    name: str,
    namespace: str,
    target_ns: str,
    selector: tuple[tuple[str, str], ...],
    port: str,
    interval: str,
    *,
    honor_labels: bool,
) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(name, namespace),
        "spec": {
            "namespaceSelector": {"matchNames": [target_ns]},
            "selector": {"matchLabels": dict(selector)},
            "endpoints": [
                {"port": port, "path": "/metrics", "interval": interval, "honorLabels": honor_labels}
            ],
        },
    }


def gateway_service_monitor(targets: ScrapeTargets, *, namespace: str) -> dict[str, Any]:
    """ServiceMonitor for the gateway (its series already carry ``alias``)."""
    return _service_monitor(
        "paddock-gateway",
        namespace,
        targets.gateway_namespace,
        targets.gateway_selector,
        targets.gateway_port,
        targets.interval,
        honor_labels=False,
    )


def dcgm_service_monitor(targets: ScrapeTargets, *, namespace: str) -> dict[str, Any]:
    """ServiceMonitor for the DCGM exporter the platform deploys. ``honorLabels`` keeps the exporter's
    ``namespace``/``pod`` labels (the GPU's consumer) instead of the exporter's own."""
    return _service_monitor(
        "paddock-dcgm",
        namespace,
        targets.dcgm_namespace,
        targets.dcgm_selector,
        targets.dcgm_port,
        targets.interval,
        honor_labels=True,
    )


def monitors(
    engines: set[EngineKind], targets: ScrapeTargets, *, namespace: str, gateway: bool
) -> list[dict[str, Any]]:
    """Every monitor the stack needs, in a stable order."""
    out = [engine_pod_monitor(e, targets, namespace=namespace) for e in sorted(engines)]
    if gateway:
        out.append(gateway_service_monitor(targets, namespace=namespace))
    out.append(dcgm_service_monitor(targets, namespace=namespace))
    return out
