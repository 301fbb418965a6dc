"""Checks ``capacity`` (each node group's instance type is sold in the region for its purchase option) and
``disk`` (a model's cache plus its image fit the disk they are written to)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.bringup import facts
from serving.bringup.checks_common import assumed, fail, passed
from serving.bringup.context import SYSTEM_KEY, Cluster
from serving.bringup.model import Finding
from serving.bringup.pools import Pool
from serving.catalog import availability, get_instance
from serving.errors import InputError


def _model_config(c: Cluster, alias: str | None) -> Mapping[str, Any]:
    return next((m for m in c.config.get("models") or [] if m.get("alias") == alias), {})


def _capacity_of(c: Cluster, pool: Pool, itype: str) -> Finding | None:
    region = c.inp.region
    alias = pool.labels.get("paddock.dev/model")
    model = _model_config(c, alias)
    purchase = str(model.get("capacity_type") or "on-demand")
    key = c.model_key(alias, "gpu") if alias else SYSTEM_KEY + ".instanceTypes"
    try:
        found = availability(itype, region)
    except InputError:
        return assumed(
            "capacity",
            pool.name,
            key,
            f"{itype} is not a GPU type of serving/catalog: availability in {region} not checked",
        )
    if pool.capacity_type == "CAPACITY_BLOCK" or purchase == "capacity-block":
        return assumed(
            "capacity",
            pool.name,
            c.model_key(alias, "capacityType"),
            f"{itype} runs on a Capacity Block bought before `pulumi up`",
        )
    if purchase == "reservation":
        rid = model.get("capacity_reservation_id")
        if not rid:
            return fail(
                "capacity",
                pool.name,
                c.model_key(alias, "capacityReservationId"),
                f"{itype}: capacityType reservation without a capacityReservationId",
            )
        return assumed(
            "capacity",
            pool.name,
            c.model_key(alias, "capacityReservationId"),
            f"{itype} runs in On-Demand Capacity Reservation {rid}",
        )
    if found is not None and found.offered:
        return None
    why = found.describe() if found else f"no price row for {region}"
    option = "spot" if pool.capacity_type == "SPOT" else "On-Demand"
    return fail(
        "capacity",
        pool.name,
        key,
        f"{itype} {option} min {pool.min_nodes}: {why}; set capacityType capacity-block or reservation",
    )


def check_capacity(c: Cluster) -> list[Finding]:
    """Instance types sold in the region for the purchase option; Capacity Blocks and reservations with an id
    are assumed (capacity bought beforehand); general-purpose types outside the GPU catalog are assumed."""
    out = [
        f
        for pool in c.pools
        if pool.kind == "nodegroup"
        for itype in pool.instance_types
        if (f := _capacity_of(c, pool, itype)) is not None
    ]
    return passed(
        out,
        "capacity",
        "node groups",
        "paddock:models[].gpu",
        f"every GPU instance type is sold in {c.inp.region} for its purchase option",
    )


def _nvme_gib(pool: Pool) -> float:
    for t in pool.instance_types:
        try:
            return get_instance(t).nvme_gb * 1e9 / 2**30
        except InputError:
            continue
    return 0.0


def _disk_of(c: Cluster, pool: Pool, alias: str) -> list[Finding]:
    plan = c.inp.plans.get(alias) or {}
    if not plan:
        return []
    out: list[Finding] = []
    per_node = max(1, int(plan.get("replicas_per_node", 1)))
    checkpoint = float(plan.get("checkpoint_gib", plan.get("weights_gib_total", 0)))
    need = float(plan.get("cache_gib", checkpoint * per_node))
    pods = [p for p in c.pods if p.node_selector.get("paddock.dev/model") == alias and not p.daemon]
    image = max((facts.image_disk_gib(i.rsplit(":", 1)[0]) for p in pods for i in p.images), default=0.0)
    nvme = _nvme_gib(pool)
    kind = str(plan.get("cache_disk_kind") or ("nvme" if pool.raid0_nvme else "root"))
    capacity = float(plan.get("cache_disk_capacity_gib") or (nvme if kind == "nvme" else pool.root_gib))
    system = 0.0 if kind == "nvme" else float(facts.eks_facts()["root_reserved_gib"]["value"])
    # containerd writes images where kubelet writes emptyDirs: both on NVMe when RAID0-mounted, else the root
    where = (
        f"local NVMe RAID0 ({capacity:.0f} GiB)" if kind == "nvme" else f"the {capacity:.0f} GiB root volume"
    )
    if kind != "nvme" and nvme and not pool.raid0_nvme:
        where += f" (the instance's {nvme:.0f} GiB NVMe is not mounted)"
    if need + image + system > capacity:
        extra = f" + {system:.0f} GiB system" if system else ""
        out.append(
            fail(
                "disk",
                pool.name,
                c.model_key(alias, "gpu"),
                f"{alias}: cache {need:.0f} GiB ({per_node} x {checkpoint:.0f} GiB checkpoint) + image "
                f"{image:.0f} GiB{extra} exceed {where}",
            )
        )
    for pod in (p for p in pods if p.empty_dirs):
        limit = max(pod.empty_dirs.values()) / 1024
        if 0 < limit < checkpoint:
            out.append(
                fail(
                    "disk",
                    pod.owner,
                    c.model_key(alias, "model"),
                    f"{alias}: cache emptyDir sizeLimit {limit:.0f} GiB < the {checkpoint:.0f} GiB "
                    "checkpoint the init container syncs (kubelet evicts the pod)",
                )
            )
    return out


def check_disk(c: Cluster) -> list[Finding]:
    """Per model node group: the cache (checkpoint x replicas per node, or the plan's ``cache_gib``) plus
    the engine image fit the disk they are written to (the plan's ``cache_disk_kind`` /
    ``cache_disk_capacity_gib`` when present; else local NVMe when the node mounts it RAID0, else the launch
    template's data volume), and the cache emptyDir's sizeLimit holds the checkpoint."""
    out = [
        f
        for pool in c.pools
        if pool.kind == "nodegroup" and pool.labels.get("paddock.dev/model")
        for f in _disk_of(c, pool, pool.labels["paddock.dev/model"])
    ]
    return passed(
        out,
        "disk",
        "models",
        "paddock:models[].gpu",
        "every model cache and image fit the disk they are written to",
    )
