"""PrometheusRule alerts per model, thresholds from the ServingPlan and the alias settings.

Every rule carries ``severity`` and ``alias`` labels and three annotations: ``summary``, ``runbook``
(the first thing to do, one line) and ``runbook_url`` (the section of serving/monitoring/README.md).
Each rule is exercised by ``promtool test rules`` in tests/unit/test_rules_promtool.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from serving.autoscaling.model import AutoscalingSettings, ModelScaling, thresholds
from serving.monitoring.catalog import vllm_metrics
from serving.monitoring.targets import pod_regex

Severity = Literal["warning", "critical"]
RUNBOOK_DOC = "serving/monitoring/README.md"
KV_CACHE_ALERT = 0.9
ERROR_RATIO_ALERT = 0.05
FALLBACK_RATIO_ALERT = 0.1


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """One alert. ``for_`` is a Prometheus duration (``10m``)."""

    alert: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    runbook: str
    """One line: what to check or do first."""

    def to_dict(self, alias: str) -> dict[str, Any]:
        """The rule as a PrometheusRule ``groups[].rules[]`` entry."""
        return {
            "alert": self.alert,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, "alias": alias},
            "annotations": {
                "summary": self.summary,
                "runbook": self.runbook,
                "runbook_url": f"{RUNBOOK_DOC}#{self.alert.lower()}",
            },
        }


def _minutes(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds / 60))}m"


def _engine_series(model: ModelScaling) -> tuple[str, str]:
    if model.plan.engine == "vllm":
        return "vllm:num_requests_waiting", "vllm:num_requests_running"
    return "tgi_queue_size", "tgi_batch_current_size"


def _queue_rule(model: ModelScaling, settings: AutoscalingSettings) -> AlertRule:
    waiting, running = _engine_series(model)
    sel = f'namespace="{model.namespace}",alias="{model.alias}"'
    per_replica = thresholds(model.plan, settings).waiting_per_replica
    expr = (
        (
            f"sum(vllm_waiting{{{sel}}}) / count(count by (pod) (vllm_running{{{sel}}})) > {per_replica}"
            f" and deriv(sum(vllm_waiting{{{sel}}})[10m:1m]) > 0"
        )
        .replace("vllm_waiting", waiting)
        .replace("vllm_running", running)
    )
    return AlertRule(
        alert="PaddockQueueGrowing",
        expr=expr,
        for_=_minutes(max(600.0, 1.5 * model.plan.load_time_seconds)),
        severity="warning",
        summary=f"{model.alias}: queue above {per_replica}/replica and growing longer than a scale-out takes",
        runbook="Check replicas vs replicas.max and pending GPU pods; raise replicas.max or add GPU quota.",
    )


def _kv_rule(model: ModelScaling) -> AlertRule | None:
    if model.plan.engine != "vllm":
        return None  # TGI exports no KV-cache usage metric
    kv = vllm_metrics(model.plan.engine_version).kv_cache_usage
    return AlertRule(
        alert="PaddockKvCacheHigh",
        expr=f'max by (pod) ({kv}{{namespace="{model.namespace}",alias="{model.alias}"}}) > {KV_CACHE_ALERT}',
        for_="10m",
        severity="warning",
        summary=f"{model.alias}: KV cache above {KV_CACHE_ALERT:.0%} on {{{{ $labels.pod }}}} for 10m",
        runbook="Expect preemptions; lower max_num_seqs/context or add replicas.",
    )


def _ttft_rule(model: ModelScaling, *, gateway: bool) -> AlertRule | None:
    if model.plan.engine == "vllm":
        sel = f'namespace="{model.namespace}",alias="{model.alias}"'
        series = f"vllm:time_to_first_token_seconds_bucket{{{sel}}}"
    elif gateway:
        series = (
            f'paddock_gateway_time_to_first_token_seconds_bucket{{alias="{model.alias}",upstream="primary"}}'
        )
    else:
        return None
    slo = f"{model.slo_ttft_seconds:g}"
    return AlertRule(
        alert="PaddockTtftSloBreached",
        expr=f"histogram_quantile(0.95, sum by (le) (rate({series}[5m]))) > {slo}",
        for_="10m",
        severity="warning",
        summary=f"{model.alias}: TTFT p95 above the {slo}s SLO for 10m",
        runbook="Look at queue depth and prompt lengths; scale out or lower max_num_batched_tokens.",
    )


def _no_ready_rule(model: ModelScaling) -> AlertRule:
    sel = f'namespace="{model.namespace}",deployment="{model.workload}"'
    hold = 120.0 if model.min_replicas >= 1 else 120.0 + 1.5 * model.plan.load_time_seconds
    return AlertRule(
        alert="PaddockNoReadyReplicas",
        expr=(
            f"kube_deployment_status_replicas_ready{{{sel}}} == 0"
            f" and kube_deployment_spec_replicas{{{sel}}} > 0"
        ),
        for_=_minutes(hold),
        severity="critical",
        summary=f"{model.alias}: replicas wanted but none ready (traffic spills to the fallback or fails)",
        runbook="kubectl describe the engine pods: Pending (GPU capacity), CrashLoop (logs) or slow load.",
    )


def _error_rule(model: ModelScaling, *, gateway: bool) -> AlertRule:
    if gateway:
        total = f'sum(rate(paddock_gateway_requests_total{{alias="{model.alias}"}}[5m]))'
        bad = f'sum(rate(paddock_gateway_requests_total{{alias="{model.alias}",status=~"5.."}}[5m]))'
    else:
        sel = f'namespace="{model.namespace}",alias="{model.alias}"'
        if model.plan.engine == "vllm":
            total = f"sum(rate(vllm:request_success_total{{{sel}}}[5m]))"
            bad = f'sum(rate(vllm:request_success_total{{{sel},finished_reason="abort"}}[5m]))'
        else:
            total = f"sum(rate(tgi_request_count{{{sel}}}[5m]))"
            bad = f"sum(rate(tgi_request_failure{{{sel}}}[5m]))"
    return AlertRule(
        alert="PaddockErrorRatioHigh",
        expr=f"{bad} / {total} > {ERROR_RATIO_ALERT}",
        for_="10m",
        severity="critical",
        summary=f"{model.alias}: more than {ERROR_RATIO_ALERT:.0%} of requests fail for 10m",
        runbook="Split by status/upstream on the gateway dashboard; check engine logs, Bedrock throttles.",
    )


def _fallback_rule(model: ModelScaling, *, gateway: bool) -> AlertRule | None:
    if not (gateway and model.has_fallback):
        return None
    a = f'alias="{model.alias}"'

    def ratio(window: str) -> str:
        return (
            f"(sum(rate(paddock_gateway_fallbacks_total{{{a}}}[{window}]))"
            f" / sum(rate(paddock_gateway_requests_total{{{a}}}[{window}])))"
        )

    wait = 600.0 if model.min_replicas >= 1 else max(600.0, 1.5 * model.plan.load_time_seconds)
    return AlertRule(
        alert="PaddockFallbackRateSpike",
        expr=f"{ratio('5m')} > {FALLBACK_RATIO_ALERT} and {ratio('5m')} > 2 * {ratio('1h')}",
        for_=_minutes(wait),
        severity="warning",
        summary=f"{model.alias}: over {FALLBACK_RATIO_ALERT:.0%} spill to Bedrock, 2x the hourly rate",
        runbook="Fallback reasons panel: connect_refused = no ready engine, timeouts = saturation.",
    )


def _restart_rule(model: ModelScaling) -> AlertRule:
    sel = f'namespace="{model.namespace}",pod=~"{pod_regex(model.workload)}"'
    return AlertRule(
        alert="PaddockModelPodRestarting",
        expr=f"increase(kube_pod_container_status_restarts_total{{{sel}}}[15m]) > 0",
        for_="1m",
        severity="warning",
        summary=f"{model.alias}: engine container {{{{ $labels.pod }}}} restarted",
        runbook="kubectl logs --previous: OOM (lower gpu-memory-utilization) or a probe killing a slow load.",
    )


def gpu_memory_alert_fraction(gpu_memory_utilization: float) -> float:
    """GPU memory fraction that is "near full" for an engine planned at ``gpu_memory_utilization``: half-way
    into the headroom the plan leaves (0.9 -> 0.95), at most 0.98. The engine preallocates its share, so a
    fixed 90 % threshold would fire on every healthy vLLM pod."""
    return round(min(0.98, gpu_memory_utilization + (1.0 - gpu_memory_utilization) / 2.0), 3)


def _gpu_rules(model: ModelScaling) -> list[AlertRule]:
    sel = f'namespace="{model.namespace}",pod=~"{pod_regex(model.workload)}"'
    gmu = model.plan.gpu_memory_utilization
    limit = gpu_memory_alert_fraction(gmu)
    return [
        AlertRule(
            alert="PaddockGpuXidError",
            expr=f"max by (Hostname, gpu, pod) (DCGM_FI_DEV_XID_ERRORS{{{sel}}}) > 0",
            for_="1m",
            severity="critical",
            summary=f"{model.alias}: GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} raised XID "
            "{{ $value }}",
            runbook="Look the XID up in NVIDIA's XID table; 48/63/64/74/79/94/95: drain, replace node.",
        ),
        AlertRule(
            alert="PaddockGpuMemoryNearFull",
            expr=(
                f"max by (Hostname, gpu, pod) (DCGM_FI_DEV_FB_USED{{{sel}}}"
                f" / (DCGM_FI_DEV_FB_USED{{{sel}}} + DCGM_FI_DEV_FB_FREE{{{sel}}})) > {limit:g}"
            ),
            for_="15m",
            severity="warning",
            summary=f"{model.alias}: GPU memory above {limit:.1%} (planned {gmu:.0%}) for 15m",
            runbook="Something outside the engine budget grows (CUDA graphs, NCCL, 2nd process).",
        ),
    ]


def model_rules(model: ModelScaling, settings: AutoscalingSettings, *, gateway: bool) -> list[AlertRule]:
    """All alerts for one model, in a stable order; rules that lack their signal are left out (no KV rule
    for TGI, no fallback rule for pinned aliases or without the gateway)."""
    candidates = [
        _queue_rule(model, settings),
        _kv_rule(model),
        _ttft_rule(model, gateway=gateway),
        _no_ready_rule(model),
        _error_rule(model, gateway=gateway),
        _fallback_rule(model, gateway=gateway),
        _restart_rule(model),
        *_gpu_rules(model),
    ]
    return [r for r in candidates if r is not None]


def prometheus_rule(
    model: ModelScaling, settings: AutoscalingSettings, *, gateway: bool, namespace: str = "monitoring"
) -> dict[str, Any]:
    """The ``monitoring.coreos.com/v1`` PrometheusRule holding one model's alerts."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"paddock-{model.alias}",
            "namespace": namespace,
            "labels": {"paddock.dev/alias": model.alias, "app.kubernetes.io/managed-by": "paddock"},
        },
        "spec": {"groups": [rule_group(model, settings, gateway=gateway)]},
    }


def rule_group(model: ModelScaling, settings: AutoscalingSettings, *, gateway: bool) -> dict[str, Any]:
    """One rule group (``paddock.<alias>``), as it appears in a Prometheus rule file."""
    return {
        "name": f"paddock.{model.alias}",
        "rules": [r.to_dict(model.alias) for r in model_rules(model, settings, gateway=gateway)],
    }
