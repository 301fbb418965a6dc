"""Values of each Helm release Paddock deploys, built from the stack config and the ServingPlan.

Pure: components call these and pass the result to ``helm.v3.Release``; ``paddock plan`` writes them to
``values/<release>.yaml``. Scheduling constants (GPU taint, node labels) live here so node groups and pods
agree on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serving.autoscaling.pods import engine_pod_annotations
from serving.sizing.plan import ServingPlan
from serving.stack_config_models import ModelConfig
from serving.values import render_values, split_image

#: label keys put on GPU nodes (GpuNodeGroup) and selected by engine pods (ModelServer)
MODEL_LABEL = "paddock.dev/model"
GPU_LABEL = "paddock.dev/gpu"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
#: every GPU node carries this taint; only pods tolerating it land there
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
#: label of the untainted system node group; every non-GPU pod selects it on clusters Paddock creates
SYSTEM_POOL_LABEL = {"paddock.dev/pool": "system"}
ENGINE_PORT = 8000
STARTUP_PERIOD_SECONDS = 10
#: safety factor on the load-time estimate, plus fixed slack (s), and the floor of a startup budget (s)
LOAD_TIME_SAFETY = 1.5
LOAD_TIME_SLACK_S = 60
MIN_STARTUP_BUDGET_S = 180
#: time for node provisioning + image pull outside the startup probe, added to the progress deadline (s)
PROGRESS_SLACK_S = 900


def gpu_node_labels(alias: str, plan: ServingPlan) -> dict[str, str]:
    """Kubernetes labels of the GPU nodes serving ``alias`` (the engine's nodeSelector uses the first one)."""
    return {MODEL_LABEL: alias, GPU_LABEL: plan.gpu, GPU_PRESENT_LABEL: "true"}


@dataclass(frozen=True, kw_only=True)
class StartupBudget:
    """Startup probe settings derived from the plan's load-time estimate.

    budget_seconds = max(180, ceil(1.5 × load_time_seconds + 60)); failure_threshold = ceil(budget / period).
    """

    period_seconds: int
    failure_threshold: int
    budget_seconds: int
    """failure_threshold × period_seconds (s): how long the engine may take to answer /health."""
    progress_deadline_seconds: int
    """Deployment progressDeadlineSeconds: budget + 900 s for node provisioning, image pull, weight sync."""


def startup_budget(load_time_seconds: float, period_seconds: int = STARTUP_PERIOD_SECONDS) -> StartupBudget:
    """Probe budget from ``ServingPlan.load_time_seconds`` (seconds), instead of a hard-coded constant."""
    if load_time_seconds < 0 or period_seconds < 1:
        raise ValueError("load_time_seconds must be >= 0 and period_seconds >= 1")
    wanted = max(MIN_STARTUP_BUDGET_S, math.ceil(LOAD_TIME_SAFETY * load_time_seconds + LOAD_TIME_SLACK_S))
    threshold = math.ceil(wanted / period_seconds)
    budget = threshold * period_seconds
    return StartupBudget(
        period_seconds=period_seconds,
        failure_threshold=threshold,
        budget_seconds=budget,
        progress_deadline_seconds=budget + PROGRESS_SLACK_S,
    )


@dataclass(frozen=True, kw_only=True)
class NodeShape:
    """vCPUs, memory (GiB) and GPUs of the instance type (from the instance catalog)."""

    vcpus: int
    memory_gib: float
    gpus: int


def engine_resources(plan: ServingPlan, node: NodeShape | None) -> tuple[str, str]:
    """(cpu, memory) requests = limits of the engine container.

    With the node's shape: the pod's share of the node (gpus_per_node / node GPUs) of 85 % of its vCPUs
    and 80 % of its memory (the rest: kubelet/system reserve, DaemonSets). Without: 3 vCPU, 12 GiB per GPU.
    """
    if node is None:
        return str(3 * plan.gpus_per_node), f"{12 * plan.gpus_per_node}Gi"
    share = min(1.0, plan.gpus_per_node / max(node.gpus, 1))
    cpu = max(1, math.floor(node.vcpus * share * 0.85))
    memory = max(4, math.floor(node.memory_gib * share * 0.8))
    return str(cpu), f"{memory}Gi"


def cache_size_gib(plan: ServingPlan) -> int:
    """Model cache emptyDir limit (GiB): all weight files + 10 % + 2 GiB (tokenizer, configs, caches)."""
    return math.ceil(plan.weights_gib_total * 1.1) + 2


def served_model_name(plan: ServingPlan) -> str:
    """The ``model`` clients send (and the gateway routes): the plan's model id."""
    return plan.model_id


def model_server_values(
    model: ModelConfig,
    plan: ServingPlan,
    *,
    image: str,
    aws_cli_image: str | None,
    service_account: str,
    allowed_client_namespaces: Sequence[str] = (),
    node: NodeShape | None = None,
    autoscaled: bool = True,
) -> dict[str, Any]:
    """Values of our model-server chart for one model (helm_values/model_server.yaml.j2).

    ``autoscaled``: KEDA or an HPA owns the replica count (the platform stack always deploys one per model),
    so the chart leaves ``spec.replicas`` unset and ``replicas.min`` only seeds the first install."""
    repository, tag = split_image(image)
    budget = startup_budget(plan.load_time_seconds)
    cpu, memory = engine_resources(plan, node)
    context = {
        "alias": model.alias,
        "engine": plan.engine,
        "image_repository": repository,
        "image_tag": tag,
        "served_model_name": served_model_name(plan),
        "replicas": model.replicas_min,
        "autoscaled": autoscaled,
        "pod_annotations": engine_pod_annotations(),
        "port": ENGINE_PORT,
        "engine_args": list(plan.engine_args),
        "gpus": plan.gpus_per_node,
        "nodes_per_replica": plan.nodes_per_replica,
        "cpu": cpu,
        "memory": memory,
        "shm_size_gib": plan.shm_size_gib,
        "weights_source": model.weights_source,
        "weights_s3_uri": model.weights if model.weights_source == "s3" else "",
        "weights_region": model.weights_region,
        "hf_repo": plan.model_id if model.weights_source == "hf" else "",
        "sync_image": aws_cli_image or "",
        "cache_size_gib": cache_size_gib(plan),
        "startup_period_seconds": budget.period_seconds,
        "startup_failure_threshold": budget.failure_threshold,
        "progress_deadline_seconds": budget.progress_deadline_seconds,
        "service_account": service_account,
        "node_selector": {MODEL_LABEL: model.alias},
        "tolerations": [GPU_TOLERATION],
        "allowed_client_namespaces": list(allowed_client_namespaces),
    }
    return render_values("model_server.yaml.j2", context)


def device_plugin_values() -> dict[str, Any]:
    """Values of NVIDIA's nvidia-device-plugin chart (helm_values/nvidia_device_plugin.yaml.j2)."""
    return render_values(
        "nvidia_device_plugin.yaml.j2",
        {"node_selector": {GPU_PRESENT_LABEL: "true"}, "tolerations": [GPU_TOLERATION]},
    )


def dcgm_exporter_values(*, service_monitor: bool) -> dict[str, Any]:
    """Values of NVIDIA's dcgm-exporter chart (helm_values/dcgm_exporter.yaml.j2); ``service_monitor`` when
    kube-prometheus-stack is deployed (paddock:monitoring.enabled)."""
    return render_values(
        "dcgm_exporter.yaml.j2",
        {
            "node_selector": {GPU_PRESENT_LABEL: "true"},
            "tolerations": [GPU_TOLERATION],
            "service_monitor": service_monitor,
        },
    )


def lws_values(*, replicas: int = 1) -> dict[str, Any]:
    """Values of the LeaderWorkerSet chart (helm_values/lws.yaml.j2); placement/images via ReleasePolicy."""
    return render_values("lws.yaml.j2", {"replicas": replicas})


def efa_device_plugin_values() -> dict[str, Any]:
    """Values of the aws-efa-k8s-device-plugin chart (helm_values/aws_efa_device_plugin.yaml.j2): GPU nodes
    only, tolerating the GPU taint."""
    return render_values(
        "aws_efa_device_plugin.yaml.j2",
        {"node_selector": {GPU_PRESENT_LABEL: "true"}, "tolerations": [GPU_TOLERATION]},
    )
