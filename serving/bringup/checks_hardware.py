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
    """The rendered disk (RAID0 NVMe when the launch template mounts it, else the data volume) against the
    plan's cache (``cache_gib``, else checkpoint x replicas per node) + image (``image_gib``, else
    data/eks.yaml), 90 % usable (kubelet hard eviction nodefs.available<10%)."""
    plan = c.inp.plans.get(alias) or {}
    if not plan:
        return []
    out: list[Finding] = []
    disk = facts.eks_facts()["disk"]
    per_node = max(1, int(plan.get("replicas_per_node", 1)))
    checkpoint = float(plan.get("checkpoint_gib", 0))
    need = float(plan.get("cache_gib") or checkpoint * per_node)
    pods = [p for p in c.pods if p.node_selector.get("paddock.dev/model") == alias and not p.daemon]
    estimate = max((facts.image_disk_gib(i.rsplit(":", 1)[0]) for p in pods for i in p.images), default=0.0)
    image = float(plan.get("image_gib") or estimate)
    nvme = _nvme_gib(pool)
    key = c.model_key(alias, "gpu")
    if plan.get("cache_disk") == "nvme" and not pool.raid0_nvme:
        out.append(
            fail(
                "disk",
                pool.name,
                key,
                f"{alias}: the plan puts the cache on local NVMe but {pool.name}'s launch template does not "
                "mount the instance store (no RAID0 user data): it lands on the root volume",
            )
        )
    on_nvme = pool.raid0_nvme and nvme > 0
    capacity = nvme if on_nvme else pool.root_gib
    usable = capacity * float(disk["usable_fraction"])
    system = 0.0 if on_nvme else float(disk["root_reserved_gib"])
    where = f"local NVMe RAID0 ({capacity:.0f} GiB)" if on_nvme else f"the {capacity:.0f} GiB data volume"
    if not on_nvme and nvme:
        where += f" (the instance's {nvme:.0f} GiB NVMe is not mounted)"
    if need + image + system > usable:
        extra = f" + {system:.0f} GiB system" if system else ""
        out.append(
            fail(
                "disk",
                pool.name,
                key,
                f"{alias}: cache {need:.0f} GiB (checkpoint {checkpoint:.0f} GiB, {per_node} per node) + "
                f"image {image:.0f} GiB{extra} exceed {usable:.0f} GiB usable of {where}",
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
    """Per model node group: the cache plus the engine image fit the disk they are written to (see
    :func:`_disk_of`), the plan's NVMe cache is really mounted, the cache emptyDir holds the checkpoint."""
    out = [
        f
        for pool in c.pools
        if pool.kind in ("nodegroup", "karpenter") and pool.labels.get("paddock.dev/model")
        for f in _disk_of(c, pool, pool.labels["paddock.dev/model"])
    ]
    return passed(
        out,
        "disk",
        "models",
        "paddock:models[].gpu",
        "every model cache and image fit the disk they are written to",
    )
