"""SystemNodeGroup and ClusterAddons on their own: argument validation before any child exists."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pytest

from components.cluster_addons import ClusterAddons, ClusterAddonsArgs, addon_configuration
from components.system_node_group import SystemNodeGroup, SystemNodeGroupArgs
from tests.components.conftest import Registered

Run = Callable[..., Registered]


def test_invalid_args_named_together() -> None:
    args = SystemNodeGroupArgs(
        cluster_name="c",
        subnet_ids=["subnet-a"],
        region="eu-central-1",
        instance_types=("big",),
        min_size=3,
        max_size=2,
        disk_gib=5,
    )
    with pytest.raises(pulumi.InputPropertiesError) as err:
        SystemNodeGroup("sys", args)
    assert [e["property_path"] for e in err.value.errors or []] == ["instance_types", "min_size", "disk_gib"]
    with pytest.raises(pulumi.InputPropertiesError, match="needs at least one instance type"):
        SystemNodeGroup(
            "sys", SystemNodeGroupArgs(cluster_name="c", subnet_ids=[], region="x", instance_types=())
        )


def test_standalone_group_spreads_over_all_subnets(run: Run) -> None:
    args = SystemNodeGroupArgs(
        cluster_name="c", subnet_ids=["subnet-a", "subnet-b", "subnet-c"], region="us-east-1"
    )
    reg = run(lambda: SystemNodeGroup("sys", args))
    ng = reg.named("sys-ng").inputs
    assert ng["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"] and "taints" not in ng
    assert reg.named("sys").type == "paddock:eks:SystemNodeGroup"


def test_addons_need_every_version() -> None:
    with pytest.raises(pulumi.InputPropertiesError, match="no pinned version for vpc-cni, kube-proxy"):
        ClusterAddons(
            "a",
            ClusterAddonsArgs(
                cluster_name="c",
                region="eu-central-1",
                versions={"coredns": "v1.13.2-eksbuild.1"},
                subnet_ids=["subnet-a"],
            ),
        )


def test_network_policy_enforcement_is_on() -> None:
    assert addon_configuration("vpc-cni") == {"enableNetworkPolicy": "true"}
    assert addon_configuration("eks-pod-identity-agent") is None
