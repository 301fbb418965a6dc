"""GpuNodeGroup: an EKS managed node group sized by a ServingPlan, with its launch template and node role.

Nodes: the plan's instance type, a GPU AMI type (AL2023 NVIDIA or Bottlerocket NVIDIA), IMDSv2 required with
hop limit 1 (pods cannot reach node credentials), an encrypted gp3 root (Bottlerocket: data) volume of
``plan.root_volume_gib``, the ``nvidia.com/gpu=true:NoSchedule`` taint and labels naming the model and GPU.
The node role has the EKS worker, ECR pull-only and CNI managed policies plus read of the weights prefix only.
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
    assume_role_policy,
    aws_partition,
    child,
    policy_json,
    raise_problems,
    weights_read_statements,
    with_name,
)
from serving.release_values import GPU_TAINT, gpu_node_labels
from serving.sizing.plan import ServingPlan

AMI_TYPES = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
)
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
    capacity_type: Literal["on-demand", "spot"] = "on-demand"
    replicas_min: int = 1
    """Engine replicas at least (0 = scale to zero); nodes = replicas × plan.nodes_per_replica."""
    replicas_max: int = 1
    weights_bucket: str | None = None
    """Bucket of s3:// weights; None (hf weights) = no S3 permission at all."""
    weights_prefix: str = ""
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
        if self.capacity_type not in ("on-demand", "spot"):
            found.append(("capacity_type", f"{self.capacity_type!r} is not on-demand or spot"))
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
        self.labels = gpu_node_labels(args.alias, args.plan)
        self.instance_type = str(args.plan.instance_type)
        role = self._role(name, args, partition, tags)
        template = self._launch_template(name, args, tags)
        node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=args.subnet_ids,
            instance_types=[self.instance_type],
            ami_type=args.ami_type,
            capacity_type="SPOT" if args.capacity_type == "spot" else "ON_DEMAND",
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
            opts=child(self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.node_group_name: pulumi.Output[str] = node_group.node_group_name
        self.node_role_arn: pulumi.Output[str] = role.arn
        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "node_role_arn": role.arn,
                "instance_type": self.instance_type,
            }
        )

    def _role(self, name: str, args: GpuNodeGroupArgs, partition: str, tags: dict[str, str]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=child(self),
        )
        for policy in NODE_MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=role.name,
                policy_arn=f"arn:{partition}:iam::aws:policy/{policy}",
                opts=child(self),
            )
        if args.weights_bucket:
            aws.iam.RolePolicy(
                f"{name}-node-weights",
                role=role.id,
                policy=policy_json(
                    weights_read_statements(args.weights_bucket, args.weights_prefix, partition)
                ),
                opts=child(self),
            )
        return role

    def _launch_template(
        self, name: str, args: GpuNodeGroupArgs, tags: dict[str, str]
    ) -> aws.ec2.LaunchTemplate:
        # Bottlerocket keeps images and ephemeral storage on its data volume (/dev/xvdb)
        device = "/dev/xvdb" if args.ami_type.startswith("BOTTLEROCKET") else "/dev/xvda"
        node_tags = with_name(tags, f"{name}-{args.alias}")
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"GPU nodes for {args.alias} ({self.instance_type})",
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
            tags=tags,
            update_default_version=True,
            opts=child(self),
        )
