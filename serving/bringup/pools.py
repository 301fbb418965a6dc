"""Node pools of a stack: EKS managed node groups, Karpenter NodePools and the assumed nodes of an adopted
cluster, each with per-node allocatable (instance catalog minus the kube/system reserve of data/eks.yaml)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serving.bringup import facts
from serving.bringup.model import Graph
from serving.bringup.quantity import mebibytes
from serving.bringup.workloads import Pod
from serving.catalog import get_instance
from serving.errors import InputError

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_POOL_PREFIX = "kubernetes:karpenter.sh/"
_EFFECT = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
UNBOUNDED = 10**9


@dataclass
class Pool:
    """Nodes of one kind: labels/taints every node carries, per-node allocatable, min/max node count."""

    name: str
    kind: str
    """``nodegroup`` | ``karpenter`` | ``assumed``."""
    labels: dict[str, str]
    taints: list[dict[str, str]]
    min_nodes: int
    max_nodes: int
    cpu_m: float
    memory_mib: float
    gpus: int
    instance_types: list[str] = field(default_factory=list)
    root_gib: float = 0.0
    raid0_nvme: bool = False
    capacity_type: str = ""
    ami_type: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    growable_by: str | None = None
    """``cluster-autoscaler`` (tagged for auto-discovery) or ``karpenter``."""
    sized: bool = True
    """False when the instance types are unknown (allocatable not modelled: any pod fits)."""


def _node_capacity(types: Sequence[str]) -> tuple[float, float, int, bool]:
    """Smallest allocatable over the group's instance types: (cpu m, memory MiB, gpus, known)."""
    best: tuple[float, float, int] | None = None
    for t in types:
        try:
            spec = get_instance(t, field="instanceTypes")
            vcpu, mem_gib, gpus, pods = spec.vcpu, float(spec.memory_gib), spec.gpus, None
        except InputError:
            sysinst = facts.system_instance(t)
            if sysinst is None:
                return 0, 0, 0, False
            vcpu, mem_gib, gpus = int(sysinst["vcpu"]), float(sysinst["memory_gib"]), 0
            pods = int(sysinst["max_pods"])
        cpu_r, mem_r = facts.reserve(vcpu, mem_gib, pods)
        cap = (vcpu * 1000 - cpu_r, mem_gib * 1024 - mem_r, gpus)
        best = cap if best is None else (min(best[0], cap[0]), min(best[1], cap[1]), min(best[2], cap[2]))
    if best is None:
        return 0, 0, 0, False
    return best[0], best[1], best[2], True


def _user_data(lt: Mapping[str, Any]) -> str:
    raw = str(lt["inputs"].get("userData") or "")
    try:
        return base64.b64decode(raw, validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        return raw


def mounts_instance_store(user_data: str) -> bool:
    """Whether launch-template user data puts kubelet/containerd on the instance store: AL2023 nodeadm
    ``localStorage: {strategy: RAID0}`` or Bottlerocket ``apiclient ephemeral-storage init`` + ``bind``."""
    nodeadm = "localStorage" in user_data and "RAID0" in user_data
    bottlerocket = "ephemeral-storage" in user_data and "init" in user_data and "bind" in user_data
    return nodeadm or bottlerocket


def node_group_pool(ng: Mapping[str, Any], graph: Graph) -> Pool:
    """A :class:`Pool` from an ``aws:eks/nodeGroup:NodeGroup`` record (its launch template found through
    its dependsOn)."""
    inputs = ng["inputs"]
    scaling = inputs.get("scalingConfig") or {}
    types = [str(t) for t in inputs.get("instanceTypes") or []]
    cpu, mem, gpus, known = _node_capacity(types)
    labels = {str(k): str(v) for k, v in (inputs.get("labels") or {}).items()}
    labels.setdefault("kubernetes.io/os", "linux")
    labels["eks.amazonaws.com/nodegroup"] = str(inputs.get("nodeGroupName") or ng["name"])
    if len(types) == 1:
        labels["node.kubernetes.io/instance-type"] = types[0]
    taints = [
        {
            "key": str(t.get("key")),
            "value": str(t.get("value", "")),
            "effect": _EFFECT.get(t["effect"], t["effect"]),
        }
        for t in inputs.get("taints") or []
    ]
    lt = next(
        (
            graph.by_name[d]
            for d in ng.get("dependsOn") or ()
            if graph.by_name.get(d, {}).get("type") == LAUNCH_TEMPLATE
        ),
        None,
    )
    root = float(inputs.get("diskSize") or 20)
    raid0 = False
    # the volume kubelet and containerd write to: Bottlerocket's data volume /dev/xvdb, else the root volume
    data_device = "/dev/xvdb" if "BOTTLEROCKET" in str(inputs.get("amiType", "")) else "/dev/xvda"
    if lt is not None:
        for bdm in lt["inputs"].get("blockDeviceMappings") or []:
            size = (bdm.get("ebs") or {}).get("volumeSize")
            if size and bdm.get("deviceName") == data_device:
                root = float(size)
        raid0 = mounts_instance_store(_user_data(lt))
    tags = inputs.get("tags") or {}
    growable = "cluster-autoscaler" if str(tags.get("k8s.io/cluster-autoscaler/enabled")) == "true" else None
    return Pool(
        name=str(ng["name"]),
        kind="nodegroup",
        labels=labels,
        taints=taints,
        min_nodes=int(scaling.get("minSize", 0)),
        max_nodes=int(scaling.get("maxSize", 0)),
        cpu_m=cpu,
        memory_mib=mem,
        gpus=gpus,
        instance_types=types,
        root_gib=root,
        raid0_nvme=raid0,
        capacity_type=str(inputs.get("capacityType", "ON_DEMAND")),
        ami_type=str(inputs.get("amiType", "")),
        tags={str(k): str(v) for k, v in tags.items()},
        growable_by=growable,
        sized=known,
    )


def _node_class(rec: Mapping[str, Any], graph: Graph) -> Mapping[str, Any]:
    """The EC2NodeClass a NodePool names (``spec.template.spec.nodeClassRef.name``), else {}."""
    spec = ((rec["inputs"].get("spec") or {}).get("template") or {}).get("spec") or {}
    name = (spec.get("nodeClassRef") or {}).get("name")
    for r in graph.resources:
        if (
            str(r["type"]).endswith(":EC2NodeClass")
            and (r["inputs"].get("metadata") or {}).get("name") == name
        ):
            return dict(r["inputs"].get("spec") or {})
    return {}


def karpenter_pool(rec: Mapping[str, Any], graph: Graph) -> Pool:
    """A :class:`Pool` from a Karpenter NodePool: min 0, grown by Karpenter; sized from an
    ``node.kubernetes.io/instance-type In [...]`` requirement when it has one; disk from its EC2NodeClass
    (``instanceStorePolicy: RAID0``, the ``/dev/xvda`` volume)."""
    tmpl = (rec["inputs"].get("spec") or {}).get("template") or {}
    labels = {str(k): str(v) for k, v in ((tmpl.get("metadata") or {}).get("labels") or {}).items()}
    labels.setdefault("kubernetes.io/os", "linux")
    spec = tmpl.get("spec") or {}
    taints = [
        {"key": str(t.get("key")), "value": str(t.get("value", "")), "effect": str(t.get("effect"))}
        for t in spec.get("taints") or []
    ]
    types: list[str] = []
    for req in spec.get("requirements") or []:
        if req.get("key") == "node.kubernetes.io/instance-type" and req.get("operator") == "In":
            types = [str(v) for v in req.get("values") or []]
    cpu, mem, gpus, known = _node_capacity(types) if types else (0.0, 0.0, 0, False)
    node_class = _node_class(rec, graph)
    root = 20.0
    for bdm in node_class.get("blockDeviceMappings") or []:
        size = (bdm.get("ebs") or {}).get("volumeSize")
        if size and bdm.get("deviceName") == "/dev/xvda":
            root = mebibytes(size) / 1024
    return Pool(
        name=str(rec["name"]),
        kind="karpenter",
        labels=labels,
        taints=taints,
        min_nodes=0,
        max_nodes=UNBOUNDED,
        cpu_m=cpu,
        memory_mib=mem,
        gpus=gpus,
        instance_types=types,
        root_gib=root,
        raid0_nvme=node_class.get("instanceStorePolicy") == "RAID0",
        growable_by="karpenter",
        sized=known,
    )


def assumed_pool() -> Pool:
    """The existing untainted nodes of an adopted cluster (not modelled: any pod fits, verdict assumed)."""
    return Pool(
        name="existing nodes of the adopted cluster",
        kind="assumed",
        labels={"kubernetes.io/os": "linux"},
        taints=[],
        min_nodes=1,
        max_nodes=1,
        cpu_m=0,
        memory_mib=0,
        gpus=0,
        sized=False,
    )


def collect_pools(graph: Graph, *, cluster_created: bool) -> list[Pool]:
    """Every pool of the stack."""
    pools = [node_group_pool(r, graph) for r in graph.of_type(NODE_GROUP)]
    pools += [
        karpenter_pool(r, graph)
        for r in graph.resources
        if r["type"].startswith(NODE_POOL_PREFIX) and r["type"].endswith(":NodePool")
    ]
    if not cluster_created:
        pools.append(assumed_pool())
    return pools


def tolerates(pod: Pod, taint: Mapping[str, str]) -> bool:
    """Whether one of the pod's tolerations tolerates ``taint`` (PreferNoSchedule never blocks)."""
    if taint.get("effect") == "PreferNoSchedule":
        return True
    for tol in pod.tolerations:
        op = tol.get("operator", "Equal")
        key = tol.get("key")
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if not key and op == "Exists":
            return True
        if key == taint.get("key") and (
            op == "Exists" or str(tol.get("value", "")) == taint.get("value", "")
        ):
            return True
    return False


def matches(pod: Pod, pool: Pool) -> bool:
    """The pod's nodeSelector and required affinity (one alternative) are satisfied by the pool's labels and
    it tolerates every taint (the adopted cluster's nodes are assumed to carry only kubernetes.io/os)."""
    if any(pool.labels.get(k) != str(v) for k, v in pod.node_selector.items()):
        return False
    if pod.affinity:
        if not any(all(pool.labels.get(k) in vals for k, vals in alt.items()) for alt in pod.affinity):
            return False
    return all(tolerates(pod, t) for t in pool.taints)


def fits_node(pod: Pod, cpu: float, mem: float, gpus: int, pool: Pool) -> bool:
    """The pod's requests fit what is left on one node of ``pool``."""
    if not pool.sized:
        return True
    return pod.cpu_m <= cpu + 1e-6 and pod.memory_mib <= mem + 1e-6 and pod.gpus <= gpus
