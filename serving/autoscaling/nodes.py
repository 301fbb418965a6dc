"""Node scaling for the GPU node groups: cluster-autoscaler settings and IAM policy, or Karpenter objects.

Both follow one rule: GPU nodes scale to zero, and a node goes away only when no engine pod runs on it
(engine pods carry :func:`serving.autoscaling.pods.engine_pod_annotations`). Scale-down delays exceed every
model's load time (:func:`serving.autoscaling.model.node_scale_down_seconds`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.autoscaling.model import ModelScaling, node_scale_down_seconds

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}


@dataclass(frozen=True, kw_only=True)
class ClusterAutoscalerSettings:
    """What the cluster-autoscaler values template needs (helm_values/cluster_autoscaler.yaml.j2)."""

    cluster_name: str
    region: str
    scale_down_unneeded: str
    """``--scale-down-unneeded-time`` (``15m``): > every model's load time."""
    scale_down_delay_after_add: str
    """``--scale-down-delay-after-add``: same as unneeded time, so a fresh node is not judged idle while its
    engine pod is still pulling and loading."""
    max_node_provision_time: str
    """``--max-node-provision-time``: GPU capacity can take long to appear; 15 m, as upstream."""
    expander: str
    """``least-waste``: of the node groups that fit a pending pod, the one leaving fewest idle GPUs/CPUs."""
    role_arn: str | None = None
    """IAM role for the service account (IRSA); None = node role / pod identity set elsewhere."""


def _minutes(seconds: int) -> str:
    return f"{math.ceil(seconds / 60)}m"


def cluster_autoscaler_settings(
    models: tuple[ModelScaling, ...], *, cluster_name: str, region: str, role_arn: str | None = None
) -> ClusterAutoscalerSettings:
    """Settings derived from the slowest model: with a 900 s load time, unneeded time is 23m (1350 s)."""
    delay = node_scale_down_seconds(models)
    return ClusterAutoscalerSettings(
        cluster_name=cluster_name,
        region=region,
        scale_down_unneeded=_minutes(delay),
        scale_down_delay_after_add=_minutes(delay),
        max_node_provision_time="15m",
        expander="least-waste",
        role_arn=role_arn,
    )


def cluster_autoscaler_policy(cluster_name: str) -> dict[str, Any]:
    """IAM policy for cluster-autoscaler on EKS: read-only discovery everywhere, and set-capacity/terminate
    only on Auto Scaling groups tagged ``k8s.io/cluster-autoscaler/<cluster>: owned`` (EKS managed node groups
    carry that tag). ``eks:DescribeNodegroup`` lets it learn labels and taints of a group at zero nodes."""
    owner_tag = f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOwnedGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {owner_tag: "owned"}},
            },
        ],
    }


def node_group_autoscaler_tags(cluster_name: str, *, gpus_per_node: int) -> dict[str, str]:
    """Tags a GPU node group's Auto Scaling group needs for auto-discovery and scale from zero
    (the node-template tags tell cluster-autoscaler what a node would offer before one exists)."""
    return {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": str(gpus_per_node),
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
    }


def karpenter_node_pool(
    model: ModelScaling, *, node_class: str, node_labels: Mapping[str, str]
) -> dict[str, Any]:
    """A ``karpenter.sh/v1`` NodePool for one model: its plan's instance type only, GPU taint, consolidation
    only of EMPTY nodes after the scale-down delay, and a GPU limit of max_replicas x GPUs per replica.
    ``node_labels`` are the labels the engine pods select (``serving.release_values.gpu_node_labels``)."""
    plan = model.plan
    gpus = plan.gpus_per_node * plan.nodes_per_replica * model.max_replicas
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [model.capacity_type]},
    ]
    if model.capacity_type == "reserved" and model.capacity_reservation_id:
        # only this model's reservation (the EC2NodeClass selects every model's reservations)
        requirements.append(
            {
                "key": "karpenter.k8s.aws/capacity-reservation-id",
                "operator": "In",
                "values": [model.capacity_reservation_id],
            }
        )
    if plan.instance_type:
        requirements.insert(
            0, {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [plan.instance_type]}
        )
    delay = node_scale_down_seconds((model,))
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": f"gpu-{model.alias}"},
        "spec": {
            "template": {
                "metadata": {"labels": dict(node_labels)},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": node_class,
                    },
                    "requirements": requirements,
                    "taints": [GPU_TAINT],
                    "expireAfter": "Never",
                },
            },
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": f"{delay}s",
                "budgets": [{"nodes": "1"}],
            },
            "limits": {"nvidia.com/gpu": gpus},
        },
    }


def karpenter_node_class(
    *,
    name: str,
    cluster_name: str,
    node_role: str,
    ami_alias: str,
    root_volume_gib: int,
    local_nvme: bool = False,
    capacity_reservation_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A ``karpenter.k8s.aws/v1`` EC2NodeClass for GPU nodes. ``ami_alias`` is pinned in stack config
    (``al2023@v20251103``); subnets and security groups are found by the ``karpenter.sh/discovery`` tag.
    ``local_nvme``: the instance types have instance-store NVMe, mounted as RAID0 for kubelet/containerd
    (``instanceStorePolicy: RAID0``) so emptyDir volumes (the model cache) land there (shared contract).
    ``capacity_reservation_ids``: ODCRs / Capacity Blocks Karpenter may launch into
    (``capacityReservationSelectorTerms``; Karpenter never matches a reservation it was not given)."""
    discovery = {"tags": {"karpenter.sh/discovery": cluster_name}}
    node_class: dict[str, Any] = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": name},
        "spec": {
            "role": node_role,
            "amiSelectorTerms": [{"alias": ami_alias}],
            "subnetSelectorTerms": [discovery],
            "securityGroupSelectorTerms": [discovery],
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {"volumeSize": f"{root_volume_gib}Gi", "volumeType": "gp3", "encrypted": True},
                }
            ],
            "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
        },
    }
    if local_nvme:
        node_class["spec"]["instanceStorePolicy"] = "RAID0"
    if capacity_reservation_ids:
        node_class["spec"]["capacityReservationSelectorTerms"] = [{"id": i} for i in capacity_reservation_ids]
    return node_class
