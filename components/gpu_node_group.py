"""GpuNodeGroup: an EKS managed node group sized by a ServingPlan, with its launch template and node role.

Nodes: the plan's instance type, a GPU AMI type (AL2023 NVIDIA or Bottlerocket NVIDIA), IMDSv2 required with
hop limit 1 (pods cannot reach node credentials), an encrypted gp3 root (Bottlerocket: data) volume of
``plan.root_volume_gib``, the ``nvidia.com/gpu=true:NoSchedule`` taint and labels naming the model and GPU
(plus ``k8s.amazonaws.com/accelerator``, which cluster-autoscaler reads). The node role has the EKS worker,
ECR pull-only and CNI managed policies plus read of the weights prefix only.

Capacity: ``on-demand``/``spot``, or a reservation: ``reservation`` (On-Demand Capacity Reservation, targeted
by id in the launch template) and ``capacity-block`` (EC2 Capacity Block: the same target plus market type
``capacity-block``, node group capacity type ``CAPACITY_BLOCK``).

Instance store: when the instance has local NVMe, the user data RAIDs it under kubelet/containerd
(serving/node_bootstrap.py), so the model cache (an emptyDir) is on NVMe; tag ``paddock.dev/cache-disk`` and
output ``cache_disk`` say which disk holds it.

Multi-node replicas on EFA instances: a cluster placement group, one EFA interface (device 0, network card
0) with the cluster security group plus an EFA security group allowing all traffic to and from itself, and
the group in one subnet (one AZ).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components._common import (
    PKG,
    aws_partition,
    child,
    policy_json,
    raise_problems,
    weights_read_statements,
    with_name,
)
from components._node_role import NODE_MANAGED_POLICIES, node_role
from serving.catalog import get_instance
from serving.node_bootstrap import b64, cache_disk, gpu_user_data
from serving.release_values import GPU_TAINT, gpu_node_labels
from serving.sizing.plan import ServingPlan
from serving.stack_config_models import RESERVED_CAPACITY_TYPES, CapacityType

AMI_TYPES = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
__all__ = ["AMI_TYPES", "NODE_MANAGED_POLICIES", "GpuNodeGroup", "GpuNodeGroupArgs"]
#: label cluster-autoscaler's AWS provider uses to recognise GPU nodes (value: the GPU)
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
CACHE_DISK_TAG = "paddock.dev/cache-disk"
#: EKS managed node group capacity type per Paddock capacity type
EKS_CAPACITY_TYPE = {
    "on-demand": "ON_DEMAND",
    "spot": "SPOT",
    "reservation": "ON_DEMAND",
    "capacity-block": "CAPACITY_BLOCK",
}
_RESERVATION_ID = re.compile(r"cr-[0-9a-f]{8,17}")
_ALIAS = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")


@dataclass(frozen=True, kw_only=True)
class GpuNodeGroupArgs:
    """Arguments of :class:`GpuNodeGroup` (one per served model)."""

    alias: str
    """Model alias (label ``paddock.dev/model``)."""
    plan: ServingPlan
    """Sizing result: instance type, GPUs, root volume, nodes per replica."""
    cluster_name: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    region: str
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"]
    capacity_type: CapacityType = "on-demand"
    capacity_reservation_id: str | None = None
    """``cr-...``: required with capacity types reservation and capacity-block."""
    cluster_security_group_id: pulumi.Input[str] | None = None
    """EKS cluster security group (required for EFA interfaces: an interface names its groups itself)."""
    vpc_id: pulumi.Input[str] | None = None
    """VPC of the EFA security group (required for multi-node EFA plans)."""
    replicas_min: int = 1
    """Engine replicas at least (0 = scale to zero); nodes = replicas × plan.nodes_per_replica."""
    replicas_max: int = 1
    weights_bucket: str | None = None
    """Bucket of s3:// weights; None (hf weights) = no S3 permission at all."""
    weights_prefix: str = ""
    weights_region: str | None = None
    """Region of the weights bucket (``paddock:models[i].weightsRegion``): reads must go to it."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not _ALIAS.fullmatch(self.alias):
            found.append(("alias", f"{self.alias!r} is not a DNS label"))
        if self.plan.instance_type is None:
            found.append(("plan.instance_type", "the plan has no instance type (sized for a bare GPU)"))
        if not self.plan.fits:
            found.append(("plan.fits", f"the plan for {self.plan.model_id} does not fit its hardware"))
        if self.plan.root_volume_gib < 20:
            found.append(
                ("plan.root_volume_gib", f"{self.plan.root_volume_gib} GiB is below the 20 GiB minimum")
            )
        if self.ami_type not in AMI_TYPES:
            found.append(("ami_type", f"{self.ami_type!r} is not one of {', '.join(AMI_TYPES)}"))
        if self.capacity_type not in EKS_CAPACITY_TYPE:
            found.append(
                ("capacity_type", f"{self.capacity_type!r} is not one of {', '.join(EKS_CAPACITY_TYPE)}")
            )
        reserved = self.capacity_type in RESERVED_CAPACITY_TYPES
        if reserved and not self.capacity_reservation_id:
            found.append(("capacity_reservation_id", f"is required with capacity_type {self.capacity_type}"))
        if self.capacity_reservation_id and not reserved:
            found.append(("capacity_reservation_id", f"set with capacity_type {self.capacity_type}"))
        if self.capacity_reservation_id and not _RESERVATION_ID.fullmatch(self.capacity_reservation_id):
            found.append(("capacity_reservation_id", f"{self.capacity_reservation_id!r} is not cr-..."))
        if self.efa and (self.cluster_security_group_id is None or self.vpc_id is None):
            found.append(
                (
                    "cluster_security_group_id",
                    "multi-node EFA nodes need cluster_security_group_id and vpc_id",
                )
            )
        if self.replicas_min < 0 or self.replicas_max < 1 or self.replicas_min > self.replicas_max:
            found.append(
                (
                    "replicas_min",
                    f"need 0 <= min ({self.replicas_min}) <= max ({self.replicas_max}), max >= 1",
                )
            )
        if self.weights_prefix and not self.weights_bucket:
            found.append(("weights_prefix", "set without weights_bucket"))
        return found

    @property
    def nvme_gb(self) -> float:
        """Instance store of the plan's instance type, GB (0 when none or no instance type)."""
        return get_instance(self.plan.instance_type).nvme_gb if self.plan.instance_type else 0.0

    @property
    def efa(self) -> bool:
        """True when replicas span nodes on an EFA instance (placement group + EFA interfaces)."""
        if self.plan.instance_type is None or self.plan.nodes_per_replica <= 1:
            return False
        return get_instance(self.plan.instance_type).efa

    @property
    def scaling(self) -> dict[str, int]:
        """Node counts: replicas × nodes per replica (desired starts at min)."""
        per = self.plan.nodes_per_replica
        return {
            "min_size": self.replicas_min * per,
            "max_size": self.replicas_max * per,
            "desired_size": self.replicas_min * per,
        }


def node_taints() -> list[dict[str, str]]:
    """EKS form of the GPU taint (``effect`` in EKS's NO_SCHEDULE spelling)."""
    return [{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"], "effect": "NO_SCHEDULE"}]


def autoscaler_tags(cluster_name: str, labels: Mapping[str, str], gpus: int) -> dict[str, str]:
    """Cluster Autoscaler auto-discovery and scale-from-zero hints (node-template labels, taint, GPUs)."""
    tags = {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        f"k8s.io/cluster-autoscaler/node-template/taint/{GPU_TAINT['key']}": (
            f"{GPU_TAINT['value']}:NoSchedule"
        ),
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": str(gpus),
    }
    tags.update({f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()})
    return tags


class GpuNodeGroup(pulumi.ComponentResource):
    """Managed GPU node group for one model (token ``paddock:eks:GpuNodeGroup``).

    Outputs: ``node_group_name``, ``node_role_arn``, ``labels`` (dict), ``instance_type``.
    """

    def __init__(self, name: str, args: GpuNodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("GpuNodeGroup", args.problems())
        super().__init__(f"{PKG}:eks:GpuNodeGroup", name, None, opts)
        partition = aws_partition(args.region)
        tags = dict(args.tags)
        self.labels = {**gpu_node_labels(args.alias, args.plan), ACCELERATOR_LABEL: args.plan.gpu}
        self.instance_type = str(args.plan.instance_type)
        self.cache_disk = cache_disk(args.nvme_gb)
        role, attachments = self._role(name, args, partition, tags)
        template = self._launch_template(name, args, tags)
        subnets: pulumi.Input[list[str]] = args.subnet_ids
        if args.efa:  # one AZ: a cluster placement group cannot span AZs
            subnets = pulumi.Output.from_input(args.subnet_ids).apply(_first)
        node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=subnets,
            instance_types=[self.instance_type],
            ami_type=args.ami_type,
            capacity_type=EKS_CAPACITY_TYPE[args.capacity_type],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(**args.scaling),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=self.labels,
            taints=[aws.eks.NodeGroupTaintArgs(**t) for t in node_taints()],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            tags=pulumi.Output.from_input(args.cluster_name).apply(
                lambda cluster: {**tags, **autoscaler_tags(cluster, self.labels, args.plan.gpus_per_node)}
            ),
            # deleted before its role's policies are detached (draining nodes keep their permissions)
            opts=child(self, depends_on=attachments, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.node_group_name: pulumi.Output[str] = node_group.node_group_name
        self.node_role_arn: pulumi.Output[str] = role.arn
        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "node_role_arn": role.arn,
                "instance_type": self.instance_type,
                "cache_disk": self.cache_disk,
            }
        )

    def _role(
        self, name: str, args: GpuNodeGroupArgs, partition: str, tags: dict[str, str]
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        role, managed = node_role(self, name, partition, tags)
        attachments: list[pulumi.Resource] = list(managed)
        if args.weights_bucket:
            weights = aws.iam.RolePolicy(
                f"{name}-node-weights",
                role=role.id,
                policy=policy_json(
                    weights_read_statements(
                        args.weights_bucket, args.weights_prefix, partition, args.weights_region
                    )
                ),
                opts=child(self),
            )
            attachments.append(weights)
        return role, attachments

    def _launch_template(
        self, name: str, args: GpuNodeGroupArgs, tags: dict[str, str]
    ) -> aws.ec2.LaunchTemplate:
        # Bottlerocket keeps images and ephemeral storage on its data volume (/dev/xvdb)
        device = "/dev/xvdb" if args.ami_type.startswith("BOTTLEROCKET") else "/dev/xvda"
        node_tags = with_name(tags, f"{name}-{args.alias}")
        user_data = gpu_user_data(args.ami_type, args.nvme_gb)
        reservation: aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs | None = None
        market: aws.ec2.LaunchTemplateInstanceMarketOptionsArgs | None = None
        if args.capacity_reservation_id:
            target = aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=args.capacity_reservation_id
            )
            reservation = aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
                capacity_reservation_target=target
            )
        if args.capacity_type == "capacity-block":
            market = aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="capacity-block")
        placement: aws.ec2.LaunchTemplatePlacementArgs | None = None
        interfaces: list[aws.ec2.LaunchTemplateNetworkInterfaceArgs] | None = None
        if args.efa:
            group = aws.ec2.PlacementGroup(f"{name}-pg", strategy="cluster", tags=tags, opts=child(self))
            efa_sg = aws.ec2.SecurityGroup(
                f"{name}-efa-sg",
                vpc_id=args.vpc_id,
                description=f"EFA traffic between the {args.alias} nodes (all protocols, to and from itself)",
                ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}],
                egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}],
                tags=with_name(tags, f"{name}-efa-sg"),
                opts=child(self),
            )
            placement = aws.ec2.LaunchTemplatePlacementArgs(group_name=group.id)  # id = the group name
            cluster_sg: pulumi.Input[str] = args.cluster_security_group_id or ""
            interfaces = [
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    network_card_index=0,
                    interface_type="efa",
                    security_groups=[cluster_sg, efa_sg.id],
                    delete_on_termination="true",
                )
            ]
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"GPU nodes for {args.alias} ({self.instance_type})",
            user_data=b64(user_data) if user_data else None,
            capacity_reservation_specification=reservation,
            instance_market_options=market,
            placement=placement,
            network_interfaces=interfaces,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": device,
                    "ebs": {
                        "volume_size": args.plan.root_volume_gib,
                        "volume_type": "gp3",
                        "iops": 6000,
                        "throughput": 500,
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            tag_specifications=[
                {"resource_type": "instance", "tags": node_tags},
                {"resource_type": "volume", "tags": node_tags},
            ],
            tags={**tags, CACHE_DISK_TAG: self.cache_disk},
            update_default_version=True,
            opts=child(self),
        )


def _first(subnets: list[str]) -> list[str]:
    return subnets[:1]
