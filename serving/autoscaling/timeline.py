"""Scale-from-zero timeline: what happens between the first request for a model at zero replicas and the
first token it serves, per step, in seconds.

Steps (each an estimate; the plan's own load time is the largest and the only one computed from the model):

- detect: KEDA polls Prometheus every ``pollingInterval`` and Prometheus scrapes the gateway every 15 s, so
  the held request is seen after at most one poll + one scrape (worst case, not average).
- node: cluster-autoscaler/Karpenter notices the Pending pod (~10 s scan), EC2 launches the GPU instance and
  it joins the cluster Ready with the NVIDIA device plugin advertising GPUs. ``NODE_READY_SECONDS`` = 150 s is
  an assumption (observed 2-3 min for EKS AL2023 GPU nodes in the operations review,
  ../shared/review/operations.md: "realistic 0->1 ~8-10 min"); it is 0 when an idle GPU node is already up.
- pod start to ready: the plan's ``load_time_seconds`` (serving/sizing/estimates.py: container start, image
  pull, weight download, weight load, warm-up), listed step by step from ``load_time_breakdown``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serving.autoscaling.model import AutoscalingSettings, ModelScaling

SCRAPE_INTERVAL_SECONDS = 15.0
"""Prometheus scrape interval of the gateway and engines (serving/monitoring/values.py default ``15s``)."""
NODE_SCAN_SECONDS = 10.0
"""cluster-autoscaler ``--scan-interval`` default (10 s); Karpenter batches pending pods for 1-10 s."""
NODE_READY_SECONDS = 150.0
"""EC2 GPU instance launch -> kubelet Ready -> device plugin advertises nvidia.com/gpu (s, assumed)."""


@dataclass(frozen=True, kw_only=True)
class ColdStart:
    """One model's scale-from-zero timeline: ``steps`` as (step, seconds), in order."""

    alias: str
    steps: tuple[tuple[str, float], ...]
    hold_seconds: float
    """The gateway's cold-start hold (requests spill to the fallback after it, or fail for a pinned alias)."""

    @property
    def total_seconds(self) -> float:
        """First request -> first token, s (a new node is needed)."""
        return sum(s for _, s in self.steps)

    @property
    def warm_node_seconds(self) -> float:
        """The same when an idle GPU node is already up (no node step), s."""
        return sum(s for n, s in self.steps if not n.startswith("node"))


def cold_start(
    *,
    alias: str,
    polling_interval_seconds: float,
    load_time_seconds: float,
    load_time_breakdown: Sequence[Sequence[Any]] = (),
    hold_seconds: float = 60.0,
) -> ColdStart:
    """The 0 -> 1 timeline from primitive facts (seconds); ``load_time_breakdown`` as (step, seconds)."""
    pod = tuple((str(n), float(v)) for n, v in load_time_breakdown) or (
        ("pod start -> ready", load_time_seconds),
    )
    steps = (
        ("detect (KEDA poll + gateway scrape)", float(polling_interval_seconds) + SCRAPE_INTERVAL_SECONDS),
        ("node scale-up (scan + EC2 launch + Ready)", NODE_SCAN_SECONDS + NODE_READY_SECONDS),
        *((f"pod: {name}", s) for name, s in pod),
    )
    return ColdStart(alias=alias, steps=steps, hold_seconds=hold_seconds)


def cold_start_timeline(model: ModelScaling, settings: AutoscalingSettings) -> ColdStart:
    """The 0 -> 1 timeline of ``model`` (seconds per step)."""
    return cold_start(
        alias=model.alias,
        polling_interval_seconds=settings.polling_interval_seconds,
        load_time_seconds=model.plan.load_time_seconds,
        load_time_breakdown=model.plan.load_time_breakdown,
        hold_seconds=model.cold_start_hold_seconds,
    )


def rollout_seconds(load_time_seconds: float) -> int:
    """How long a replica may be unready during a planned rollout or a reschedule before it is an outage:
    a new node plus the pod's load time, +25 %, whole minutes, at least 2 (s).
    Used by PaddockNoReadyReplicas."""
    raw = 1.25 * (NODE_SCAN_SECONDS + NODE_READY_SECONDS + load_time_seconds)
    return 60 * max(2, math.ceil(raw / 60))


def timeline_section(config: Mapping[str, Any], plans: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``## Scale from zero`` of ``paddock plan``'s summary.md: one row per model, seconds per phase."""
    poll = float(config.get("autoscaling", {}).get("polling_interval_seconds", 15))
    lines = [
        "## Scale from zero",
        "",
        "First request -> first token when a model is at 0 replicas (serving/autoscaling/timeline.py); "
        "requests held longer than the gateway hold spill to the fallback (503 for a pinned alias).",
        "",
        "| alias | min | detect s | node s | pod start -> ready s | total s (new node) | warm node s "
        "| hold s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model in config.get("models", []):
        p = plans.get(model["alias"], {})
        t = cold_start(
            alias=model["alias"],
            polling_interval_seconds=poll,
            load_time_seconds=float(p.get("load_time_seconds", 0.0)),
            load_time_breakdown=p.get("load_time_breakdown", ()),
            hold_seconds=float(model.get("cold_start_hold_seconds", 60.0)),
        )
        detect, node, *pod = (s for _, s in t.steps)
        lines.append(
            f"| {t.alias} | {model.get('replicas_min')} | {detect:.0f} | {node:.0f} | {sum(pod):.0f} "
            f"| {t.total_seconds:.0f} | {t.warm_node_seconds:.0f} | {t.hold_seconds:.0f} |"
        )
    return [*lines, ""]


def cold_start_warnings(config: Mapping[str, Any], plans: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Plan warnings: a pinned alias (``fallback: none``) at ``replicas.min: 0`` answers 503 for every cold
    start once the gateway hold is over, for about the timeline's total."""
    poll = float(config.get("autoscaling", {}).get("polling_interval_seconds", 15))
    found: list[str] = []
    for i, model in enumerate(config.get("models", [])):
        if model.get("fallback") != "none" or model.get("replicas_min", 1) != 0:
            continue
        p = plans.get(model["alias"], {})
        t = cold_start(
            alias=model["alias"],
            polling_interval_seconds=poll,
            load_time_seconds=float(p.get("load_time_seconds", 0.0)),
            load_time_breakdown=p.get("load_time_breakdown", ()),
            hold_seconds=float(model.get("cold_start_hold_seconds", 60.0)),
        )
        gap = max(0.0, t.total_seconds - t.hold_seconds)
        found.append(
            f"paddock:models[{i}].replicas.min: {model['alias']} is pinned (no fallback) and scales to zero: "
            f"each cold start takes ~{t.total_seconds:.0f} s and requests get 503 for ~{gap:.0f} s after the "
            f"{t.hold_seconds:.0f} s hold; set replicas.min >= 1 (2 to survive a node loss)"
        )
    return found
