"""Checks on nodes: scheduling (every pod fits a pool at its minimum size, or a node autoscaler installed
before it can grow one), capacity (instance type sold in the region for the purchase option) and disk (model
cache + image within the disk it is written to)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.bringup import facts
from serving.bringup.context import SYSTEM_KEY, Cluster
from serving.bringup.model import Finding
from serving.bringup.pools import Pool, fits_node, matches
from serving.bringup.workloads import Pod
from serving.catalog import availability
from serving.errors import InputError

MAX_SIMULATED_NODES = 64
"""Nodes simulated per pool (min sizes above this are capped; enough for every shipped stack)."""


@dataclass
class Placement:
    """Result of packing the install-time pods on the pools' minimum nodes."""

    placed: dict[int, list[str]]
    """pod index -> pool name per placed replica"""
    unplaced: dict[int, int]
    candidates: dict[int, list[Pool]]
    daemon_failures: list[tuple[Pod, Pool]]


def place(c: Cluster) -> Placement:
    """First-fit-decreasing packing of every install-time pod on the pools at their minimum size.
    DaemonSet pods are charged to every node of each pool they match first."""
    left = {p.name: [p.cpu_m, p.memory_mib, float(p.gpus)] for p in c.pools}
    daemon_failures: list[tuple[Pod, Pool]] = []
    for pod in (p for p in c.pods if p.daemon):
        for pool in c.pools:
            if not matches(pod, pool):
                continue
            room = left[pool.name]
            if not fits_node(pod, room[0], room[1], int(room[2]), pool):
                daemon_failures.append((pod, pool))
                continue
            room[0] -= pod.cpu_m
            room[1] -= pod.memory_mib
            room[2] -= pod.gpus
    nodes = [
        (pool, list(left[pool.name])) for pool in c.pools for _ in range(min(pool.min_nodes, MAX_SIMULATED_NODES))
    ]
    order = sorted(
        (i for i, p in enumerate(c.pods) if not p.daemon and p.replicas >= 1),
        key=lambda i: (-c.pods[i].gpus, -c.pods[i].cpu_m, -c.pods[i].memory_mib, c.pods[i].name),
    )
    placed: dict[int, list[str]] = {}
    unplaced: dict[int, int] = {}
    candidates: dict[int, list[Pool]] = {}
    for i in order:
        pod = c.pods[i]
        cands = [
            p for p in c.pools if matches(pod, p) and fits_node(pod, *_room(left[p.name]), p)
        ]
        candidates[i] = cands
        names = {p.name for p in cands}
        for _ in range(pod.replicas):
            node = next(
                (n for n in nodes if n[0].name in names and fits_node(pod, *_room(n[1]), n[0])), None
            )
            if node is None:
                unplaced[i] = unplaced.get(i, 0) + 1
                continue
            node[1][0] -= pod.cpu_m
            node[1][1] -= pod.memory_mib
            node[1][2] -= pod.gpus
            placed.setdefault(i, []).append(node[0].name)
    return Placement(placed=placed, unplaced=unplaced, candidates=candidates, daemon_failures=daemon_failures)


def _room(room: list[float]) -> tuple[float, float, int]:
    return room[0], room[1], int(room[2])


def _describe(pod: Pod) -> str:
    gpu = f", {pod.gpus} GPU" if pod.gpus else ""
    return f"{pod.kind} {pod.namespace}/{pod.name} ({pod.cpu_m:.0f}m CPU, {pod.memory_mib:.0f} MiB{gpu})"


def _no_pool_reason(c: Cluster, pod: Pod) -> str:
    if not c.pools:
        return "the stack has no node group, NodePool or adopted nodes"
    sel = {k: v for k, v in pod.node_selector.items()}
    tainted = [p.name for p in c.pools if all(p.labels.get(k) == str(v) for k, v in sel.items())]
    if not tainted:
        return f"no pool carries its nodeSelector {sel}"
    taints = sorted({f"{t['key']}={t['value']}:{t['effect']}" for p in c.pools if p.name in tainted for t in p.taints})
    if not any(matches(pod, p) for p in c.pools):
        return f"every pool matching its nodeSelector is tainted ({', '.join(taints)}) and it does not tolerate that"
    return "it is larger than one node of every pool it may run on"


def _autoscaler(c: Cluster, kind: str, placement: Placement) -> tuple[str | None, str]:
    """(release resource of the node autoscaler that grows pools of ``kind``, problem or "")."""
    chart = "karpenter" if kind == "karpenter" else "cluster-autoscaler"
    releases = c.releases(chart)
    if not releases:
        return None, f"no {chart} release is installed"
    name = str(releases[0]["name"])
    own = [i for i, p in enumerate(c.pods) if p.owner == name and not p.daemon]
    if not own and c.inp.charts.get(chart, str(releases[0]["inputs"].get("version", ""))) is None:
        return name, f"{chart} is not in the chart catalog, so its own scheduling is unproven"
    stuck = [c.pods[i].name for i in own if c.pods[i].replicas and placement.unplaced.get(i)]
    if stuck:
        return name, f"{chart} itself cannot schedule ({', '.join(stuck)} pending)"
    return name, ""


def check_scheduling(c: Cluster) -> list[Finding]:
    """Every pod template at install fits a pool at its minimum size (system pods summed), or a pool a node
    autoscaler can grow, that autoscaler being schedulable and installed before the pod's release."""
    out: list[Finding] = []
    for release, chart in c.workloads.unknown_charts:
        out.append(Finding("scheduling", "fail", release,
                           c.chart_key(release),
                           f"chart {chart} is not in {c.inp.charts.path}: its pods, nodeSelector and tolerations are unknown"))
    for release in c.workloads.unrendered:
        out.append(Finding("scheduling", "fail", release, "helm",
                           "manifests of our chart were not rendered (no helm): its pods are unknown"))
    placement = place(c)
    for pod, pool in placement.daemon_failures:
        out.append(Finding("scheduling", "fail", pod.owner, c.pod_key(pod),
                           f"{_describe(pod)} does not fit on a node of {pool.name} ({pool.cpu_m:.0f}m, {pool.memory_mib:.0f} MiB allocatable)"))
    assumed: set[str] = set()
    for i, pod in enumerate(c.pods):
        if pod.daemon or pod.replicas < 1:
            continue
        cands = placement.candidates.get(i, [])
        if not cands:
            out.append(Finding("scheduling", "fail", pod.owner, c.pod_key(pod),
                               f"{_describe(pod)} has no node to run on: {_no_pool_reason(c, pod)}"))
            continue
        for pool_name in placement.placed.get(i, []):
            if any(p.name == pool_name and p.kind == "assumed" for p in c.pools):
                assumed.add(pod.owner)
        missing = placement.unplaced.get(i, 0)
        if not missing:
            continue
        growable = [p for p in cands if p.growable_by and p.max_nodes > p.min_nodes]
        where = ", ".join(f"{p.name} (min {p.min_nodes})" for p in cands)
        if not growable:
            out.append(Finding("scheduling", "fail", pod.owner, c.pod_key(pod),
                               f"{missing} of {pod.replicas} replicas of {_describe(pod)} do not fit on the minimum nodes of {where} and no node autoscaler can grow them"))
            continue
        pool = growable[0]
        grower, problem = _autoscaler(c, pool.kind, placement)
        if grower is not None and grower not in c.graph.waits_for(pod.owner) and grower != pod.owner:
            late = f"{grower} is not installed before {pod.owner} (no dependsOn)"
            problem = f"{problem}; {late}" if problem else late
        if problem:
            out.append(Finding("scheduling", "fail", pod.owner,
                               "paddock:autoscaling.nodeAutoscaler" if problem.startswith("no ") else c.pod_key(pod),
                               f"{missing} of {pod.replicas} replicas of {_describe(pod)} need {pool.name} to grow from min {pool.min_nodes}, but {problem}"))
    for owner in sorted(assumed):
        out.append(Finding("scheduling", "assumed", owner, "paddock:cluster.create",
                           "its pods land on the adopted cluster's existing untainted nodes (not modelled)"))
    if not any(f.verdict == "fail" for f in out):
        out.append(Finding("scheduling", "pass", "cluster", SYSTEM_KEY,
                           f"{sum(1 for p in c.pods if p.replicas)} pod templates fit their pools at minimum size (or a node autoscaler installed first grows them)"))
    return out


def _model_plan(c: Cluster, alias: str | None) -> Mapping[str, Any]:
    return c.inp.plans.get(alias or "", {}) if alias else {}


def _model_config(c: Cluster, alias: str | None) -> Mapping[str, Any]:
    return next((m for m in c.config.get("models") or [] if m.get("alias") == alias), {})


def check_capacity(c: Cluster) -> list[Finding]:
    """Each node group's instance types are sold in the region for its purchase option; Capacity Blocks and
    reservations with an id pass (capacity bought beforehand)."""
    out: list[Finding] = []
    region = c.inp.region
    for pool in (p for p in c.pools if p.kind == "nodegroup"):
        alias = pool.labels.get("paddock.dev/model")
        model = _model_config(c, alias)
        purchase = str(model.get("capacity_type") or "on-demand")
        key = c.model_key(alias, "gpu") if alias else SYSTEM_KEY + ".instanceTypes"
        for itype in pool.instance_types:
            try:
                found = availability(itype, region)
            except InputError:
                out.append(Finding("capacity", "assumed", pool.name, key,
                                   f"{itype} is not a GPU type of serving/catalog: availability in {region} not checked"))
                continue
            if pool.capacity_type == "CAPACITY_BLOCK" or purchase == "capacity-block":
                out.append(Finding("capacity", "assumed", pool.name, c.model_key(alias, "capacityType"),
                                   f"{itype} runs on a Capacity Block bought beforehand"))
            elif purchase == "reservation":
                rid = model.get("capacity_reservation_id")
                verdict = "assumed" if rid else "fail"
                out.append(Finding("capacity", verdict, pool.name, c.model_key(alias, "capacityReservationId"),
                                   f"{itype} runs in reservation {rid}" if rid else f"{itype}: capacityType reservation without a capacityReservationId"))
            elif pool.capacity_type == "SPOT":
                if found is None or not found.offered:
                    out.append(Finding("capacity", "fail", pool.name, c.model_key(alias, "capacityType"),
                                       f"{itype} is not sold in {region} (spot), {found.describe() if found else 'no price row'}"))
            elif found is None or not found.offered:
                why = found.describe() if found else f"no On-Demand price row for {region}"
                out.append(Finding("capacity", "fail", pool.name, key,
                                   f"{itype} {pool.capacity_type} min {pool.min_nodes}: {why}; use capacityType capacity-block or reservation"))
    if not any(f.verdict == "fail" for f in out):
        out.append(Finding("capacity", "pass", "node groups", "paddock:models[].gpu",
                           f"every instance type is sold in {region} for its purchase option"))
    return out


def check_disk(c: Cluster) -> list[Finding]:
    """Per model: the cache (whole checkpoint x replicas per node) plus the engine image fit the disk it is
    written to (local NVMe when the node mounts it RAID0, else the root volume), and the cache emptyDir's
    sizeLimit holds the checkpoint. Reads the plan's cache disk fields when present."""
    out: list[Finding] = []
    root_reserved = float(facts.eks_facts()["root_reserved_gib"]["value"])
    for pool in (p for p in c.pools if p.kind == "nodegroup" and p.labels.get("paddock.dev/model")):
        alias = pool.labels["paddock.dev/model"]
        plan = _model_plan(c, alias)
        if not plan:
            continue
        per_node = max(1, int(plan.get("replicas_per_node", 1)))
        checkpoint = float(plan.get("checkpoint_gib", plan.get("weights_gib_total", 0)))
        need = float(plan.get("cache_gib", checkpoint * per_node))
        images = [i for p in c.pods if p.node_selector.get("paddock.dev/model") == alias and not p.daemon for i in p.images]
        image = max((facts.image_disk_gib(i.split(":")[0]) for i in images), default=facts.image_disk_gib(""))
        kind = str(plan.get("cache_disk_kind") or ("nvme" if pool.raid0_nvme else "root"))
        nvme_gib = 0.0
        for t in pool.instance_types:
            try:
                from serving.catalog import get_instance

                nvme_gib = get_instance(t).nvme_gb * 1e9 / 2**30
            except InputError:
                pass
        if plan.get("cache_disk_capacity_gib") is not None:
            capacity = float(plan["cache_disk_capacity_gib"])
        elif kind == "nvme":
            capacity = nvme_gib
        else:
            capacity = pool.root_gib
        # containerd writes images where kubelet writes emptyDirs: both on NVMe when RAID0-mounted, else root.
        used = need + image + (0 if kind == "nvme" else root_reserved)
        where = f"local NVMe RAID0 ({capacity:.0f} GiB)" if kind == "nvme" else f"the {capacity:.0f} GiB root volume"
        if kind == "root" and nvme_gib and not pool.raid0_nvme:
            where += f" (the instance's {nvme_gib:.0f} GiB NVMe is not mounted)"
        key = c.model_key(alias, "gpu")
        if used > capacity:
            out.append(Finding("disk", "fail", pool.name, key,
                               f"{alias}: cache {need:.0f} GiB ({per_node} x {checkpoint:.0f} GiB checkpoint) + image {image:.0f} GiB"
                               + ("" if kind == "nvme" else f" + {root_reserved:.0f} GiB system") + f" exceed {where}"))
        release = next((p for p in c.pods if p.node_selector.get("paddock.dev/model") == alias and p.empty_dirs), None)
        if release is not None:
            limit = max(release.empty_dirs.values()) / 1024
            if 0 < limit < checkpoint:
                out.append(Finding("disk", "fail", release.owner, c.model_key(alias, "model"),
                                   f"{alias}: cache emptyDir sizeLimit {limit:.0f} GiB < the {checkpoint:.0f} GiB checkpoint the init container syncs (kubelet evicts the pod)"))
    if not any(f.verdict == "fail" for f in out):
        out.append(Finding("disk", "pass", "models", "paddock:models[].gpu",
                           "every model cache and image fit the disk they are written to"))
    return out
