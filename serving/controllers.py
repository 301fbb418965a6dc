"""In-cluster controllers a plan needs beyond the GPU plumbing (pure): when to install them and their values.

- LeaderWorkerSet (kubernetes-sigs/lws): our model-server chart renders a ``LeaderWorkerSet`` whenever a
  replica spans nodes (``plan.nodes_per_replica > 1``); its CRD and controller come from the lws chart.
- AWS EFA device plugin (aws/eks-charts): multi-node replicas on EFA instances (p4d, p5...) need
  ``vpc.amazonaws.com/efa`` advertised for NCCL over EFA.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from serving.autoscaling.values import render_template
from serving.catalog import get_instance
from serving.release_values import GPU_PRESENT_LABEL, GPU_TOLERATION
from serving.sizing.plan import ServingPlan
from serving.stack_config import StackConfig

#: Source: kubernetes-sigs/lws site/content/en/docs/installation/_index.md at 060ab4da (2026-08-21):
#: ``helm install lws oci://registry.k8s.io/lws/charts/lws --version=0.10.0``
LWS_CHART = "oci://registry.k8s.io/lws/charts/lws"
LWS_NAMESPACE = "lws-system"
#: Source: aws/eks-charts stable/aws-efa-k8s-device-plugin/Chart.yaml at 5239609 (2026-08-03), chart v0.5.30
EKS_CHARTS_REPO = "https://aws.github.io/eks-charts"
EFA_DEVICE_PLUGIN_CHART = "aws-efa-k8s-device-plugin"


def multi_node(plans: Iterable[ServingPlan]) -> bool:
    """True when some replica spans nodes (the chart renders a LeaderWorkerSet)."""
    return any(p.nodes_per_replica > 1 for p in plans)


def needs_efa(plans: Iterable[ServingPlan]) -> bool:
    """True when some multi-node replica runs on an EFA-capable instance type."""
    return any(
        p.nodes_per_replica > 1 and p.instance_type is not None and get_instance(p.instance_type).efa
        for p in plans
    )


def lws_values(*, replicas: int = 1) -> dict[str, Any]:
    """Values of the lws chart (placement on the system nodes and the image route come from
    :class:`serving.chart_overrides.ReleasePolicy`)."""
    return render_template("lws.yaml.j2", replicas=replicas)


def efa_device_plugin_values() -> dict[str, Any]:
    """Values of the EFA device plugin chart: a DaemonSet on GPU nodes only, tolerating the GPU taint."""
    return render_template(
        "efa_device_plugin.yaml.j2",
        node_selector={GPU_PRESENT_LABEL: "true"},
        tolerations=[GPU_TOLERATION],
    )


def controller_problems(cfg: StackConfig, plans: Mapping[str, ServingPlan]) -> list[tuple[str, str]]:
    """``(key, reason)`` for each controller chart the sized plans need but ``paddock:versions`` does not
    pin: ``lwsChart`` when a replica spans nodes, ``efaDevicePluginChart`` when it does so on EFA."""
    found: list[tuple[str, str]] = []
    spanning = [
        (i, m.alias) for i, m in enumerate(cfg.models) if m.alias in plans and multi_node([plans[m.alias]])
    ]
    if spanning and cfg.versions.lws_chart is None:
        i, alias = spanning[0]
        per = plans[alias].nodes_per_replica
        found.append(
            (
                "paddock:versions.lwsChart",
                f"is required: paddock:models[{i}] ({alias}) spans {per} nodes per replica, served by a "
                f"LeaderWorkerSet (e.g. 0.10.0, {LWS_CHART})",
            )
        )
    efa = [(i, m.alias) for i, m in enumerate(cfg.models) if m.alias in plans and needs_efa([plans[m.alias]])]
    if efa and cfg.versions.efa_device_plugin_chart is None:
        i, alias = efa[0]
        found.append(
            (
                "paddock:versions.efaDevicePluginChart",
                f"is required: paddock:models[{i}] ({alias}) spans nodes on "
                f"{plans[alias].instance_type} (EFA) "
                f"(e.g. v0.5.30, {EKS_CHARTS_REPO} {EFA_DEVICE_PLUGIN_CHART})",
            )
        )
    return found
