"""Pod scaling manifests: a KEDA ScaledObject per model, or an autoscaling/v2 HPA when KEDA is off.

Triggers use the engine's own metrics (vLLM queue, running batch, KV cache; TGI queue and batch) with
thresholds from :func:`serving.autoscaling.model.thresholds`, plus the gateway's in-flight gauge, which is the
only signal that exists while a model has zero replicas (no engine pod = no engine metrics). See
serving/monitoring/README.md, "Scale from zero", for how the gateway's hold and spillover cover 0 -> 1.
"""

from __future__ import annotations

from typing import Any

from serving.autoscaling.model import (
    DEFAULT_PROMETHEUS_URL,
    AutoscalingSettings,
    ModelScaling,
    ScalingDelays,
    delays,
    thresholds,
)
from serving.errors import InputError
from serving.monitoring.catalog import vllm_metrics

#: Pod labels the model-server chart (serving/charts/model-server) puts on engine pods. The PodMonitor selects
#: on NAME_LABEL + ENGINE_LABEL and relabels ALIAS_LABEL into the series label ``alias``.
NAME_LABEL = "app.kubernetes.io/name"
ENGINE_POD_NAME = "model-server"
ALIAS_LABEL = "app.kubernetes.io/instance"
ENGINE_LABEL = "paddock.dev/engine"


def engine_pod_labels(alias: str, engine: str) -> dict[str, str]:
    """Labels every engine pod carries (the chart's selector labels plus the engine) so that monitors, rules
    and dashboards find it."""
    return {NAME_LABEL: ENGINE_POD_NAME, ALIAS_LABEL: alias, ENGINE_LABEL: engine}


def engine_pod_annotations() -> dict[str, str]:
    """Annotations for engine pods: no node autoscaler may evict a pod that is loading or serving.

    cluster-autoscaler skips nodes running a pod with ``safe-to-evict: "false"``; Karpenter never
    voluntarily disrupts (consolidation, drift, expiry) a node running a ``do-not-disrupt`` pod. A GPU node
    therefore goes away only after KEDA/HPA removed its engine pod, never under a live model."""
    return {
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
        "karpenter.sh/do-not-disrupt": "true",
    }


def _selector(model: ModelScaling) -> str:
    return f'namespace="{model.namespace}",alias="{model.alias}"'


def _trigger(name: str, query: str, threshold: float, url: str) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "name": name,
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": url,
            "query": query,
            "threshold": _num(threshold),
            "activationThreshold": "0",
            # an empty result (no engine pod yet, model at zero) reads as 0; a failed query (Prometheus
            # down) is an error and KEDA's fallback keeps the current replicas. No ``or vector(0)``: a broken
            # scrape shows as PaddockMetricsAbsent (serving/monitoring/health.py), not as a silent 0.
            "ignoreNullValues": "true",
        },
    }


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def engine_triggers(model: ModelScaling, settings: AutoscalingSettings, url: str) -> list[dict[str, Any]]:
    """The engine-metric triggers for one model (all AverageValue: the HPA divides the sum by replicas)."""
    t = thresholds(model.plan, settings)
    sel = _selector(model)
    if model.plan.engine == "vllm":
        kv = vllm_metrics(model.plan.engine_version).kv_cache_usage
        return [
            _trigger("queue", f"sum(vllm:num_requests_waiting{{{sel}}})", t.waiting_per_replica, url),
            _trigger("running", f"sum(vllm:num_requests_running{{{sel}}})", t.running_per_replica, url),
            _trigger("kv-cache", f"sum({kv}{{{sel}}})", t.kv_cache_usage, url),
        ]
    return [
        _trigger("queue", f"sum(tgi_queue_size{{{sel}}})", t.waiting_per_replica, url),
        _trigger("running", f"sum(tgi_batch_current_size{{{sel}}})", t.running_per_replica, url),
    ]


def gateway_trigger(model: ModelScaling, settings: AutoscalingSettings, url: str) -> dict[str, Any]:
    """In-flight requests at the gateway for this alias (held, primary or spilled to Bedrock). Active above 0,
    so one held request wakes a model at zero; its threshold is the running target per replica."""
    t = thresholds(model.plan, settings)
    query = f'sum(paddock_gateway_in_flight{{alias="{model.alias}"}})'
    return _trigger("gateway-in-flight", query, t.running_per_replica, url)


#: threshold of the activation-only trigger: high enough that it never asks for a second replica
ACTIVATION_ONLY_THRESHOLD = 1_000_000


def gateway_activation_trigger(model: ModelScaling, url: str) -> dict[str, Any]:
    """Requests the gateway finished for this alias in the last 2 minutes (any upstream), activation only.

    A request shorter than a scrape interval may never show in the in-flight gauge; the counter does. It also
    keeps a scaled-to-zero model's replica up while traffic is being spilled to Bedrock during its load."""
    query = f'sum(increase(paddock_gateway_requests_total{{alias="{model.alias}"}}[2m]))'
    return _trigger("gateway-requests", query, ACTIVATION_ONLY_THRESHOLD, url)


#: failed polls before KEDA's fallback takes over (x pollingInterval: 45 s at the default 15 s)
FALLBACK_FAILURE_THRESHOLD = 3


def initial_cooldown_seconds(model: ModelScaling, settings: AutoscalingSettings) -> int:
    """``initialCooldownPeriod`` (s): after the ScaledObject is created KEDA does not scale to zero before the
    first replica had its cold start (node, boot, image pull, load) plus one cooldown, so a fresh deploy is
    not torn down before anyone could send a request."""
    from serving.autoscaling.timeline import cold_start_timeline

    return int(cold_start_timeline(model, settings).total_seconds) + delays(model, settings).cooldown


def hpa_behavior(d: ScalingDelays) -> dict[str, Any]:
    """Scale up at most x2 (or +1) per load time; scale down one pod at a time after the window."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": d.scale_up_period},
                {"type": "Pods", "value": 1, "periodSeconds": d.scale_up_period},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": d.scale_down_window,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    }


def scale_target(model: ModelScaling) -> dict[str, str]:
    """What the autoscaler resizes: the chart's Deployment, or its LeaderWorkerSet (one group of
    ``nodes_per_replica`` pods per replica) when a replica spans several nodes."""
    if model.plan.nodes_per_replica > 1:
        return {
            "apiVersion": "leaderworkerset.x-k8s.io/v1",
            "kind": "LeaderWorkerSet",
            "name": model.workload,
        }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": model.workload}


def _metadata(model: ModelScaling) -> dict[str, Any]:
    return {
        "name": model.workload,
        "namespace": model.namespace,
        "labels": {"paddock.dev/alias": model.alias, "app.kubernetes.io/managed-by": "paddock"},
    }


def scaled_object(
    model: ModelScaling,
    settings: AutoscalingSettings,
    *,
    gateway: bool,
    prometheus_url: str = DEFAULT_PROMETHEUS_URL,
) -> dict[str, Any]:
    """The ``keda.sh/v1alpha1`` ScaledObject for one model.

    Raises InputError when ``min_replicas`` is 0 without the gateway: nothing would ever wake the model."""
    if model.min_replicas == 0 and not gateway:
        raise InputError(
            f"'{model.alias}' scales to zero (replicas.min 0) but the gateway is disabled: no signal "
            "exists at zero replicas to wake it; enable paddock:gateway or set replicas.min >= 1",
            field="paddock:models.replicas.min",
        )
    d = delays(model, settings)
    triggers = engine_triggers(model, settings, prometheus_url)
    if gateway:
        triggers.append(gateway_trigger(model, settings, prometheus_url))
    if model.min_replicas == 0:
        triggers.append(gateway_activation_trigger(model, prometheus_url))
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": _metadata(model),
        "spec": {
            "scaleTargetRef": scale_target(model),
            "pollingInterval": settings.polling_interval_seconds,
            "cooldownPeriod": d.cooldown,
            "minReplicaCount": model.min_replicas,
            "maxReplicaCount": model.max_replicas,
            # KEDA 2.17 fallback.behavior: after 3 failed polls keep max(current, replicas), never drop to 1
            # at peak because Prometheus is down (kedacore/keda #6659)
            "fallback": {
                "failureThreshold": FALLBACK_FAILURE_THRESHOLD,
                "replicas": max(1, model.min_replicas),
                "behavior": "currentReplicasIfHigher",
            },
            "initialCooldownPeriod": initial_cooldown_seconds(model, settings),
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": hpa_behavior(d)}},
            "triggers": triggers,
        },
    }


#: Engine gauges the HPA fallback reads, per engine, as (queue series, running series). prometheus-adapter
#: exposes each through the custom-metrics API under :func:`custom_metric_name`.
HPA_SERIES: dict[str, tuple[str, str]] = {
    "vllm": ("vllm:num_requests_waiting", "vllm:num_requests_running"),
    "tgi": ("tgi_queue_size", "tgi_batch_current_size"),
}


def custom_metric_name(series: str) -> str:
    """The custom-metrics API name of a Prometheus series (``vllm:num_requests_waiting`` ->
    ``vllm_num_requests_waiting``): the adapter rule renames it so the name is a plain path segment."""
    return series.replace(":", "_")


def _pods_metric(series: str, target: float) -> dict[str, Any]:
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": custom_metric_name(series)},
            "target": {"type": "AverageValue", "averageValue": _num(target)},
        },
    }


def hpa(model: ModelScaling, settings: AutoscalingSettings) -> dict[str, Any]:
    """The ``autoscaling/v2`` HorizontalPodAutoscaler used when KEDA is disabled.

    Reads per-pod engine metrics from the custom-metrics API (served by prometheus-adapter with the rules of
    :func:`adapter_rules`). An HPA cannot scale to zero: ``min_replicas`` 0 is an error."""
    if model.min_replicas < 1:
        raise InputError(
            f"'{model.alias}': replicas.min 0 (scale to zero) needs KEDA; set paddock:autoscaling.keda true "
            "or replicas.min >= 1",
            field="paddock:models.replicas.min",
        )
    t = thresholds(model.plan, settings)
    queue, running = HPA_SERIES[model.plan.engine]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(model),
        "spec": {
            "scaleTargetRef": scale_target(model),
            "minReplicas": model.min_replicas,
            "maxReplicas": model.max_replicas,
            "metrics": [
                _pods_metric(queue, t.waiting_per_replica),
                _pods_metric(running, t.running_per_replica),
            ],
            "behavior": hpa_behavior(delays(model, settings)),
        },
    }


def adapter_rules() -> list[dict[str, Any]]:
    """prometheus-adapter ``rules.custom``: one rule per series of :data:`HPA_SERIES`, per pod and namespace
    (the labels Prometheus adds to every PodMonitor target), named by :func:`custom_metric_name`."""
    return [
        {
            "seriesQuery": f'{series}{{namespace!="",pod!=""}}',
            "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
            "name": {"matches": f"^{series}$", "as": custom_metric_name(series)},
            "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        }
        for pair in HPA_SERIES.values()
        for series in pair
    ]
