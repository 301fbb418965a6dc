"""Stack config keys of the infrastructure: cluster.systemNodes, public/private API access CIDRs,
versions.eksAddons, models[i].capacityType reservation/capacity-block with capacityReservationId."""

from __future__ import annotations

from typing import Any

import pytest

from serving.stack_config import parse_stack_config
from tests.unit.test_stack_config import BASE, _problems, _with

CR = "cr-0123456789abcdef0"

ERRORS = [
    ("paddock:cluster.systemNodes.min", 0, "paddock:cluster.systemNodes.min", "out of range"),
    (
        "paddock:cluster.systemNodes",
        {"min": 5, "max": 3},
        "paddock:cluster.systemNodes.min",
        "greater than max 3",
    ),
    ("paddock:cluster.systemNodes.max", 101, "paddock:cluster.systemNodes.max", "out of range"),
    ("paddock:cluster.systemNodes.diskGib", 10, "paddock:cluster.systemNodes.diskGib", "out of range"),
    (
        "paddock:cluster.systemNodes.instanceTypes",
        ["large"],
        "paddock:cluster.systemNodes.instanceTypes[0]",
        "is not an instance type",
    ),
    (
        "paddock:cluster.systemNodes.instanceTypes",
        [],
        "paddock:cluster.systemNodes.instanceTypes",
        "needs at least one instance type",
    ),
    (
        "paddock:cluster.systemNodes.create",
        "yes",
        "paddock:cluster.systemNodes.create",
        "expected true or false",
    ),
    ("paddock:cluster.systemNodes.size", 3, "paddock:cluster.systemNodes.size", "unknown key"),
    (
        "paddock:cluster.endpointPublicAccess",
        True,
        "paddock:cluster.publicAccessCidrs",
        "is required with endpointPublicAccess: true",
    ),
    (
        "paddock:cluster",
        {"kubernetesVersion": "1.35", "endpointPublicAccess": True, "publicAccessCidrs": []},
        "paddock:cluster.publicAccessCidrs",
        "must not be empty",
    ),
    (
        "paddock:cluster.publicAccessCidrs",
        ["203.0.113.10/32"],
        "paddock:cluster.publicAccessCidrs",
        "set without endpointPublicAccess: true",
    ),
    (
        "paddock:cluster.privateAccessCidrs",
        ["10.0.0.0"],
        "paddock:cluster.privateAccessCidrs[0]",
        "is not a CIDR block",
    ),
    (
        "paddock:cluster.privateAccessCidrs",
        ["10.0.0.1/16"],
        "paddock:cluster.privateAccessCidrs[0]",
        "is not a network CIDR (10.0.0.1/16 has host bits set)",
    ),
    (
        "paddock:cluster.privateAccessCidrs",
        ["300.0.0.0/8"],
        "paddock:cluster.privateAccessCidrs[0]",
        "is not a network CIDR",
    ),
    (
        "paddock:versions.eksAddons.coredns",
        ...,
        "paddock:versions.eksAddons.coredns",
        "is required (the stack creates the cluster",
    ),
    (
        "paddock:versions.eksAddons.vpc-cni",
        "1.21.1",
        "paddock:versions.eksAddons.vpc-cni",
        "is not an add-on version",
    ),
    (
        "paddock:versions.eksAddons.cilium",
        "v1.0.0-eksbuild.1",
        "paddock:versions.eksAddons.cilium",
        "unknown key",
    ),
    (
        "paddock:models.0.capacityType",
        "capacity-block",
        "paddock:models[0].capacityReservationId",
        "is required with capacityType: capacity-block",
    ),
    (
        "paddock:models.0.capacityType",
        "reservation",
        "paddock:models[0].capacityReservationId",
        "is required with capacityType: reservation",
    ),
    (
        "paddock:models.0.capacityReservationId",
        CR,
        "paddock:models[0].capacityReservationId",
        "is only valid with capacityType: capacity-block or reservation",
    ),
    (
        "paddock:models.0.capacityReservationId",
        "cr-xyz",
        "paddock:models[0].capacityReservationId",
        "is not a capacity reservation id",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "key", "message"), ERRORS, ids=[f"{e[0]}={e[1]!r}" for e in ERRORS]
)
def test_each_error_names_its_key(path: str, value: Any, key: str, message: str) -> None:
    problems = _problems(_with(path, value))
    assert any(k == key and message in m for k, m in problems), problems


def test_defaults_for_a_created_cluster() -> None:
    cfg = parse_stack_config(BASE, stack="t")
    nodes = cfg.cluster.system_nodes
    assert (nodes.create, nodes.instance_types, nodes.min_size, nodes.max_size, nodes.disk_gib) == (
        True,
        ("m6i.xlarge",),
        2,
        4,
        50,
    )
    assert (cfg.cluster.public_access_cidrs, cfg.cluster.private_access_cidrs) == ((), ())
    assert set(cfg.versions.eks_addons) == {
        "vpc-cni",
        "coredns",
        "kube-proxy",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
    }


def test_adopted_cluster_needs_no_addons_and_gets_no_system_nodes() -> None:
    raw = _with("paddock:cluster", {"existingClusterName": "shared"})
    del raw["paddock:versions"]["eksAddons"]
    cfg = parse_stack_config(raw, stack="t")
    assert cfg.cluster.system_nodes.create is False and cfg.versions.eks_addons == {}


def test_system_nodes_cannot_be_created_on_an_adopted_cluster() -> None:
    raw = _with("paddock:cluster", {"existingClusterName": "shared", "systemNodes": {"create": True}})
    assert (
        "paddock:cluster.systemNodes.create",
        "a system node group is only created with the cluster (create: true)",
    ) in _problems(raw)


def test_max_defaults_to_at_least_min() -> None:
    cfg = parse_stack_config(_with("paddock:cluster.systemNodes", {"min": 6}), stack="t")
    assert (cfg.cluster.system_nodes.min_size, cfg.cluster.system_nodes.max_size) == (6, 6)


def test_public_and_private_cidrs_parse() -> None:
    raw = _with(
        "paddock:cluster",
        {
            "kubernetesVersion": "1.35",
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.10/32", "0.0.0.0/0"],
            "privateAccessCidrs": ["10.99.0.0/24"],
        },
    )
    cluster = parse_stack_config(raw, stack="t").cluster
    assert cluster.public_access_cidrs == ("203.0.113.10/32", "0.0.0.0/0")
    assert cluster.private_access_cidrs == ("10.99.0.0/24",)


@pytest.mark.parametrize("capacity", ["capacity-block", "reservation"])
def test_reserved_capacity_with_an_id_parses(capacity: str) -> None:
    raw = _with("paddock:models.0.capacityType", capacity)
    raw["paddock:models"][0]["capacityReservationId"] = CR
    m = parse_stack_config(raw, stack="t").models[0]
    assert (m.capacity_type, m.capacity_reservation_id) == (capacity, CR)


def test_adopted_cluster_endpoint_is_not_managed_so_no_cidrs_are_required() -> None:
    raw = _with("paddock:cluster", {"existingClusterName": "shared", "endpointPublicAccess": True})
    del raw["paddock:versions"]["eksAddons"]
    assert parse_stack_config(raw, stack="t").cluster.public_access_cidrs == ()
