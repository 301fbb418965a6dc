"""PrometheusRule alerts per model, thresholds from the ServingPlan and the alias settings.

Every rule carries ``severity``, ``alias`` and ``namespace`` labels and four annotations: ``summary``,
``description`` (what the expression judges, in words), ``runbook`` (the first thing to do, one line) and
``runbook_url`` (``<docsBaseUrl>#<alert>``: the alert's section of serving/monitoring/README.md, absolute when
``paddock:monitoring.alerts.docsBaseUrl`` is set). Health rules (scrapes down, metrics absent, the monitoring
itself) are in serving/monitoring/health.py. Each rule's firing and quiet cases run under ``promtool test
rules`` in tests/unit/test_rules_promtool*.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from serving.autoscaling.model import AutoscalingSettings, ModelScaling, thresholds
from serving.autoscaling.timeline import rollout_seconds
from serving.gateway.metrics import TTFT_BUCKETS as GATEWAY_TTFT_BUCKETS
from serving.monitoring.catalog import VLLM_TTFT_BUCKETS, vllm_metrics
from serving.monitoring.targets import lws_pod_regex, pod_regex

Severity = Literal["warning", "critical"]
RUNBOOK_DOC = "serving/monitoring/README.md"
KV_CACHE_ALERT = 0.9
ERROR_RATIO_ALERT = 0.05
FALLBACK_RATIO_ALERT = 0.1
CHRONIC_FALLBACK_RATIO = 0.25
"""Share of an alias's requests spilled to the fallback over 30 min that is chronic, not a cold start."""
TTFT_SLO_QUANTILE = 0.95
MIN_TTFT_REQUESTS_5M = 20
"""Fewer first tokens than this in 5 min: too few to judge a p95 (one slow request on an idle stack)."""
FATAL_XIDS = (48, 63, 64, 74, 79, 94, 95, 119, 120)
"""XIDs that mean the GPU/node needs a drain (NVIDIA XID catalog: double-bit ECC 48, row-remap 63/64,
NVLink 74, fallen off the bus 79, contained/uncontained ECC 94/95, GSP 119/120); application XIDs (13, 31, 43)
are not."""


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """One alert. ``for_`` is a Prometheus duration (``10m``)."""

    alert: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    """What the expression judges and why this ``for``, in words (shown by receivers)."""
    runbook: str
    """One line: what to check or do first."""
    per_model: bool = True
    """False for cluster-level rules: no ``alias`` label (inhibition mutes per-model alerts by ``alias``)."""

    def to_dict(self, alias: str, namespace: str, docs_base_url: str | None = None) -> dict[str, Any]:
        """The rule as a PrometheusRule ``groups[].rules[]`` entry."""
        labels: dict[str, str] = {"severity": self.severity, "namespace": namespace}
        if self.per_model:
            labels["alias"] = alias
        return {
            "alert": self.alert,
            "expr": self.expr,
            "for": self.for_,
            "labels": labels,
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook": self.runbook,
                "runbook_url": f"{docs_base_url or RUNBOOK_DOC}#{self.alert.lower()}",
            },
        }


def minutes(seconds: float) -> str:
    """A Prometheus duration in whole minutes, at least 1 (``seconds`` s)."""
    return f"{max(1, math.ceil(seconds / 60))}m"


def engine_series(model: ModelScaling) -> tuple[str, str]:
    """(queue gauge, running gauge) of the model's engine."""
    if model.plan.engine == "vllm":
        return "vllm:num_requests_waiting", "vllm:num_requests_running"
    return "tgi_queue_size", "tgi_batch_current_size"


def engine_selector(model: ModelScaling) -> str:
    """Matchers of the model's engine series (the PodMonitor relabels ``alias``)."""
    return f'namespace="{model.namespace}",alias="{model.alias}"'


def pod_selector(model: ModelScaling) -> str:
    """Matchers of the model's pods: a Deployment's, or a LeaderWorkerSet's leaders and workers."""
    regex = lws_pod_regex(model.workload) if model.plan.nodes_per_replica > 1 else pod_regex(model.workload)
    return f'namespace="{model.namespace}",pod=~"{regex}"'


def _queue_rule(model: ModelScaling, settings: AutoscalingSettings) -> AlertRule:
    waiting, running = engine_series(model)
    sel = engine_selector(model)
    per_replica = thresholds(model.plan, settings).waiting_per_replica
    hold = max(600.0, 1.5 * model.plan.load_time_seconds)
    per_pod = f"sum({waiting}{{{sel}}}) / count(count by (pod) ({running}{{{sel}}}))"
    return AlertRule(
        alert="PaddockQueueBackedUp",
        expr=f"avg_over_time(({per_pod})[10m:1m]) > {per_replica}",
        for_=minutes(hold),
        severity="warning",
        summary=f"{model.alias}: queue above {per_replica}/replica for longer than a scale-out takes",
        description=(
            f"The 10-minute average of waiting requests per replica stayed above the scale-out target "
            f"{per_replica} for {minutes(hold)} (1.5 x the {model.plan.load_time_seconds:.0f} s "
            "load time, at "
            f"least 10m): the autoscaler could not catch up (at replicas.max {model.max_replicas}, or new "
            "replicas stay Pending). Growing, flat or noisy, the average judges them alike."
        ),
        runbook="Check replicas vs replicas.max and pending GPU pods; raise replicas.max or add GPU quota.",
    )


def _kv_rule(model: ModelScaling) -> AlertRule | None:
    if model.plan.engine != "vllm":
        return None  # TGI exports no KV-cache usage metric
    kv = vllm_metrics(model.plan.engine_version).kv_cache_usage
    return AlertRule(
        alert="PaddockKvCacheHigh",
        expr=f"max by (pod) ({kv}{{{engine_selector(model)}}}) > {KV_CACHE_ALERT}",
        for_="10m",
        severity="warning",
        summary=f"{model.alias}: KV cache above {KV_CACHE_ALERT:.0%} on {{{{ $labels.pod }}}} for 10m",
        description=(
            f"One engine pod's KV cache stayed above {KV_CACHE_ALERT:.0%} for 10m: preemptions follow."
        ),
        runbook="Expect preemptions; lower max_num_seqs/context or add replicas.",
    )


def slo_bucket(slo_seconds: float, buckets: tuple[float, ...]) -> float:
    """The histogram bound the TTFT rule judges at: the smallest ``le`` >= the SLO (the largest if none).

    Requests under that bound count as within the SLO, so a stack whose every request is just under the SLO
    never fires (no interpolation); requests between the SLO and the bound are missed (a stated blind
    spot)."""
    return min((b for b in buckets if b >= slo_seconds), default=max(buckets))


def le_matcher(bound: float) -> str:
    """``le`` regex matching ``bound`` as prometheus_client writes it (``2.0``) and as Prometheus 3 may
    normalise it (``2``): ``2(\\\\.0+)?``, ``2\\\\.5``."""
    text = f"{bound:g}"
    return text.replace(".", "\\\\.") if "." in text else f"{text}(\\\\.0+)?"


def _ttft_rule(model: ModelScaling, *, gateway: bool) -> AlertRule | None:
    buckets: tuple[float, ...]
    if model.plan.engine == "vllm":
        series, labels, buckets = (
            "vllm:time_to_first_token_seconds_bucket",
            engine_selector(model),
            VLLM_TTFT_BUCKETS,
        )
    elif gateway:
        series, labels = (
            "paddock_gateway_time_to_first_token_seconds_bucket",
            f'alias="{model.alias}",upstream="primary"',
        )
        buckets = GATEWAY_TTFT_BUCKETS
    else:
        return None
    slo = model.slo_ttft_seconds
    bound = slo_bucket(slo, buckets)
    fast = f'sum(rate({series}{{{labels},le=~"{le_matcher(bound)}"}}[5m]))'
    total = f'sum(rate({series}{{{labels},le="+Inf"}}[5m]))'
    over = round(1 - TTFT_SLO_QUANTILE, 3)
    return AlertRule(
        alert="PaddockTtftSloBreached",
        expr=f"(1 - {fast} / {total}) > {over:g} and {total} * 300 >= {MIN_TTFT_REQUESTS_5M}",
        for_="10m",
        severity="warning",
        summary=(
            f"{model.alias}: over {over:.0%} of first tokens slower than {bound:g}s (SLO {slo:g}s) for 10m"
        ),
        description=(
            f"Share of requests whose first token took longer than the {bound:g} s histogram bound "
            "(the first at or "
            f"above the {slo:g} s p{TTFT_SLO_QUANTILE * 100:.0f} SLO) stayed above {over:.0%} for "
            "10m, with at "
            f"least {MIN_TTFT_REQUESTS_5M} requests per 5 minutes (no judgement on a trickle)."
        ),
        runbook="Look at queue depth and prompt lengths; scale out or lower max_num_batched_tokens.",
    )


def _no_ready_rule(model: ModelScaling) -> AlertRule:
    sel = pod_selector(model)
    hold = rollout_seconds(model.plan.load_time_seconds)
    return AlertRule(
        alert="PaddockNoReadyReplicas",
        expr=(
            f"count(kube_pod_info{{{sel}}}) unless on() "
            f'(sum(kube_pod_status_ready{{{sel},condition="true"}}) > 0)'
        ),
        for_=minutes(hold),
        severity="critical",
        summary=(
            f"{model.alias}: engine pods exist but none is ready (traffic spills to the fallback or fails)"
        ),
        description=(
            f"Pods of {model.workload} (Deployment or LeaderWorkerSet) exist but none was Ready for "
            f"{minutes(hold)}: longer than a new node plus the {model.plan.load_time_seconds:.0f} s "
            "load time "
            "(+25 %), so a planned rollout or a cold start does not page. Scaled to zero = no pod = quiet."
        ),
        runbook="kubectl describe the engine pods: Pending (GPU capacity), CrashLoop (logs) or slow load.",
    )


def _error_rule(model: ModelScaling, *, gateway: bool) -> AlertRule:
    if gateway:
        a = f'alias="{model.alias}"'
        total = f"sum(rate(paddock_gateway_requests_total{{{a}}}[5m]))"
        bad = f'sum(rate(paddock_gateway_requests_total{{{a},status=~"5.."}}[5m]))'
    else:
        sel = engine_selector(model)
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
        description=(
            f"5xx (gateway) or aborted (engine) requests above {ERROR_RATIO_ALERT:.0%} of all for 10m."
        ),
        runbook="Split by status/upstream on the gateway dashboard; check engine logs, Bedrock throttles.",
    )


def _fallback_ratio(alias: str, window: str) -> str:
    a = f'alias="{alias}"'
    return (
        f"(sum(rate(paddock_gateway_fallbacks_total{{{a}}}[{window}]))"
        f" / sum(rate(paddock_gateway_requests_total{{{a}}}[{window}])))"
    )


def _fallback_rules(model: ModelScaling, *, gateway: bool) -> list[AlertRule]:
    if not (gateway and model.has_fallback):
        return []
    wait = 600.0 if model.min_replicas >= 1 else max(600.0, 1.5 * model.plan.load_time_seconds)
    r5, r1h, r30 = (_fallback_ratio(model.alias, w) for w in ("5m", "1h", "30m"))
    return [
        AlertRule(
            alert="PaddockFallbackRateSpike",
            expr=f"{r5} > {FALLBACK_RATIO_ALERT} and {r5} > 2 * {r1h}",
            for_=minutes(wait),
            severity="warning",
            summary=f"{model.alias}: over {FALLBACK_RATIO_ALERT:.0%} spill to Bedrock, 2x the hourly rate",
            description="A sudden spill: the 5-minute share sent to the fallback is above "
            f"{FALLBACK_RATIO_ALERT:.0%} and twice the hourly share, for {minutes(wait)}.",
            runbook="Fallback reasons panel: connect_refused = no ready engine, timeouts = saturation.",
        ),
        AlertRule(
            alert="PaddockFallbackChronic",
            expr=f"{r30} > {CHRONIC_FALLBACK_RATIO}",
            for_="30m",
            severity="warning",
            summary=(
                f"{model.alias}: over {CHRONIC_FALLBACK_RATIO:.0%} of requests spilled to Bedrock for an hour"
            ),
            description=(
                f"The 30-minute share sent to the fallback stayed above {CHRONIC_FALLBACK_RATIO:.0%} for 30m "
                "(a cold start spills for minutes, not an hour); stays firing while 100 % spills."
            ),
            runbook="The engine is under-provisioned or down: raise replicas.max/min, check NoReadyReplicas.",
        ),
    ]


def _restart_rule(model: ModelScaling) -> AlertRule:
    return AlertRule(
        alert="PaddockModelPodRestarting",
        expr=f"increase(kube_pod_container_status_restarts_total{{{pod_selector(model)}}}[15m]) > 0",
        for_="1m",
        severity="warning",
        summary=f"{model.alias}: engine container {{{{ $labels.pod }}}} restarted",
        description="A container of an engine pod restarted in the last 15 minutes.",
        runbook="kubectl logs --previous: OOM (lower gpu-memory-utilization) or a probe killing a slow load.",
    )


def gpu_memory_alert_fraction(gpu_memory_utilization: float) -> float:
    """GPU memory fraction that is "near full" for an engine planned at ``gpu_memory_utilization``: half-way
    into the headroom the plan leaves (0.9 -> 0.95), at most 0.98. The engine preallocates its share, so a
    fixed 90 % threshold would fire on every healthy vLLM pod."""
    return round(min(0.98, gpu_memory_utilization + (1.0 - gpu_memory_utilization) / 2.0), 3)


def _gpu_rules(model: ModelScaling) -> list[AlertRule]:
    sel = pod_selector(model)
    xid = f"DCGM_FI_DEV_XID_ERRORS{{{sel}}}"
    fatal = " or ".join(f"{xid} == {x}" for x in FATAL_XIDS)
    gmu = model.plan.gpu_memory_utilization
    limit = gpu_memory_alert_fraction(gmu)
    return [
        AlertRule(
            alert="PaddockGpuXidError",
            expr=f"max by (Hostname, gpu, pod) (({fatal}) and changes({xid}[15m]) > 0)",
            for_="0m",
            severity="critical",
            summary=f"{model.alias}: GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} raised XID "
            "{{ $value }}",
            description=(
                "DCGM's XID gauge changed in the last 15 minutes to a fatal XID "
                f"({', '.join(map(str, FATAL_XIDS))}); the gauge holds the last XID forever, so "
                "only a change "
                "pages, for 15 minutes, and application XIDs (13, 31, 43) never do."
            ),
            runbook="Look the XID up in NVIDIA's XID table; cordon and drain the node, replace it.",
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
            description=(
                f"Framebuffer use above {limit:.1%}, past the {gmu:.0%} the engine preallocates, for 15m."
            ),
            runbook="Something outside the engine budget grows (CUDA graphs, NCCL, 2nd process).",
        ),
    ]


def model_rules(model: ModelScaling, settings: AutoscalingSettings, *, gateway: bool) -> list[AlertRule]:
    """All alerts for one model, in a stable order; rules that lack their signal are left out (no KV rule
    for TGI, no fallback rules for pinned aliases or without the gateway)."""
    from serving.monitoring.health import model_health_rules

    candidates = [
        _queue_rule(model, settings),
        _kv_rule(model),
        _ttft_rule(model, gateway=gateway),
        _no_ready_rule(model),
        _error_rule(model, gateway=gateway),
        *_fallback_rules(model, gateway=gateway),
        _restart_rule(model),
        *_gpu_rules(model),
        *model_health_rules(model),
    ]
    return [r for r in candidates if r is not None]


def prometheus_rule(
    model: ModelScaling,
    settings: AutoscalingSettings,
    *,
    gateway: bool,
    namespace: str = "monitoring",
    docs_base_url: str | None = None,
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
        "spec": {"groups": [rule_group(model, settings, gateway=gateway, docs_base_url=docs_base_url)]},
    }


def rule_group(
    model: ModelScaling, settings: AutoscalingSettings, *, gateway: bool, docs_base_url: str | None = None
) -> dict[str, Any]:
    """One rule group (``paddock.<alias>``), as it appears in a Prometheus rule file."""
    return {
        "name": f"paddock.{model.alias}",
        "rules": [
            r.to_dict(model.alias, model.namespace, docs_base_url)
            for r in model_rules(model, settings, gateway=gateway)
        ],
    }
