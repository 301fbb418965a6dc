"""System pods of a rendered stack and what they request (sizing the untainted system node group).

Pure. Reads the Helm releases of a plan (``resources.json`` records: type, name, inputs) and, for each
third-party chart of serving/catalog/data/charts.yaml, lists its pod templates as our values configure them
(:func:`serving.chart_overrides.pod_templates`); the gateway (our chart) is added from its values. The
"## System pods" section of summary.md sums the requests of every replica that lands on the system pool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serving.catalog.charts import list_charts
from serving.chart_overrides import PodTemplate, chart_name_of, pod_templates
from serving.release_values import SYSTEM_POOL_LABEL

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
_CPU = re.compile(r"(\d+(?:\.\d+)?)(m?)")
_MEM = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?")
_MEM_MIB = {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2, "k": 1e3 / 2**20,
            "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20}  # fmt: skip


def cpu_millicores(quantity: str) -> int:
    """``100m`` -> 100, ``1`` -> 1000, ``0.5`` -> 500 (Kubernetes CPU quantity)."""
    found = _CPU.fullmatch(str(quantity))
    if found is None:
        raise ValueError(f"{quantity!r} is not a CPU quantity")
    value = float(found.group(1))
    return round(value if found.group(2) else value * 1000)


def memory_mib(quantity: str) -> float:
    """``128Mi`` -> 128, ``2Gi`` -> 2048 (Kubernetes memory quantity, MiB)."""
    found = _MEM.fullmatch(str(quantity))
    if found is None:
        raise ValueError(f"{quantity!r} is not a memory quantity")
    return float(found.group(1)) * _MEM_MIB[found.group(2)]


@dataclass(frozen=True, kw_only=True)
class SystemPod:
    """Pods of one workload, as the release configures them."""

    release: str
    template: PodTemplate

    @property
    def on_system_pool(self) -> bool:
        """Not a DaemonSet and selects the system pool."""
        selector = self.template.node_selector
        return self.template.kind != "DaemonSet" and all(
            selector.get(k) == v for k, v in SYSTEM_POOL_LABEL.items()
        )


def system_pods(resources: Sequence[Mapping[str, Any]]) -> list[SystemPod]:
    """Every workload of every release of a plan that the catalog describes, plus the gateway."""
    known = {c.name for c in list_charts()}
    pods: list[SystemPod] = []
    for record in resources:
        if record.get("type") != RELEASE_TYPE:
            continue
        inputs = record.get("inputs", {})
        release = str(inputs.get("name") or record.get("name"))
        values = inputs.get("values") or {}
        name = chart_name_of(str(inputs.get("chart", "")))
        if name in known:
            version = inputs.get("version")
            for template in pod_templates(name, str(version) if version else None, values):
                pods.append(SystemPod(release=release, template=template))
        elif name == "gateway":
            pods.append(SystemPod(release=release, template=_gateway(values)))
    return pods


def _gateway(values: Mapping[str, Any]) -> PodTemplate:
    image = values.get("image", {})
    return PodTemplate(
        chart="paddock-gateway",
        workload="gateway",
        kind="Deployment",
        created_by="chart",
        replicas=int(values.get("replicas", 1)),
        node_selector=dict(values.get("nodeSelector") or {}),
        tolerations=(),
        affinity_requires=(),
        requests=dict((values.get("resources") or {}).get("requests") or {}),
        images=(f"{image.get('repository')}:{image.get('tag')}",),
    )


def system_pool_requests(pods: Sequence[SystemPod]) -> tuple[int, float]:
    """(CPU millicores, memory MiB) requested by every replica placed on the system pool."""
    cpu, mem = 0, 0.0
    for pod in pods:
        if not pod.on_system_pool:
            continue
        replicas = pod.template.replicas or 0
        cpu += replicas * cpu_millicores(pod.template.requests.get("cpu", "0"))
        mem += replicas * memory_mib(pod.template.requests.get("memory", "0"))
    return cpu, mem


def system_pods_markdown(resources: Sequence[Mapping[str, Any]]) -> str:
    """The "## System pods" section of summary.md."""
    pods = system_pods(resources)
    lines = [
        "## System pods",
        "",
        "| release | workload | kind | replicas | nodeSelector | requests |",
        "|---|---|---|---|---|---|",
    ]
    for pod in pods:
        t = pod.template
        selector = ", ".join(f"{k}={v}" for k, v in sorted(t.node_selector.items())) or "(any)"
        requests = ", ".join(f"{k} {v}" for k, v in sorted(t.requests.items())) or "none"
        replicas = "per node" if t.replicas is None else str(t.replicas)
        lines.append(f"| {pod.release} | {t.workload} | {t.kind} | {replicas} | {selector} | {requests} |")
    cpu, mem = system_pool_requests(pods)
    lines += [
        "",
        f"On the system pool (`paddock.dev/pool=system`): {cpu} m CPU, {mem:.0f} MiB memory requested.",
    ]
    return "\n".join(lines) + "\n"
