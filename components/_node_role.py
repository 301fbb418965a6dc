"""The IAM role of EKS managed nodes (GPU and system groups alike): EC2 trust + the worker, ECR pull-only and
CNI managed policies. Returns the attachments so a node group can ``depends_on`` them (on destroy the
group is deleted before its policies are detached, so draining nodes keep their permissions).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components._common import assume_role_policy, child

NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
)


def node_role(
    parent: pulumi.Resource, name: str, partition: str, tags: dict[str, str]
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """``<name>-node-role`` and one ``<name>-node-<policy>`` attachment per managed policy."""
    role = aws.iam.Role(
        f"{name}-node-role",
        assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
        tags=tags,
        opts=child(parent),
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{policy}",
            role=role.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/{policy}",
            opts=child(parent),
        )
        for policy in NODE_MANAGED_POLICIES
    ]
    return role, attachments
