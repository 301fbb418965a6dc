"""The metric catalog: every metric name a dashboard panel, alert rule or ScaledObject may query.

Each entry names the component that exports it (vLLM, TGI, DCGM exporter, kube-state-metrics, Prometheus, or
our gateway), its type and labels, and the source where the name was checked (with the date it was read).
Tests parse every dashboard query and rule expression and fail when one names a metric that is not here, so a
renamed engine metric surfaces as a red test instead of an empty panel.

Version notes (vLLM):
- ``vllm:gpu_cache_usage_perc`` was deprecated in 0.10 for ``vllm:kv_cache_usage_perc``, hidden in 0.11
  and removed in 0.12 (vllm-project/vllm#18354, #29330). Both are exported by 0.10.x.
- ``vllm:time_per_output_token_seconds`` was deprecated in 0.11 (now ``vllm:inter_token_latency_seconds``),
  hidden in 0.12 and removed in 0.13 (vllm-project/vllm#32661).
:func:`vllm_metrics` picks the right name for an engine version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from serving.errors import InputError

Exporter = Literal["vllm", "tgi", "dcgm", "gateway", "kube-state-metrics", "prometheus"]
MetricType = Literal["counter", "gauge", "histogram"]

_VLLM_DOC = "https://docs.vllm.ai/en/latest/usage/metrics/ (read 2026-11-23)"
_TGI_DOC = "https://huggingface.co/docs/text-generation-inference/reference/metrics (read 2026-11-23)"
_DCGM_DOC = "NVIDIA/dcgm-exporter etc/default-counters.csv @00d6d34 (read 2026-11-23)"
_KSM_DOC = "kubernetes/kube-state-metrics docs/metrics/workload (v2.x; read 2026-11-23)"
_GW_DOC = "serving/gateway/metrics.py (Paddock gateway; agreed names, 2026-11-23)"


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One exported metric. ``name`` is the PromQL name: for histograms the base name, whose
    ``_bucket``/``_sum``/``_count`` series queries use; for counters the name with ``_total``."""

    name: str
    exporter: Exporter
    type: MetricType
    labels: tuple[str, ...]
    """Labels the exporter sets (before Prometheus adds ``namespace``/``pod``/``alias`` from the target)."""
    help: str
    source: str
    """Where the name was checked, with the date."""
    since: str | None = None
    """First engine version exporting it (inclusive); None = all modelled versions."""
    until: str | None = None
    """First engine version NOT exporting it by default (hidden or removed); None = still exported."""


def _m(
    name: str,
    exporter: Exporter,
    type_: MetricType,
    labels: tuple[str, ...],
    help_: str,
    source: str,
    since: str | None = None,
    until: str | None = None,
) -> Metric:
    return Metric(
        name=name,
        exporter=exporter,
        type=type_,
        labels=labels,
        help=help_,
        source=source,
        since=since,
        until=until,
    )


_VL = ("model_name", "engine")

CATALOG: tuple[Metric, ...] = (
    # --- vLLM (OpenAI server, V1 engine) ---
    _m("vllm:num_requests_running", "vllm", "gauge", _VL, "Requests in the running batch.", _VLLM_DOC),
    _m("vllm:num_requests_waiting", "vllm", "gauge", _VL, "Requests waiting to be scheduled.", _VLLM_DOC),
    _m(
        "vllm:gpu_cache_usage_perc",
        "vllm",
        "gauge",
        _VL,
        "KV-cache usage, 1 = 100 %.",
        "vllm-project/vllm#18354, #29330 (read 2026-11-23)",
        until="0.11.0",
    ),
    _m(
        "vllm:kv_cache_usage_perc",
        "vllm",
        "gauge",
        _VL,
        "KV-cache usage, 1 = 100 %.",
        "vllm-project/production-stack#617 (/metrics of vLLM 0.10.0; read 2026-11-23)",
        since="0.10.0",
    ),
    _m("vllm:time_to_first_token_seconds", "vllm", "histogram", _VL, "Time to first token.", _VLLM_DOC),
    _m(
        "vllm:time_per_output_token_seconds",
        "vllm",
        "histogram",
        _VL,
        "Time per output token (old name).",
        "vllm-project/vllm#32661 (read 2026-11-23)",
        until="0.12.0",
    ),
    _m(
        "vllm:inter_token_latency_seconds",
        "vllm",
        "histogram",
        _VL,
        "Inter-token latency.",
        "vllm-project/vllm#32661 (read 2026-11-23)",
        since="0.11.0",
    ),
    _m(
        "vllm:e2e_request_latency_seconds", "vllm", "histogram", _VL, "End-to-end request latency.", _VLLM_DOC
    ),
    _m("vllm:generation_tokens_total", "vllm", "counter", _VL, "Generated (output) tokens.", _VLLM_DOC),
    _m("vllm:prompt_tokens_total", "vllm", "counter", _VL, "Prefilled (prompt) tokens.", _VLLM_DOC),
    _m(
        "vllm:request_success_total",
        "vllm",
        "counter",
        (*_VL, "finished_reason"),
        "Finished requests.",
        _VLLM_DOC,
    ),
    _m("vllm:num_preemptions_total", "vllm", "counter", _VL, "Preempted sequences.", _VLLM_DOC),
    # --- TGI (router) ---
    _m("tgi_queue_size", "tgi", "gauge", (), "Current queue size.", _TGI_DOC),
    _m("tgi_batch_current_size", "tgi", "gauge", (), "Current batch size.", _TGI_DOC),
    _m("tgi_batch_current_max_tokens", "tgi", "gauge", (), "Maximum tokens for the current batch.", _TGI_DOC),
    _m("tgi_request_count", "tgi", "counter", (), "Total number of requests.", _TGI_DOC),
    _m("tgi_request_success", "tgi", "counter", (), "Successful requests.", _TGI_DOC),
    _m("tgi_request_failure", "tgi", "counter", ("err",), "Failed requests.", _TGI_DOC),
    _m("tgi_request_duration", "tgi", "histogram", (), "End-to-end request latency.", _TGI_DOC),
    _m("tgi_request_queue_duration", "tgi", "histogram", (), "Time spent in the queue.", _TGI_DOC),
    _m(
        "tgi_request_mean_time_per_token_duration",
        "tgi",
        "histogram",
        (),
        "Mean time per token per request.",
        _TGI_DOC,
    ),
    _m("tgi_request_generated_tokens", "tgi", "histogram", (), "Generated tokens per request.", _TGI_DOC),
    _m(
        "tgi_batch_forward_duration",
        "tgi",
        "histogram",
        ("method",),
        "Batch forward time (prefill|decode).",
        _TGI_DOC,
    ),
    # --- DCGM exporter (default counters) ---
    _m(
        "DCGM_FI_DEV_GPU_UTIL",
        "dcgm",
        "gauge",
        ("gpu", "UUID", "modelName", "Hostname"),
        "GPU utilisation (%).",
        _DCGM_DOC,
    ),
    _m(
        "DCGM_FI_DEV_FB_USED",
        "dcgm",
        "gauge",
        ("gpu", "UUID", "modelName", "Hostname"),
        "Framebuffer memory used (MiB).",
        _DCGM_DOC,
    ),
    _m(
        "DCGM_FI_DEV_FB_FREE",
        "dcgm",
        "gauge",
        ("gpu", "UUID", "modelName", "Hostname"),
        "Framebuffer memory free (MiB).",
        _DCGM_DOC,
    ),
    _m(
        "DCGM_FI_DEV_XID_ERRORS",
        "dcgm",
        "gauge",
        ("gpu", "UUID", "modelName", "Hostname"),
        "Value of the last XID error encountered.",
        _DCGM_DOC,
    ),
    _m(
        "DCGM_FI_DEV_GPU_TEMP",
        "dcgm",
        "gauge",
        ("gpu", "UUID", "modelName", "Hostname"),
        "GPU temperature (C).",
        _DCGM_DOC,
    ),
    _m(
        "DCGM_FI_DEV_POWER_USAGE",
        "dcgm",
        "gauge",
        ("gpu", "UUID", "modelName", "Hostname"),
        "Power draw (W).",
        _DCGM_DOC,
    ),
    # --- kube-state-metrics (shipped by kube-prometheus-stack) ---
    _m(
        "kube_deployment_spec_replicas",
        "kube-state-metrics",
        "gauge",
        ("namespace", "deployment"),
        "Desired replicas.",
        _KSM_DOC,
    ),
    _m(
        "kube_deployment_status_replicas_ready",
        "kube-state-metrics",
        "gauge",
        ("namespace", "deployment"),
        "Ready replicas.",
        _KSM_DOC,
    ),
    _m(
        "kube_pod_status_ready",
        "kube-state-metrics",
        "gauge",
        ("namespace", "pod", "condition"),
        "1 for the pod's Ready condition value (condition true|false|unknown); every pod, any owner.",
        _KSM_DOC,
    ),
    _m(
        "kube_pod_info",
        "kube-state-metrics",
        "gauge",
        ("namespace", "pod", "node", "created_by_kind", "created_by_name"),
        "1 per existing pod (Pending included).",
        _KSM_DOC,
    ),
    _m(
        "kube_pod_container_status_restarts_total",
        "kube-state-metrics",
        "counter",
        ("namespace", "pod", "container"),
        "Container restarts.",
        _KSM_DOC,
    ),
    # --- Prometheus itself ---
    _m(
        "up",
        "prometheus",
        "gauge",
        ("job", "instance"),
        "1 when the last scrape succeeded.",
        "https://prometheus.io/docs/concepts/jobs_instances/ (read 2026-11-23)",
    ),
    # --- Paddock gateway ---
    _m(
        "paddock_gateway_requests_total",
        "gateway",
        "counter",
        ("alias", "upstream", "status"),
        "Requests answered, by alias, upstream (primary|bedrock|none) and HTTP status.",
        _GW_DOC,
    ),
    _m(
        "paddock_gateway_fallbacks_total",
        "gateway",
        "counter",
        ("alias", "reason"),
        "Requests spilled to the fallback, by reason.",
        _GW_DOC,
    ),
    _m(
        "paddock_gateway_upstream_errors_total",
        "gateway",
        "counter",
        ("alias", "upstream", "reason"),
        "Upstream failures, by upstream and reason.",
        _GW_DOC,
    ),
    _m(
        "paddock_gateway_time_to_first_token_seconds",
        "gateway",
        "histogram",
        ("alias", "upstream"),
        "Time to first byte seen by the client.",
        _GW_DOC,
    ),
    _m(
        "paddock_gateway_added_latency_seconds",
        "gateway",
        "histogram",
        ("alias",),
        "Latency the gateway adds on top of the upstream.",
        _GW_DOC,
    ),
    _m(
        "paddock_gateway_in_flight",
        "gateway",
        "gauge",
        ("alias",),
        "Requests in progress, including those held during a cold start.",
        _GW_DOC,
    ),
    _m(
        "paddock_gateway_pinned_unavailable_total",
        "gateway",
        "counter",
        ("alias", "reason"),
        "Pinned-alias requests refused because the primary failed (never sent to Bedrock).",
        _GW_DOC,
    ),
)

_BY_NAME = {m.name: m for m in CATALOG}
_SUFFIXES = ("_bucket", "_sum", "_count")


def lookup(series: str) -> Metric | None:
    """The catalog entry for a series name (``..._seconds_bucket`` finds its histogram)."""
    if series in _BY_NAME:
        return _BY_NAME[series]
    for suffix in _SUFFIXES:
        base = series.removesuffix(suffix)
        if base != series and base in _BY_NAME and _BY_NAME[base].type == "histogram":
            return _BY_NAME[base]
    return None


def _version(text: str, field: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("+")[0].split(".")[:3])
    except ValueError:
        raise InputError(f"'{text}' is not a version like 0.11.0", field=field) from None


def exported_by(metric: Metric, version: str) -> bool:
    """Whether ``metric`` is exported by default by an engine of ``version``."""
    v = _version(version, "engineVersion")
    if metric.since is not None and v < _version(metric.since, "since"):
        return False
    return not (metric.until is not None and v >= _version(metric.until, "until"))


@dataclass(frozen=True, kw_only=True)
class VllmMetricNames:
    """The names a given vLLM version exports for the signals we use."""

    kv_cache_usage: str
    inter_token_latency: str


def vllm_metrics(version: str) -> VllmMetricNames:
    """Version-specific vLLM metric names, e.g. ``vllm_metrics("0.11.0").kv_cache_usage ==
    "vllm:kv_cache_usage_perc"``. Raises InputError for a malformed version."""
    kv = _BY_NAME["vllm:kv_cache_usage_perc"]
    itl = _BY_NAME["vllm:inter_token_latency_seconds"]
    return VllmMetricNames(
        kv_cache_usage=kv.name if exported_by(kv, version) else "vllm:gpu_cache_usage_perc",
        inter_token_latency=itl.name if exported_by(itl, version) else "vllm:time_per_output_token_seconds",
    )


VLLM_TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
"""``le`` bounds of ``vllm:time_to_first_token_seconds`` up to 10 s (then 20..2560 s):
vllm/v1/metrics/loggers.py at v0.11.0 (read 2026-12-04); the 1.0 and 2.5 s bounds are confirmed by the
operations review's promtool run (../shared/review/operations.md, 2026-12-04: p95 interpolated across
the 1.0-2.5 bucket)."""
