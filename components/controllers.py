"""Controllers: in-cluster controllers a multi-node plan needs, as Helm releases of their upstream charts.

- LeaderWorkerSet controller (``oci://registry.k8s.io/lws/charts/lws``) whenever a replica spans nodes: the
  model-server chart renders a ``LeaderWorkerSet``, whose CRD this chart installs, so such a model's release
  waits for this one (:attr:`Controllers.ready`). Runs on the system nodes.
- AWS EFA device plugin (eks-charts ``aws-efa-k8s-device-plugin``) for multi-node replicas on EFA
  instances; a DaemonSet tolerating the GPU taint.

Versions are pinned in ``paddock:versions`` (lwsChart, efaDevicePluginChart); values from serving/controllers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._common import PKG, child, raise_problems, system_release_args
from serving.chart_overrides import ReleasePolicy
from serving.controllers import (
    EFA_DEVICE_PLUGIN_CHART,
    EKS_CHARTS_REPO,
    LWS_CHART,
    LWS_NAMESPACE,
    efa_device_plugin_values,
    lws_values,
)

_VERSION = re.compile(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")


@dataclass(frozen=True, kw_only=True)
class ControllersArgs:
    """Arguments of :class:`Controllers`."""

    provider: k8s.Provider
    lws_chart_version: str | None = None
    """lws chart version; None = no LeaderWorkerSet controller (no plan spans nodes)."""
    efa_device_plugin_chart_version: str | None = None
    """aws-efa-k8s-device-plugin chart version; None = not deployed (no multi-node plan on EFA)."""
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """System-node placement and image routes of both charts (serving/chart_overrides.py)."""
    after: Sequence[pulumi.Resource] = ()
    """What each release waits for (system node group)."""

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for key in ("lws_chart_version", "efa_device_plugin_chart_version"):
            value = getattr(self, key)
            if value is not None and not _VERSION.fullmatch(value):
                found.append((key, f"{value!r} is not a chart version"))
        return found


class Controllers(pulumi.ComponentResource):
    """LWS controller + EFA device plugin (token ``paddock:k8s:Controllers``).

    Outputs: ``releases`` (names), ``ready`` (releases a multi-node model release waits for)."""

    def __init__(self, name: str, args: ControllersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Controllers", args.problems())
        super().__init__(f"{PKG}:k8s:Controllers", name, None, opts)
        after = child(self, provider=args.provider, depends_on=list(args.after))
        self.ready: list[pulumi.Resource] = []
        releases: list[str] = []
        if args.lws_chart_version is not None:
            self.ready.append(
                k8s.helm.v3.Release(
                    f"{name}-lws",
                    name="lws",
                    chart=LWS_CHART,
                    version=args.lws_chart_version,
                    namespace=LWS_NAMESPACE,
                    create_namespace=True,
                    values=args.releases.apply("lws", args.lws_chart_version, lws_values()),
                    **system_release_args(),
                    opts=after,
                )
            )
            releases.append("lws")
        if args.efa_device_plugin_chart_version is not None:
            self.ready.append(
                k8s.helm.v3.Release(
                    f"{name}-efa-device-plugin",
                    name="aws-efa-k8s-device-plugin",
                    chart=EFA_DEVICE_PLUGIN_CHART,
                    version=args.efa_device_plugin_chart_version,
                    repository_opts={"repo": EKS_CHARTS_REPO},
                    namespace="kube-system",
                    values=args.releases.apply(
                        "aws-efa-k8s-device-plugin",
                        args.efa_device_plugin_chart_version,
                        efa_device_plugin_values(),
                    ),
                    **system_release_args(),
                    opts=after,
                )
            )
            releases.append("aws-efa-k8s-device-plugin")
        self.releases = releases
        self.register_outputs({"releases": releases})
