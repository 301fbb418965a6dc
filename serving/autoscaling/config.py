"""From the parsed stack config (serving.stack_config) to the inputs of the scaling and monitoring code."""

from __future__ import annotations

from collections.abc import Mapping

from serving.autoscaling.model import AutoscalingSettings, CapacityType, ModelScaling
from serving.errors import InputError
from serving.monitoring.values import MonitoringSettings
from serving.sizing.plan import ServingPlan
from serving.stack_config import StackConfig


def model_scaling(cfg: StackConfig, plans: Mapping[str, ServingPlan]) -> tuple[ModelScaling, ...]:
    """One :class:`ModelScaling` per ``paddock:models`` entry, in config order. InputError names a model
    without a plan."""
    missing = [m.alias for m in cfg.models if m.alias not in plans]
    if missing:
        raise InputError(f"no ServingPlan for {', '.join(missing)}", field="paddock:models")
    return tuple(
        ModelScaling(
            alias=m.alias,
            plan=plans[m.alias],
            min_replicas=m.replicas_min,
            max_replicas=m.replicas_max,
            slo_ttft_seconds=m.slo_ttft_seconds,
            cold_start_hold_seconds=m.cold_start_hold_seconds,
            has_fallback=not m.pinned and cfg.residency.allow_fallback,
            namespace=cfg.namespace,
            capacity_type=scaling_capacity_type(str(m.capacity_type)),
            capacity_reservation_id=m.capacity_reservation_id,
        )
        for m in cfg.models
    )


def scaling_capacity_type(capacity_type: str) -> CapacityType:
    """``paddock:models[i].capacityType`` as Karpenter names it: ``capacity-block`` and ``reservation`` are
    both ``reserved`` (Capacity Blocks are modelled as capacity reservations in EC2)."""
    if capacity_type in ("capacity-block", "reservation"):
        return "reserved"
    return "spot" if capacity_type == "spot" else "on-demand"


def autoscaling_settings(cfg: StackConfig) -> AutoscalingSettings:
    """``paddock:autoscaling`` as :class:`AutoscalingSettings`."""
    a = cfg.autoscaling
    return AutoscalingSettings(
        keda=a.keda,
        node_autoscaler=a.node_autoscaler,
        polling_interval_seconds=a.polling_interval_seconds,
        cooldown_seconds=a.cooldown_seconds,
    )


def monitoring_settings(cfg: StackConfig) -> MonitoringSettings | None:
    """``paddock:monitoring`` as :class:`MonitoringSettings`; None = deploy no monitoring at all.

    Pod autoscaling reads engine metrics from Prometheus (KEDA's triggers, or without KEDA the HPAs through
    prometheus-adapter), so with ``monitoring.enabled: false`` a Prometheus still runs, without Grafana,
    Alertmanager or rules (the ephemeral stacks scale to zero this way). None only when no model is
    autoscaled (no models)."""
    m = cfg.monitoring
    if m.enabled:
        return MonitoringSettings(enabled=True, grafana=m.grafana, alerts=m.alerts, alerting=m.alerting)
    if cfg.autoscaling.keda or cfg.models:
        return MonitoringSettings(enabled=True, grafana=False, alerts=False)
    return None
