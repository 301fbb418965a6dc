"""GpuNodeGroup under Pulumi mocks: instance type from sizing, taints, labels, IMDSv2, IAM least privilege."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.gpu_node_group import GpuNodeGroup, GpuNodeGroupArgs
from tests.components.conftest import Registered
from tests.plans import plan_8b_l40s, plan_70b_h100

Run = Callable[..., Registered]
DATA_PLANE_PREFIXES = ("s3:", "bedrock:", "kms:")
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def _args(**overrides: Any) -> GpuNodeGroupArgs:
    base: dict[str, Any] = dict(
        alias="llama-70b",
        plan=plan_70b_h100(),
        cluster_name="paddock-t",
        subnet_ids=["subnet-a", "subnet-b"],
        region="eu-central-1",
        ami_type="AL2023_x86_64_NVIDIA",
        replicas_min=1,
        replicas_max=4,
        weights_bucket="acme-models-eu",
        weights_prefix="llama-3.3-70b/",
        tags={"team": "ml"},
    )
    base.update(overrides)
    return GpuNodeGroupArgs(**base)


def assert_no_wildcard_data_plane(policy: dict[str, Any]) -> None:
    """No statement grants a data-plane action (s3/bedrock/kms) on a wildcard resource."""
    for statement in policy["Statement"]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if any(a.startswith(DATA_PLANE_PREFIXES) for a in actions):
            assert "*" not in resources and all(not r.endswith(":::*") for r in resources), statement


def test_node_group_follows_the_plan(run: Run) -> None:
    reg = run(lambda: GpuNodeGroup("gpu-llama-70b", _args()))
    assert reg.named("gpu-llama-70b").type == "paddock:eks:GpuNodeGroup"
    assert reg.children("gpu-llama-70b") == {
        "gpu-llama-70b-node-role": "aws:iam/role:Role",
        "gpu-llama-70b-node-AmazonEKSWorkerNodePolicy": ATTACHMENT,
        "gpu-llama-70b-node-AmazonEC2ContainerRegistryPullOnly": ATTACHMENT,
        "gpu-llama-70b-node-AmazonEKS_CNI_Policy": ATTACHMENT,
        "gpu-llama-70b-node-weights": "aws:iam/rolePolicy:RolePolicy",
        "gpu-llama-70b-lt": "aws:ec2/launchTemplate:LaunchTemplate",
        "gpu-llama-70b-ng": "aws:eks/nodeGroup:NodeGroup",
    }
    ng = reg.named("gpu-llama-70b-ng").inputs
    assert ng["instanceTypes"] == ["p5.48xlarge"]
    assert (ng["amiType"], ng["capacityType"], ng["clusterName"]) == (
        "AL2023_x86_64_NVIDIA",
        "ON_DEMAND",
        "paddock-t",
    )
    assert ng["scalingConfig"] == {"minSize": 1, "maxSize": 4, "desiredSize": 1}
    assert ng["updateConfig"] == {"maxUnavailable": 1}
    assert ng["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert ng["labels"] == {
        "paddock.dev/model": "llama-70b",
        "paddock.dev/gpu": "h100-80gb",
        "nvidia.com/gpu.present": "true",
        "k8s.amazonaws.com/accelerator": "h100-80gb",
    }
    assert ng["tags"]["k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator"] == (
        "h100-80gb"
    )
    assert ng["launchTemplate"]["id"].startswith("lt-") and ng["launchTemplate"]["version"] == "1"
    assert ng["tags"]["k8s.io/cluster-autoscaler/paddock-t"] == "owned"
    assert ng["tags"]["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "4"
    assert ng["tags"]["k8s.io/cluster-autoscaler/node-template/label/paddock.dev/model"] == "llama-70b"
    assert ng["tags"]["team"] == "ml"


def test_launch_template_requires_imdsv2_and_sizes_the_root_volume(run: Run) -> None:
    reg = run(lambda: GpuNodeGroup("g", _args(plan=plan_70b_h100(root_volume_gib=420))))
    lt = reg.named("g-lt").inputs
    assert lt["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    (mapping,) = lt["blockDeviceMappings"]
    assert mapping["deviceName"] == "/dev/xvda"
    assert (mapping["ebs"]["volumeSize"], mapping["ebs"]["volumeType"], mapping["ebs"]["encrypted"]) == (
        420,
        "gp3",
        "true",
    )
    assert [t["resourceType"] for t in lt["tagSpecifications"]] == ["instance", "volume"]


def test_bottlerocket_spot_multi_node_scale_to_zero(run: Run) -> None:
    plan = plan_70b_h100(nodes_per_replica=2, gpus_per_node=8, pipeline_parallel_size=2)
    args = _args(
        plan=plan,
        ami_type="BOTTLEROCKET_x86_64_NVIDIA",
        capacity_type="spot",
        replicas_min=0,
        replicas_max=3,
        cluster_security_group_id="sg-cluster",
        vpc_id="vpc-1",
    )
    reg = run(lambda: GpuNodeGroup("g", args))
    ng = reg.named("g-ng").inputs
    assert (ng["amiType"], ng["capacityType"]) == ("BOTTLEROCKET_x86_64_NVIDIA", "SPOT")
    assert ng["scalingConfig"] == {"minSize": 0, "maxSize": 6, "desiredSize": 0}
    assert reg.named("g-lt").inputs["blockDeviceMappings"][0]["deviceName"] == "/dev/xvdb"


def test_node_role_reads_only_the_weights_prefix(run: Run) -> None:
    reg = run(lambda: GpuNodeGroup("g", _args()))
    trust = reg.policy("g-node-role", "assumeRolePolicy")
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole"]}
    ]
    policy = reg.policy("g-node-weights")
    assert policy["Statement"] == [
        {
            "Sid": "ReadWeights",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::acme-models-eu/llama-3.3-70b/*"],
        },
        {
            "Sid": "ListWeights",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::acme-models-eu"],
            "Condition": {"StringLike": {"s3:prefix": ["llama-3.3-70b/*"]}},
        },
    ]
    assert_no_wildcard_data_plane(policy)
    attached = sorted(
        r.inputs["policyArn"] for r in reg.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]


def test_hf_weights_get_no_s3_permission(run: Run) -> None:
    reg = run(
        lambda: GpuNodeGroup(
            "g", _args(alias="llama-8b", plan=plan_8b_l40s(), weights_bucket=None, weights_prefix="")
        )
    )
    assert reg.of_type("aws:iam/rolePolicy:RolePolicy") == []
    assert reg.named("g-ng").inputs["instanceTypes"] == ["g6e.xlarge"]


def test_wildcard_checker_catches_a_star_resource() -> None:
    bad = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
    with pytest.raises(AssertionError):
        assert_no_wildcard_data_plane(bad)


def test_invalid_args_named_together() -> None:
    args = _args(
        alias="Bad_Alias",
        plan=plan_8b_l40s(instance_type=None, fits=False, root_volume_gib=8),
        ami_type="AL2_x86_64_GPU",
        replicas_min=3,
        replicas_max=2,
        weights_bucket=None,
    )
    with pytest.raises(pulumi.InputPropertiesError) as err:
        GpuNodeGroup("g", args)
    assert [e["property_path"] for e in err.value.errors or []] == [
        "alias",
        "plan.instance_type",
        "plan.fits",
        "plan.root_volume_gib",
        "ami_type",
        "replicas_min",
        "weights_prefix",
    ]


def _user_data(reg: Registered) -> str | None:
    raw = reg.named("g-lt").inputs.get("userData")
    return base64.b64decode(raw).decode() if raw else None


def test_nvme_instance_mounts_instance_store_raid0_with_nodeadm(run: Run) -> None:
    reg = run(lambda: GpuNodeGroup("g", _args()))  # p5.48xlarge: 8 x 3.84 TB NVMe
    text = _user_data(reg)
    assert text is not None and text.startswith("MIME-Version: 1.0\nContent-Type: multipart/mixed;")
    assert "Content-Type: application/node.eks.aws" in text
    assert "kind: NodeConfig" in text and "localStorage:\n      strategy: RAID0" in text
    assert reg.named("g-lt").inputs["tags"]["paddock.dev/cache-disk"] == "nvme"


def test_bottlerocket_nvme_binds_kubelet_and_containerd_to_ephemeral_storage(run: Run) -> None:
    reg = run(lambda: GpuNodeGroup("g", _args(ami_type="BOTTLEROCKET_x86_64_NVIDIA")))
    text = _user_data(reg)
    assert text is not None and "[settings.bootstrap-commands.paddock-ephemeral-storage]" in text
    assert '["apiclient", "ephemeral-storage", "init"]' in text
    assert '"bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet", "/var/log/pods"' in text
    assert "essential = true" in text and 'mode = "always"' in text


def test_on_demand_capacity_reservation_is_targeted(run: Run) -> None:
    reg = run(
        lambda: GpuNodeGroup(
            "g", _args(capacity_type="reservation", capacity_reservation_id="cr-0123456789abcdef0")
        )
    )
    lt = reg.named("g-lt").inputs
    assert lt["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}
    }
    assert "instanceMarketOptions" not in lt
    assert reg.named("g-ng").inputs["capacityType"] == "ON_DEMAND"


def test_capacity_block_sets_market_type_and_node_group_capacity_type(run: Run) -> None:
    reg = run(
        lambda: GpuNodeGroup(
            "g", _args(capacity_type="capacity-block", capacity_reservation_id="cr-0123456789abcdef0")
        )
    )
    lt = reg.named("g-lt").inputs
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["capacityReservationSpecification"]["capacityReservationTarget"] == {
        "capacityReservationId": "cr-0123456789abcdef0"
    }
    assert reg.named("g-ng").inputs["capacityType"] == "CAPACITY_BLOCK"


def test_on_demand_has_no_reservation_settings(run: Run) -> None:
    lt = run(lambda: GpuNodeGroup("g", _args())).named("g-lt").inputs
    assert "capacityReservationSpecification" not in lt and "instanceMarketOptions" not in lt


def test_reservation_id_rules() -> None:
    with pytest.raises(pulumi.InputPropertiesError, match="capacity_reservation_id: is required"):
        GpuNodeGroup("g", _args(capacity_type="capacity-block"))
    with pytest.raises(pulumi.InputPropertiesError, match="capacity_reservation_id: set with capacity_type"):
        GpuNodeGroup("g", _args(capacity_reservation_id="cr-0123456789abcdef0"))


def test_multi_node_efa_gets_placement_group_efa_interface_and_one_subnet(run: Run) -> None:
    plan = plan_70b_h100(nodes_per_replica=2, gpus_per_node=8, pipeline_parallel_size=2)
    args = _args(plan=plan, cluster_security_group_id="sg-cluster", vpc_id="vpc-1")
    reg = run(lambda: GpuNodeGroup("g", args))
    assert reg.named("g-pg").inputs["strategy"] == "cluster"
    lt = reg.named("g-lt").inputs
    assert lt["placement"] == {"groupName": "g-pg-id"}
    (nic,) = lt["networkInterfaces"]
    assert (nic["interfaceType"], nic["deviceIndex"], nic["networkCardIndex"]) == ("efa", 0, 0)
    assert nic["securityGroups"][0] == "sg-cluster" and nic["securityGroups"][1].startswith("sg-")
    sg = reg.named("g-efa-sg").inputs
    assert sg["vpcId"] == "vpc-1"
    assert sg["ingress"] == [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]
    assert sg["egress"] == [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]
    assert reg.named("g-ng").inputs["subnetIds"] == ["subnet-a"]


def test_single_node_plan_has_no_efa_or_placement(run: Run) -> None:
    reg = run(lambda: GpuNodeGroup("g", _args()))
    assert reg.of_type("aws:ec2/placementGroup:PlacementGroup") == []
    assert "networkInterfaces" not in reg.named("g-lt").inputs
    assert reg.named("g-ng").inputs["subnetIds"] == ["subnet-a", "subnet-b"]


def test_multi_node_efa_without_security_group_is_rejected() -> None:
    plan = plan_70b_h100(nodes_per_replica=2, gpus_per_node=8, pipeline_parallel_size=2)
    with pytest.raises(pulumi.InputPropertiesError, match="cluster_security_group_id"):
        GpuNodeGroup("g", _args(plan=plan))
