"""What one engine pod of the model-server chart asks of the cluster, read from the chart's values.

The bring-up analysis (scheduling, disk, image routes) can read this instead of re-deriving the chart's
logic: requests (cpu, memory, nvidia.com/gpu, ephemeral-storage), where the pod may run (nodeSelector,
tolerations), which images its node pulls, and how many pods exist right after the first install.

Pod-level requests are the engine container's: the S3 init container asks 2 vCPU / 2 GiB and no
ephemeral-storage (chart templates/_helpers.tpl), below every engine container Paddock sizes (>= 3 vCPU,
>= 12 GiB), and Kubernetes takes max(init, sum of app containers) per resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, kw_only=True)
class EnginePod:
    """One engine pod (Deployment pod, or each LeaderWorkerSet leader/worker: all alike)."""

    alias: str
    kind: Literal["Deployment", "LeaderWorkerSet"]
    pods_at_install: int
    """Pods the first install creates: replicas at install (1 when the autoscaler owns spec.replicas, which
    the chart then omits) x nodes per replica."""
    pods_per_replica: int
    requests: Mapping[str, str]
    """Kubernetes quantities: cpu, memory, nvidia.com/gpu, ephemeral-storage (requests = limits)."""
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    images: tuple[str, ...]
    """Engine image, then the S3 sync init image when weights come from S3."""
    cache_disk: str
    """``nvme`` or ``ebs``: the disk the pod's cache emptyDir lands on (ServingPlan.cache_disk)."""
    outage_on_update: bool
    helm_ready_replicas: int
    """Ready replicas Helm's wait requires before the release (and ``pulumi up``) succeeds: for a Deployment
    ``replicas - maxUnavailable`` (0 for Recreate; helm pkg/kube/ready.go ``deploymentReady``); 0 for a
    LeaderWorkerSet, a custom resource Helm has no readiness rule for."""


def engine_pod(values: Mapping[str, Any]) -> EnginePod:
    """The engine pod described by model-server chart values (``model_server_values`` output)."""
    image = values["image"]
    images = [f"{image['repository']}:{image['tag']}"]
    weights = values["weights"]
    if weights["source"] == "s3":
        images.append(str(weights["syncImage"]))
    nodes = int(values["nodesPerReplica"])
    replicas = 1 if values.get("autoscaled") else int(values["replicas"])
    rollout = values["rollout"]
    unavailable = int(rollout["maxUnavailable"]) if rollout["type"] == "RollingUpdate" else 0
    ready = 0 if nodes > 1 else max(0, replicas - min(unavailable, replicas))
    return EnginePod(
        alias=str(values["alias"]),
        kind="LeaderWorkerSet" if nodes > 1 else "Deployment",
        pods_at_install=replicas * nodes,
        pods_per_replica=nodes,
        requests={
            "cpu": str(values["resources"]["cpu"]),
            "memory": str(values["resources"]["memory"]),
            "nvidia.com/gpu": str(values["gpus"]),
            "ephemeral-storage": f"{values['cache']['ephemeralStorageGi']}Gi",
        },
        node_selector=dict(values["nodeSelector"]),
        tolerations=tuple(dict(t) for t in values["tolerations"]),
        images=tuple(images),
        cache_disk=str(values["cache"]["disk"]),
        outage_on_update=bool(rollout["outageOnUpdate"]),
        helm_ready_replicas=ready,
    )
