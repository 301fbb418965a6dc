"""ModelScalers: one KEDA ScaledObject (or, without KEDA, one HPA) per model, on its engine metrics.

Created AFTER the model releases: each object waits for the operator release (KEDA's CRD / the adapter's
custom-metrics API, :class:`components.pod_scaling.PodScaling`) and for its own model's release (it scales
that Deployment). Manifests come from serving.autoscaling.pods (pure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components._common import PKG, child, moved, raise_problems
from serving.autoscaling import (
    DEFAULT_PROMETHEUS_URL,
    AutoscalingSettings,
    ModelScaling,
    hpa,
    scaled_object,
    validate_models,
)


@dataclass(frozen=True, kw_only=True)
class ModelScalersArgs:
    """Arguments of :class:`ModelScalers`."""

    models: tuple[ModelScaling, ...]
    settings: AutoscalingSettings
    provider: k8s.Provider
    gateway: bool
    """The gateway runs (its in-flight gauge wakes models at zero)."""
    operator: pulumi.Resource | None = None
    """KEDA / prometheus-adapter release (PodScaling.operator) every object waits for."""
    model_releases: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    """alias -> that model's release (or ModelServer): its scaler waits for it."""
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    moved_from: pulumi.Input[str] | None = None
    """URN of the former Autoscaling component these objects lived under (same names; an alias keeps them in
    place on existing stacks); None = new stack."""

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as ``(path, reason)``; checked before any child exists."""
        found = [_split(p) for p in validate_models(self.models)]
        for i, m in enumerate(self.models):
            if m.min_replicas == 0 and not self.settings.keda:
                found.append((f"models[{i}].min_replicas", "0 (scale to zero) needs settings.keda"))
            if m.min_replicas == 0 and not self.gateway:
                found.append(
                    (f"models[{i}].min_replicas", "0 (scale to zero) needs the gateway to wake the model")
                )
        return found


def _split(problem: str) -> tuple[str, str]:
    path, _, reason = problem.partition(": ")
    return path, reason


class ModelScalers(pulumi.ComponentResource):
    """Per-model pod scalers (token ``paddock:scaling:ModelScalers``). Outputs: ``scalers`` (alias ->
    ScaledObject/HPA name)."""

    def __init__(self, name: str, args: ModelScalersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("ModelScalers", args.problems())
        super().__init__(f"{PKG}:scaling:ModelScalers", name, None, opts)
        self.scalers: dict[str, str] = {}
        for m in args.models:
            waits: Sequence[pulumi.Resource] = [
                r for r in (args.operator, args.model_releases.get(m.alias)) if r is not None
            ]
            opts_m = child(
                self, provider=args.provider, depends_on=list(waits), aliases=moved(args.moved_from)
            )
            if args.settings.keda:
                manifest = scaled_object(
                    m, args.settings, gateway=args.gateway, prometheus_url=args.prometheus_url
                )
                _custom(f"{name}-{m.alias}-scaledobject", manifest, opts_m)
            else:
                manifest = hpa(m, args.settings)
                k8s.autoscaling.v2.HorizontalPodAutoscaler(
                    f"{name}-{m.alias}-hpa", metadata=manifest["metadata"], spec=manifest["spec"], opts=opts_m
                )
            self.scalers[m.alias] = manifest["metadata"]["name"]
        self.register_outputs({"scalers": self.scalers})


def _custom(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
    k8s.apiextensions.CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )
