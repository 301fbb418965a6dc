"""PodScaling: the pod-autoscaling operator, KEDA (scale to zero on engine metrics) or, without KEDA,
prometheus-adapter serving the engine gauges to HPAs through the custom-metrics API.

Created BEFORE the model releases (stacks/addons.py) so the operator (and KEDA's CRDs) exist when a model
comes up; the per-model ScaledObjects/HPAs come after their release (components/model_scalers.py). KEDA's
chart renders ServiceMonitors for itself when monitoring is on: its release then waits for
kube-prometheus-stack (``after``), which brings that CRD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._common import PKG, child, moved, raise_problems, system_release_args
from serving.autoscaling import DEFAULT_PROMETHEUS_URL, AutoscalingSettings, validate_settings
from serving.autoscaling.adapter import (
    PROMETHEUS_ADAPTER_CHART,
    PROMETHEUS_ADAPTER_REPO,
    prometheus_adapter_values,
    split_prometheus_url,
)
from serving.autoscaling.values import keda_values
from serving.chart_overrides import ReleasePolicy
from serving.errors import InputError

KEDA_REPO = "https://kedacore.github.io/charts"


@dataclass(frozen=True, kw_only=True)
class PodScalingArgs:
    """Arguments of :class:`PodScaling`."""

    settings: AutoscalingSettings
    provider: k8s.Provider
    prometheus: bool
    """kube-prometheus-stack runs (KEDA triggers and the HPAs' adapter read it; KEDA's ServiceMonitors)."""
    keda_chart_version: str | None = None
    """Required when ``settings.keda``."""
    prometheus_adapter_chart_version: str | None = None
    """Required when ``settings.keda`` is false."""
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    keda_namespace: str = "keda"
    adapter_namespace: str = "monitoring"
    """Namespace of the prometheus-adapter release (beside Prometheus)."""
    after: Sequence[pulumi.Resource] = ()
    """What the operator release waits for: kube-prometheus-stack (ServiceMonitor CRD), system nodes."""
    moved_from: pulumi.Input[str] | None = None
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """System-node placement and image routes of KEDA / prometheus-adapter (serving/chart_overrides.py)."""
    """URN of the former Autoscaling component whose ``autoscaling-keda`` / ``autoscaling-prometheus-adapter``
    release this one is (an alias keeps the release in place on existing stacks); None = new stack."""

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as ``(path, reason)``; checked before any child exists."""
        found = [_split(p) for p in validate_settings(self.settings, field="settings")]
        if self.settings.keda and not self.keda_chart_version:
            found.append(
                ("keda_chart_version", "is required when settings.keda is true (paddock:versions.kedaChart)")
            )
        if not self.settings.keda:
            if not self.prometheus_adapter_chart_version:
                found.append(
                    (
                        "prometheus_adapter_chart_version",
                        "is required when settings.keda is false (paddock:versions.prometheusAdapterChart)",
                    )
                )
            try:
                split_prometheus_url(self.prometheus_url)
            except InputError as exc:
                found.append(("prometheus_url", exc.message))
        if not self.prometheus:
            found.append(
                ("prometheus", "autoscaling reads engine metrics from Prometheus: enable paddock:monitoring")
            )
        return found


def _split(problem: str) -> tuple[str, str]:
    path, _, reason = problem.partition(": ")
    return path, reason


class PodScaling(pulumi.ComponentResource):
    """KEDA or prometheus-adapter (token ``paddock:scaling:PodScaling``).

    Outputs: ``operator`` (the Helm release ScaledObjects/HPAs and model releases wait for), ``keda``."""

    def __init__(self, name: str, args: PodScalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("PodScaling", args.problems())
        super().__init__(f"{PKG}:scaling:PodScaling", name, None, opts)
        self.keda = args.settings.keda
        waits = list(args.after)
        if self.keda:
            self.operator = k8s.helm.v3.Release(
                f"{name}-keda",
                name="keda",
                chart="keda",
                version=args.keda_chart_version,
                repository_opts={"repo": KEDA_REPO},
                namespace=args.keda_namespace,
                create_namespace=True,
                values=args.releases.apply(
                    "keda", args.keda_chart_version, keda_values(monitoring=args.prometheus)
                ),
                **system_release_args(),
                opts=child(
                    self,
                    provider=args.provider,
                    depends_on=waits,
                    aliases=moved(args.moved_from, "autoscaling-keda"),
                ),
            )
        else:
            self.operator = k8s.helm.v3.Release(
                f"{name}-prometheus-adapter",
                name="prometheus-adapter",
                chart=PROMETHEUS_ADAPTER_CHART,
                version=args.prometheus_adapter_chart_version,
                repository_opts={"repo": PROMETHEUS_ADAPTER_REPO},
                namespace=args.adapter_namespace,
                create_namespace=True,
                values=args.releases.apply(
                    "prometheus-adapter",
                    args.prometheus_adapter_chart_version,
                    prometheus_adapter_values(prometheus_url=args.prometheus_url),
                ),
                **system_release_args(),
                opts=child(
                    self,
                    provider=args.provider,
                    depends_on=waits,
                    aliases=moved(args.moved_from, "autoscaling-prometheus-adapter"),
                ),
            )
        self.register_outputs({"operator": self.operator.name, "keda": self.keda})
