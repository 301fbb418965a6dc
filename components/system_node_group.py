"""SystemNodeGroup: the untainted EKS managed node group where everything that is not an engine runs.

CoreDNS, the EBS CSI controller, kube-prometheus-stack, KEDA, the node autoscaler and the gateway select
it with ``nodeSelector: {paddock.dev/pool: system}`` (``serving.release_values.SYSTEM_POOL_LABEL``).
On-Demand instances, AL2023 standard AMI, spread over every private subnet (one per AZ), IMDSv2 required
with hop limit 1, an encrypted gp3 root volume, no taint. Built by :class:`components.cluster.Cluster`
before CoreDNS and the Kubernetes provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components._common import PKG, aws_partition, child, raise_problems, with_name
from components._node_role import node_role
from serving.release_values import SYSTEM_POOL_LABEL

SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.(metal|[0-9]*x?large)")


@dataclass(frozen=True, kw_only=True)
class SystemNodeGroupArgs:
    """Arguments of :class:`SystemNodeGroup`."""

    cluster_name: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets, one per AZ (the group spreads over all of them)."""
    region: str
    instance_types: tuple[str, ...] = ("m6i.xlarge",)
    min_size: int = 2
    max_size: int = 4
    disk_gib: int = 50
    """Root volume per node, GiB (gp3, encrypted)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not self.instance_types:
            found.append(("instance_types", "needs at least one instance type"))
        for t in self.instance_types:
            if not _INSTANCE_TYPE.fullmatch(t):
                found.append(("instance_types", f"{t!r} is not an instance type"))
        if not 1 <= self.min_size <= self.max_size:
            found.append(("min_size", f"need 1 <= min ({self.min_size}) <= max ({self.max_size})"))
        if not 20 <= self.disk_gib <= 1000:
            found.append(("disk_gib", f"{self.disk_gib} is not between 20 and 1000"))
        return found


class SystemNodeGroup(pulumi.ComponentResource):
    """Untainted system node group (token ``paddock:eks:SystemNodeGroup``).

    Outputs: ``node_group`` (the ``aws.eks.NodeGroup``, for ``depends_on``), ``node_group_name``,
    ``node_role_arn``, ``labels``.
    """

    def __init__(
        self, name: str, args: SystemNodeGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        raise_problems("SystemNodeGroup", args.problems())
        super().__init__(f"{PKG}:eks:SystemNodeGroup", name, None, opts)
        tags = dict(args.tags)
        self.labels = dict(SYSTEM_POOL_LABEL)
        role, attachments = node_role(self, name, aws_partition(args.region), tags)
        node_tags = with_name(tags, f"{name}-system")
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description="Paddock system nodes (CoreDNS, add-ons, monitoring, gateway)",
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.disk_gib,
                        "volume_type": "gp3",
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
        self.node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=args.subnet_ids,
            instance_types=list(args.instance_types),
            ami_type=SYSTEM_AMI_TYPE,
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.min_size, max_size=args.max_size, desired_size=args.min_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=self.labels,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            tags=tags,
            opts=child(self, depends_on=attachments, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.node_group_name: pulumi.Output[str] = self.node_group.node_group_name
        self.node_role_arn: pulumi.Output[str] = role.arn
        self.register_outputs({"node_group_name": self.node_group_name, "node_role_arn": role.arn})
