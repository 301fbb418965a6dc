"""Variants of the shipped stacks that issue 11 says must also come up: a 405B model, Karpenter, TGI at
min 0, an adopted VPC + cluster. Built as overlays of stacks/Pulumi.<base>.yaml so they follow the shipped
stacks as those are fixed. ``write_variants(dir)`` writes them as stack files (for ``paddock plan
--stacks-dir``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

STACKS = Path(__file__).resolve().parents[2] / "stacks"
Overlay = Callable[[dict[str, Any]], None]


def _405b(c: dict[str, Any]) -> None:
    c["paddock:models"][0].update({"model": "llama-3.1-405b", "gpu": "auto"})


def _405b_multinode(c: dict[str, Any]) -> None:
    """bf16 405B on A100 80GB: a replica spans two p4de (PP2) over EFA, served by a LeaderWorkerSet."""
    c["paddock:models"][0].update({"model": "llama-3.1-405b", "gpu": "a100-80gb"})


def _karpenter(c: dict[str, Any]) -> None:
    c.setdefault("paddock:autoscaling", {}).update(
        {"nodeAutoscaler": "karpenter", "karpenterAmiAlias": "al2023@v20251120"}
    )


def _tgi_min0(c: dict[str, Any]) -> None:
    c["paddock:models"][0].update({"engine": "tgi", "replicas": {"min": 0, "max": 2}})
    c["paddock:versions"].setdefault("tgiImage", "ghcr.io/huggingface/text-generation-inference:3.3.4")


def _adopted(c: dict[str, Any]) -> None:
    c["paddock:network"] = {
        "create": False,
        "existingVpcId": "vpc-0123456789abcdef0",
        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    }
    c["paddock:cluster"] = {**c["paddock:cluster"], "create": False, "existingClusterName": "shared-dev"}


OVERLAYS: dict[str, Overlay] = {
    "405b": _405b,
    "405b-multinode": _405b_multinode,
    "karpenter": _karpenter,
    "tgi-min0": _tgi_min0,
    "adopted": _adopted,
}
#: variant name -> (shipped stack it overlays, overlay). prod-eu has no 405B variant: no instance type sold
#: On-Demand in eu-central-1 serves its 64 x 32k workload (a config error naming paddock:models[0].gpu).
VARIANTS: dict[str, tuple[str, Overlay]] = {
    f"{base}-{name}": (base, overlay)
    for base in ("dev", "prod-eu", "ephemeral")
    for name, overlay in OVERLAYS.items()
    if (base, name) not in (("prod-eu", "405b"), ("prod-eu", "405b-multinode"))
}


def variant_doc(name: str) -> dict[str, Any]:
    base, overlay = VARIANTS[name]
    doc: dict[str, Any] = copy.deepcopy(yaml.safe_load((STACKS / f"Pulumi.{base}.yaml").read_text()))
    overlay(doc["config"])
    return doc


def write_variants(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in VARIANTS:
        path = directory / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump(variant_doc(name)))
        paths.append(path)
    return paths
