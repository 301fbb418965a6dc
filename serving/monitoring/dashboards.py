"""Grafana dashboards: the JSON files in ``dashboards/`` filled with plan-derived values.

The files are real dashboards whose strings hold ``__NAME__`` placeholders. :func:`fill` replaces a string
that IS a placeholder with the typed value (a threshold becomes a number) and placeholders inside longer
strings with text. One dashboard per model (``vllm-model.json`` or ``tgi-model.json``) plus
``gateway.json`` for the fleet; components/monitoring.py ships each in a ConfigMap labelled
``grafana_dashboard: "1"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from serving.autoscaling.model import AutoscalingSettings, ModelScaling, thresholds
from serving.errors import RenderError
from serving.monitoring.catalog import vllm_metrics
from serving.monitoring.rules import gpu_memory_alert_fraction
from serving.monitoring.targets import lws_pod_regex, pod_regex

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
_PLACEHOLDER = re.compile(r"__[A-Z][A-Z0-9_]*?__")
COST_PANEL_TITLE = "Estimated $ per 1M output tokens"


def load(name: str) -> dict[str, Any]:
    """Parse ``dashboards/<name>``; RenderError when it is missing or not a JSON object."""
    path = DASHBOARD_DIR / name
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RenderError(f"dashboard {name}: {exc}", field=name) from None
    if not isinstance(data, dict):
        raise RenderError(f"dashboard {name} is not a JSON object", field=name)
    return data


def fill(node: Any, values: dict[str, Any]) -> Any:
    """Replace placeholders in every string of ``node`` (recursively). RenderError names any placeholder
    that ``values`` lacks, so a template and its builder cannot drift apart silently."""
    if isinstance(node, dict):
        return {k: fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [fill(v, values) for v in node]
    if not isinstance(node, str):
        return node
    missing = {p for p in _PLACEHOLDER.findall(node) if p[2:-2] not in values}
    if missing:
        raise RenderError(f"no value for {', '.join(sorted(missing))}", field="dashboard")
    whole = _PLACEHOLDER.fullmatch(node)
    if whole:
        return values[node[2:-2]]
    return _PLACEHOLDER.sub(lambda m: _text(values[m.group(0)[2:-2]]), node)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def model_values(model: ModelScaling, settings: AutoscalingSettings) -> dict[str, Any]:
    """The placeholder values for one model's dashboard."""
    plan = model.plan
    t = thresholds(plan, settings)
    names = vllm_metrics(plan.engine_version) if plan.engine == "vllm" else None
    per_mtok = plan.cost_per_million_tokens_usd
    return {
        "ALIAS": model.alias,
        "UID": f"paddock-{model.alias}"[:40],
        "NAMESPACE": model.namespace,
        "WORKLOAD": model.workload,
        "POD_REGEX": lws_pod_regex(model.workload)
        if plan.nodes_per_replica > 1
        else pod_regex(model.workload),
        "NODES_PER_REPLICA": plan.nodes_per_replica,
        "KV_CACHE_METRIC": names.kv_cache_usage if names else "",
        "ITL_METRIC": names.inter_token_latency if names else "",
        "SLO_TTFT_SECONDS": model.slo_ttft_seconds,
        "HOURLY_COST_USD": round(plan.hourly_cost_usd, 4) if plan.hourly_cost_usd is not None else "",
        "PLAN_COST_PER_MTOK": f"{per_mtok:.2f}" if per_mtok is not None else "unknown",
        "PLAN_DECODE_TPS": round(plan.decode_tokens_per_second, 1),
        "GPU_MEMORY_UTILIZATION": plan.gpu_memory_utilization,
        "GPU_MEMORY_ALERT": gpu_memory_alert_fraction(plan.gpu_memory_utilization),
        "RUNNING_TARGET": t.running_per_replica,
        "WAITING_TARGET": t.waiting_per_replica,
        "CAPACITY": t.capacity,
        "MIN_REPLICAS": model.min_replicas,
        "MAX_REPLICAS": model.max_replicas,
    }


def model_dashboard(model: ModelScaling, settings: AutoscalingSettings) -> dict[str, Any]:
    """The dashboard for one model. Without a node price (``hourly_cost_usd`` None) the $/1M panel is
    dropped rather than showing a made-up figure."""
    template = load(f"{model.plan.engine}-model.json")
    if model.plan.hourly_cost_usd is None:
        template["panels"] = [p for p in template["panels"] if p.get("title") != COST_PANEL_TITLE]
    filled: dict[str, Any] = fill(template, model_values(model, settings))
    return filled


def gateway_dashboard() -> dict[str, Any]:
    """The fleet-wide gateway dashboard (no placeholders)."""
    filled: dict[str, Any] = fill(load("gateway.json"), {})
    return filled


def dashboards(
    models: tuple[ModelScaling, ...], settings: AutoscalingSettings, *, gateway: bool
) -> dict[str, dict[str, Any]]:
    """ConfigMap file name -> dashboard, for every model (and the gateway when enabled)."""
    out = {f"paddock-{m.alias}.json": model_dashboard(m, settings) for m in models}
    if gateway:
        out["paddock-gateway.json"] = gateway_dashboard()
    return out


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL expression) for every query target of every panel, rows included."""
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                if "expr" in target:
                    yield inner.get("title", ""), target["expr"]
