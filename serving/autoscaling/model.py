"""Inputs of the autoscaling rules and the numbers derived from a ServingPlan.

:class:`ModelScaling` is one model as the autoscaler sees it (alias, plan, replica bounds, SLO, cold-start
hold); :class:`AutoscalingSettings` is ``paddock:autoscaling``. :func:`thresholds` and :func:`delays` turn a
plan into per-replica targets and scale-down delays; every other module builds manifests from these.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from serving.errors import InputError
from serving.sizing.plan import ServingPlan

NodeAutoscaler = Literal["cluster-autoscaler", "karpenter", "none"]
CapacityType = Literal["on-demand", "spot", "reserved"]
"""Karpenter's ``karpenter.sh/capacity-type`` values; ``reserved`` = an On-Demand Capacity Reservation or an
EC2 Capacity Block (``paddock:models[i].capacityType`` capacity-block / reservation)."""

#: Prometheus as KEDA and the HPA see it: the governing Service the Prometheus Operator creates.
DEFAULT_PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"
#: HPA behaviour windows cannot exceed one hour (autoscaling/v2 API validation).
HPA_MAX_WINDOW_SECONDS = 3600
#: HPA scaling-policy periods cannot exceed 30 minutes (autoscaling/v2 API validation).
HPA_MAX_POLICY_PERIOD_SECONDS = 1800

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class AutoscalingSettings:
    """``paddock:autoscaling`` (stack config)."""

    keda: bool = True
    """Scale pods with KEDA ScaledObjects; False = plain HPA on the custom-metrics API (no scale to zero)."""
    node_autoscaler: NodeAutoscaler = "cluster-autoscaler"
    polling_interval_seconds: int = 15
    """How often KEDA queries Prometheus (s)."""
    cooldown_seconds: int = 600
    """Minimum idle time before KEDA scales 1 -> 0 (s); raised to cover the model's load time."""
    target_utilisation: float = 0.8
    """Fraction of a replica's sequence capacity the running-requests trigger aims for."""
    kv_cache_target: float = 0.85
    """Average KV-cache usage (0-1) per replica the KV trigger aims for."""


@dataclass(frozen=True, kw_only=True)
class ModelScaling:
    """One served model as the autoscaler and the alert rules see it."""

    alias: str
    """Route name (``llama-70b``); also the Deployment name unless ``deployment`` is set."""
    plan: ServingPlan
    min_replicas: int
    """0 = scale to zero (needs KEDA and the gateway's cold-start hold)."""
    max_replicas: int
    slo_ttft_seconds: float = 2.0
    """TTFT p95 SLO (s) for the alert rule (``sloTtftSeconds``)."""
    cold_start_hold_seconds: float = 60.0
    """How long the gateway holds a request while 0 -> 1 before spilling to Bedrock (s)."""
    has_fallback: bool = True
    """False for pinned aliases (``fallback: none``): no fallback-rate rule, requests only queue."""
    namespace: str = "serving"
    deployment: str | None = None
    """Name of the engine Deployment; None = the alias."""
    capacity_type: CapacityType = "on-demand"
    capacity_reservation_id: str | None = None
    """``cr-...`` of the reservation / Capacity Block when ``capacity_type`` is ``reserved``."""

    @property
    def workload(self) -> str:
        """The Deployment (and ScaledObject) name."""
        return self.deployment or self.alias


def validate_models(models: tuple[ModelScaling, ...], *, field: str = "models") -> list[str]:
    """Every problem with ``models``, each naming its field (``models[1].maxReplicas: ...``); [] = valid."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, m in enumerate(models):
        at = f"{field}[{i}]"
        if not _DNS_LABEL.match(m.alias):
            problems.append(f"{at}.alias: '{m.alias}' is not a DNS label (lower-case letters, digits, '-')")
        if m.alias in seen:
            problems.append(f"{at}.alias: '{m.alias}' appears twice")
        seen.add(m.alias)
        if m.min_replicas < 0:
            problems.append(f"{at}.replicas.min: {m.min_replicas} is negative")
        if m.max_replicas < 1 or m.max_replicas < m.min_replicas:
            problems.append(f"{at}.replicas.max: {m.max_replicas} must be >= 1 and >= min ({m.min_replicas})")
        if m.slo_ttft_seconds <= 0:
            problems.append(f"{at}.sloTtftSeconds: {m.slo_ttft_seconds} must be > 0")
        if m.cold_start_hold_seconds < 0:
            problems.append(f"{at}.coldStartHoldSeconds: {m.cold_start_hold_seconds} must be >= 0")
        if m.plan.max_num_seqs < 1:
            problems.append(f"{at}.plan.max_num_seqs: {m.plan.max_num_seqs} must be >= 1")
    return problems


def validate_settings(settings: AutoscalingSettings, *, field: str = "autoscaling") -> list[str]:
    """Every problem with ``settings``; [] = valid."""
    problems: list[str] = []
    if not 1 <= settings.polling_interval_seconds <= 3600:
        problems.append(f"{field}.pollingIntervalSeconds: {settings.polling_interval_seconds} not in 1..3600")
    if settings.cooldown_seconds < 0:
        problems.append(f"{field}.cooldownSeconds: {settings.cooldown_seconds} must be >= 0")
    if not 0 < settings.target_utilisation <= 1:
        problems.append(f"{field}.targetUtilisation: {settings.target_utilisation} not in (0, 1]")
    if not 0 < settings.kv_cache_target < 1:
        problems.append(f"{field}.kvCacheTarget: {settings.kv_cache_target} not in (0, 1)")
    return problems


def raise_if(problems: list[str], field: str) -> None:
    """Raise one InputError listing every problem (no-op when there are none)."""
    if problems:
        raise InputError("; ".join(problems), field=field)


@dataclass(frozen=True, kw_only=True)
class ScalingThresholds:
    """Per-replica targets derived from a plan (the HPA divides each trigger's sum by these)."""

    capacity: int
    """Sequences one replica serves at once: min(max_num_seqs, max_concurrency at max_model_len)."""
    running_per_replica: int
    """Target running sequences per replica (capacity x target utilisation)."""
    waiting_per_replica: int
    """Tolerated queue per replica (10 % of capacity, at least 1)."""
    kv_cache_usage: float
    """Target average KV-cache usage (0-1)."""


def thresholds(plan: ServingPlan, settings: AutoscalingSettings) -> ScalingThresholds:
    """Per-replica targets: max_num_seqs=64, max_concurrency=40.2 -> capacity 40, running 32, waiting 4."""
    capacity = min(plan.max_num_seqs, max(1, math.floor(plan.max_concurrency)))
    return ScalingThresholds(
        capacity=capacity,
        running_per_replica=max(1, math.floor(capacity * settings.target_utilisation)),
        waiting_per_replica=max(1, math.ceil(capacity * 0.1)),
        kv_cache_usage=settings.kv_cache_target,
    )


def _ceil_minute(seconds: float) -> int:
    return int(math.ceil(seconds / 60.0) * 60)


@dataclass(frozen=True, kw_only=True)
class ScalingDelays:
    """Timing derived from the plan's load time, all in seconds."""

    scale_up_period: int
    """HPA scale-up policy period: at most double the replicas per load time (15..1800)."""
    scale_down_window: int
    """HPA scale-down stabilisation: max(300, 1.5 x load time), whole minutes, capped at 3600."""
    cooldown: int
    """KEDA 1 -> 0 cooldown: max(configured, 1.5 x load time + cold-start hold), whole minutes."""


def delays(model: ModelScaling, settings: AutoscalingSettings) -> ScalingDelays:
    """Delays for one model. A replica that takes ``load_time_seconds`` to become ready must not be scaled
    away before it could serve, so every scale-down delay exceeds the load time."""
    load = model.plan.load_time_seconds
    return ScalingDelays(
        scale_up_period=int(min(HPA_MAX_POLICY_PERIOD_SECONDS, max(15, math.ceil(load)))),
        scale_down_window=min(HPA_MAX_WINDOW_SECONDS, _ceil_minute(max(300.0, 1.5 * load))),
        cooldown=max(settings.cooldown_seconds, _ceil_minute(1.5 * load + model.cold_start_hold_seconds)),
    )


def node_scale_down_seconds(models: tuple[ModelScaling, ...]) -> int:
    """How long a GPU node must be unneeded before it is removed: max(600, 1.5 x the slowest load time),
    whole minutes. Longer than any model's load time, so a node freed by a restarting pod is not torn down
    while the replacement is still loading elsewhere."""
    slowest = max((m.plan.load_time_seconds for m in models), default=0.0)
    return _ceil_minute(max(600.0, 1.5 * slowest))
