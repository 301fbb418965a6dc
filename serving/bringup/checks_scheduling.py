"""Check ``scheduling``: every pod template that exists at install fits a pool at its minimum size (system
pods summed on the system pool), or a pool that a node autoscaler can grow, that autoscaler being itself
schedulable and installed before the pod's release (dependsOn)."""

from __future__ import annotations

from dataclasses import dataclass

from serving.bringup.charts import values_at
from serving.bringup.checks_common import assumed, fail, passed
from serving.bringup.context import SYSTEM_KEY, Cluster
from serving.bringup.model import Finding
from serving.bringup.pools import Pool, fits_node, matches
from serving.bringup.workloads import Pod

CHECK = "scheduling"
MAX_SIMULATED_NODES = 64
"""Nodes simulated per pool (a larger minimum size is capped; enough for every shipped stack)."""


@dataclass
class Placement:
    """Result of packing the install-time pods on the pools' minimum nodes."""

    placed: dict[int, list[str]]
    """pod index -> pool name of each placed replica"""
    unplaced: dict[int, int]
    """pod index -> replicas left pending"""
    candidates: dict[int, list[Pool]]
    """pod index -> pools whose labels/taints admit it and whose node is large enough"""
    daemon_failures: list[tuple[Pod, Pool]]


def _room(room: list[float]) -> tuple[float, float, int]:
    return room[0], room[1], int(room[2])


def _take(room: list[float], pod: Pod) -> None:
    room[0] -= pod.cpu_m
    room[1] -= pod.memory_mib
    room[2] -= pod.gpus


def place(c: Cluster) -> Placement:
    """:func:`pack` once per analysis (scheduling and order both read it)."""
    found = c.memo.get("placement")
    if not isinstance(found, Placement):
        found = pack(c)
        c.memo["placement"] = found
    return found


def pack(c: Cluster) -> Placement:
    """First-fit-decreasing packing of every install-time pod on the pools at their minimum size. DaemonSet
    pods are charged to every node of each pool they match first."""
    left = {p.name: [p.cpu_m, p.memory_mib, float(p.gpus)] for p in c.pools}
    daemon_failures: list[tuple[Pod, Pool]] = []
    for pod in (p for p in c.pods if p.daemon):
        for pool in (p for p in c.pools if matches(pod, p)):
            if fits_node(pod, *_room(left[pool.name]), pool):
                _take(left[pool.name], pod)
            else:
                daemon_failures.append((pod, pool))
    nodes = [
        (pool, list(left[pool.name]))
        for pool in c.pools
        for _ in range(min(pool.min_nodes, MAX_SIMULATED_NODES))
    ]
    order = sorted(
        (i for i, p in enumerate(c.pods) if not p.daemon and p.replicas >= 1),
        key=lambda i: (-c.pods[i].gpus, -c.pods[i].cpu_m, -c.pods[i].memory_mib, c.pods[i].name),
    )
    out = Placement(placed={}, unplaced={}, candidates={}, daemon_failures=daemon_failures)
    for i in order:
        pod = c.pods[i]
        cands = [p for p in c.pools if matches(pod, p) and fits_node(pod, *_room(left[p.name]), p)]
        out.candidates[i] = cands
        names = {p.name for p in cands}
        for _ in range(pod.replicas):
            node = next((n for n in nodes if n[0].name in names and fits_node(pod, *_room(n[1]), n[0])), None)
            if node is None:
                out.unplaced[i] = out.unplaced.get(i, 0) + 1
            else:
                _take(node[1], pod)
                out.placed.setdefault(i, []).append(node[0].name)
    return out


def describe(pod: Pod) -> str:
    """``Deployment serving/llama-8b (3000m CPU, 25600 MiB, 1 GPU)``."""
    gpu = f", {pod.gpus} GPU" if pod.gpus else ""
    return f"{pod.kind} {pod.namespace}/{pod.name} ({pod.cpu_m:.0f}m CPU, {pod.memory_mib:.0f} MiB{gpu})"


def _no_pool_reason(c: Cluster, pod: Pod) -> str:
    if not c.pools:
        return "the stack has no node group, NodePool or adopted nodes"
    selected = [p for p in c.pools if all(p.labels.get(k) == str(v) for k, v in pod.node_selector.items())]
    if not selected:
        return f"no pool carries its nodeSelector {dict(pod.node_selector)}"
    if not any(matches(pod, p) for p in selected):
        taints = sorted({f"{t['key']}={t['value']}:{t['effect']}" for p in selected for t in p.taints})
        return f"every pool matching its nodeSelector is tainted ({', '.join(taints)}) and it tolerates none"
    return "it is larger than one node of every pool it may run on"


def _autoscaler(c: Cluster, pool: Pool, placement: Placement) -> tuple[str | None, str]:
    """(release resource of the node autoscaler that grows ``pool``, why it cannot, or "")."""
    chart = "karpenter" if pool.growable_by == "karpenter" else "cluster-autoscaler"
    releases = c.releases(chart)
    if not releases:
        return None, f"no {chart} release is installed"
    rel = releases[0]
    name = str(rel["name"])
    if c.inp.charts.get(chart, str(rel["inputs"].get("version", ""))) is None:
        return name, f"{chart} is not in the chart catalog, so its own scheduling is unproven"
    stuck = [c.pods[i].name for i, p in enumerate(c.pods) if p.owner == name and placement.unplaced.get(i)]
    stuck += [
        c.pods[i].name
        for i, p in enumerate(c.pods)
        if p.owner == name and not placement.candidates.get(i, [1])
    ]
    if stuck:
        return name, f"{chart} itself cannot schedule ({', '.join(sorted(set(stuck)))} pending)"
    if chart == "cluster-autoscaler":
        cluster = values_at(rel["inputs"].get("values") or {}, "autoDiscovery.clusterName")
        tag = f"k8s.io/cluster-autoscaler/{cluster}"
        if cluster and tag not in pool.tags:
            return name, f"{pool.name} lacks the auto-discovery tag {tag}"
    return name, ""


def _grow(c: Cluster, pod: Pod, missing: int, cands: list[Pool], placement: Placement) -> Finding | None:
    """None when a node autoscaler installed before the pod grows one of its pools; else the failure."""
    growable = [p for p in cands if p.growable_by and p.max_nodes > p.min_nodes]
    where = ", ".join(f"{p.name} (min {p.min_nodes}, max {p.max_nodes})" for p in cands)
    head = f"{missing} of {pod.replicas} replicas of {describe(pod)}"
    if not growable:
        return fail(
            CHECK,
            pod.owner,
            c.pod_key(pod),
            f"{head} do not fit on {where} and no node autoscaler can grow them",
        )
    pool = growable[0]
    grower, problem = _autoscaler(c, pool, placement)
    if grower is not None and grower != pod.owner and grower not in c.graph.waits_for(pod.owner):
        late = f"{grower} is not installed before {pod.owner} (no dependsOn)"
        problem = f"{problem}; {late}" if problem else late
    if not problem:
        return None
    key = "paddock:autoscaling.nodeAutoscaler" if problem.startswith("no ") else c.pod_key(pod)
    return fail(
        CHECK, pod.owner, key, f"{head} need {pool.name} to grow from min {pool.min_nodes}, but {problem}"
    )


def check_scheduling(c: Cluster) -> list[Finding]:
    """See the module docstring."""
    out: list[Finding] = []
    for release, chart in c.workloads.unknown_charts:
        out.append(
            fail(
                CHECK,
                release,
                c.chart_key(release),
                f"chart {chart} is not in {c.inp.charts.path}: its pods and their scheduling are unknown",
            )
        )
    for release in c.workloads.unrendered:
        out.append(
            fail(CHECK, release, "helm", "our chart's manifests were not rendered (no helm): pods unknown")
        )
    placement = place(c)
    for pod, pool in placement.daemon_failures:
        out.append(
            fail(
                CHECK,
                pod.owner,
                c.pod_key(pod),
                f"{describe(pod)} does not fit on a node of {pool.name} "
                f"({pool.cpu_m:.0f}m, {pool.memory_mib:.0f} MiB allocatable)",
            )
        )
    on_assumed: set[str] = set()
    assumed_pools = {p.name for p in c.pools if p.kind == "assumed"}
    for i, pod in enumerate(c.pods):
        if pod.daemon or pod.replicas < 1:
            continue
        cands = placement.candidates.get(i, [])
        if not cands:
            out.append(
                fail(
                    CHECK,
                    pod.owner,
                    c.pod_key(pod),
                    f"{describe(pod)} has no node to run on: {_no_pool_reason(c, pod)}",
                )
            )
            continue
        if set(placement.placed.get(i, [])) & assumed_pools:
            on_assumed.add(pod.owner)
        missing = placement.unplaced.get(i, 0)
        problem = _grow(c, pod, missing, cands, placement) if missing else None
        if problem is not None:
            out.append(problem)
    for owner in sorted(on_assumed):
        out.append(
            assumed(
                CHECK,
                owner,
                "paddock:cluster.create",
                "its pods land on the adopted cluster's existing untainted nodes (not modelled)",
            )
        )
    count = sum(1 for p in c.pods if p.replicas)
    return passed(
        out,
        CHECK,
        "cluster",
        SYSTEM_KEY,
        f"{count} pod templates fit their pools at minimum size (or a node autoscaler installed "
        "first grows them)",
    )
