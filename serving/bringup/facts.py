"""EKS facts of ``serving/bringup/data/eks.yaml`` (add-on pods, kube reserve, system instance types,
pull-through upstreams, image sizes), loaded once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data" / "eks.yaml"


@cache
def eks_facts() -> dict[str, Any]:
    """The parsed data file."""
    data: dict[str, Any] = yaml.safe_load(DATA.read_text())
    return data


def addon(name: str) -> dict[str, Any] | None:
    """The record of add-on ``name`` (``coredns``), or None."""
    return next((a for a in eks_facts()["addons"] if a["name"] == name), None)


def reserve(vcpu: int, memory_gib: float, max_pods: int | None) -> tuple[float, float]:
    """``(cpu millicores, memory MiB)`` the node keeps for kubelet/system (kube-reserved + eviction)."""
    r = eks_facts()["reserve"]
    pods = max_pods or int(r["default_max_pods"])
    memory = float(r["memory_base_mib"]) + float(r["memory_per_pod_mib"]) * pods + float(r["eviction_mib"])
    cpu, left = 0.0, float(vcpu)
    for cores, share in r["cpu_steps"]:
        used = min(left, float(cores))
        cpu += used * 1000 * float(share)
        left -= used
    return cpu, min(memory, memory_gib * 1024)


def system_instance(instance_type: str) -> dict[str, Any] | None:
    """``{vcpu, memory_gib, max_pods}`` of a general-purpose type, or None."""
    found: dict[str, Any] | None = eks_facts()["system_instances"]["types"].get(instance_type)
    return found


def image_disk_gib(repository: str) -> float:
    """On-disk GiB of an image after pull (estimate of the data file)."""
    sizes = eks_facts()["image_disk_gib"]
    for repo, gib in sizes["repositories"].items():
        if repository.endswith(repo):
            return float(gib)
    return float(sizes["default"])
