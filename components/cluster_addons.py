"""ClusterAddons: the managed, pinned EKS add-ons of a created cluster and the system node group between
them.

``bootstrap_self_managed_addons=False`` on the cluster means EKS installs nothing itself; this component
creates, in this order (each step a real ``depends_on``):

1. ``vpc-cni`` (NetworkPolicy enforcement on: ``enableNetworkPolicy: "true"``), ``kube-proxy`` and
   ``eks-pod-identity-agent``: DaemonSets, ACTIVE without nodes; nodes need the CNI to become Ready;
2. the :class:`~components.system_node_group.SystemNodeGroup` (when ``system_nodes.create``);
3. ``coredns`` and ``aws-ebs-csi-driver`` (Deployments: they need a Ready node), both on the system pool,
   the EBS CSI controller's IAM role bound by EKS Pod Identity (``pod_identity_associations``) to
   ``kube-system/ebs-csi-controller-sa`` with ``AmazonEBSCSIDriverPolicy``.

:attr:`ClusterAddons.ready` lists the resources the Kubernetes provider must wait for (so "API server up,
CNI and DNS running" is a dependency of every Kubernetes resource).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components._common import PKG, assume_role_policy, aws_partition, child, raise_problems
from components.system_node_group import SystemNodeGroup, SystemNodeGroupArgs
from serving.release_values import SYSTEM_POOL_LABEL
from serving.stack_config_models import SystemNodesConfig

#: add-ons installed before any node exists (DaemonSets), then those that need a node (Deployments)
NODELESS_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
NODE_ADDONS = ("coredns", "aws-ebs-csi-driver")
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
EBS_CSI_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def addon_configuration(addon: str) -> dict[str, object] | None:
    """``configuration_values`` of each add-on (None = the add-on's defaults)."""
    if addon == "vpc-cni":
        return {"enableNetworkPolicy": "true"}
    if addon == "coredns":
        return {"nodeSelector": dict(SYSTEM_POOL_LABEL)}
    if addon == "aws-ebs-csi-driver":
        return {"controller": {"nodeSelector": dict(SYSTEM_POOL_LABEL)}}
    return None


@dataclass(frozen=True, kw_only=True)
class ClusterAddonsArgs:
    """Arguments of :class:`ClusterAddons`."""

    cluster_name: pulumi.Input[str]
    region: str
    versions: Mapping[str, str]
    """Add-on name -> pinned version; every name of NODELESS_ADDONS + NODE_ADDONS is required."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets of the system node group."""
    system_nodes: SystemNodesConfig = field(default_factory=lambda: SystemNodesConfig(create=True))
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        missing = [a for a in (*NODELESS_ADDONS, *NODE_ADDONS) if not self.versions.get(a)]
        return [("versions", f"no pinned version for {', '.join(missing)}")] if missing else []


class ClusterAddons(pulumi.ComponentResource):
    """Managed add-ons + system nodes (token ``paddock:eks:ClusterAddons``).

    Outputs: ``addons`` (name -> ``aws.eks.Addon``), ``system_node_group`` (or None), ``ready`` (resources the
    Kubernetes provider depends on), ``ebs_csi_role_arn``.
    """

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        raise_problems("ClusterAddons", args.problems())
        super().__init__(f"{PKG}:eks:ClusterAddons", name, None, opts)
        tags = dict(args.tags)
        self.addons: dict[str, aws.eks.Addon] = {
            addon: self._addon(name, args, addon, []) for addon in NODELESS_ADDONS
        }
        #: what any node group needs before its nodes can become Ready (the CNI, kube-proxy, Pod Identity)
        self.node_prerequisites: list[pulumi.Resource] = list(self.addons.values())
        after_nodes: list[pulumi.Resource] = list(self.addons.values())
        self.system_node_group: SystemNodeGroup | None = None
        if args.system_nodes.create:
            self.system_node_group = SystemNodeGroup(
                f"{name}-system",
                SystemNodeGroupArgs(
                    cluster_name=args.cluster_name,
                    subnet_ids=args.subnet_ids,
                    region=args.region,
                    instance_types=args.system_nodes.instance_types,
                    min_size=args.system_nodes.min_size,
                    max_size=args.system_nodes.max_size,
                    disk_gib=args.system_nodes.disk_gib,
                    tags=tags,
                ),
                opts=child(self, depends_on=list(self.addons.values())),
            )
            after_nodes = [self.system_node_group.node_group]
        role, attachment = self._ebs_csi_role(name, args, tags)
        self.ebs_csi_role_arn: pulumi.Output[str] = role.arn
        self.addons["coredns"] = self._addon(name, args, "coredns", after_nodes)
        self.addons["aws-ebs-csi-driver"] = self._addon(
            name,
            args,
            "aws-ebs-csi-driver",
            [*after_nodes, attachment],
            pod_identity=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT
                )
            ],
        )
        self.ready: list[pulumi.Resource] = [*self.addons.values()]
        if self.system_node_group is not None:
            self.ready.append(self.system_node_group.node_group)
        self.register_outputs({"ebs_csi_role_arn": role.arn})

    def _addon(
        self,
        name: str,
        args: ClusterAddonsArgs,
        addon: str,
        depends_on: list[pulumi.Resource],
        pod_identity: list[aws.eks.AddonPodIdentityAssociationArgs] | None = None,
    ) -> aws.eks.Addon:
        config = addon_configuration(addon)
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=args.cluster_name,
            addon_name=addon,
            addon_version=args.versions[addon],
            configuration_values=json.dumps(config, sort_keys=True) if config is not None else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            pod_identity_associations=pod_identity,
            tags=dict(args.tags),
            opts=child(self, depends_on=depends_on),
        )

    def _ebs_csi_role(
        self, name: str, args: ClusterAddonsArgs, tags: dict[str, str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        role = aws.iam.Role(
            f"{name}-ebs-csi-role",
            assume_role_policy=assume_role_policy(
                "pods.eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession")
            ),
            tags=tags,
            opts=child(self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy",
            role=role.name,
            policy_arn=EBS_CSI_POLICY.format(partition=aws_partition(args.region)),
            opts=child(self),
        )
        return role, attachment
