"""Small helpers shared by Paddock's components: Args validation, child options, tags, IAM policy JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi

#: type token prefix of every Paddock component: "paddock:<module>:<Type>"
PKG = "paddock"


def raise_problems(component: str, problems: Iterable[tuple[str, str]]) -> None:
    """Raise one ``pulumi.InputPropertiesError`` listing every ``(field, reason)`` (no-op when empty).

    Called first in each component's ``__init__``, before any child exists.
    """
    found = list(problems)
    if not found:
        return
    lines = "; ".join(f"{path}: {reason}" for path, reason in found)
    raise pulumi.InputPropertiesError(
        f"invalid {component} arguments: {lines}",
        errors=[{"property_path": path, "reason": reason} for path, reason in found],
    )


def child(parent: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    """``ResourceOptions(parent=parent, ...)`` for a child resource."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)


def with_name(tags: Mapping[str, str], name: str) -> dict[str, str]:
    """``tags`` plus ``Name`` (what the EC2 console shows)."""
    return {**dict(tags), "Name": name}


def policy_json(statements: list[dict[str, Any]]) -> str:
    """An IAM policy document (version 2012-10-17) as compact, key-sorted JSON."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def assume_role_policy(service: str, actions: tuple[str, ...] = ("sts:AssumeRole",)) -> str:
    """Trust policy letting an AWS service principal (``ec2.amazonaws.com``...) assume a role."""
    return policy_json([{"Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions)}])


def aws_partition(region: str) -> str:
    """ARN partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def weights_read_statements(
    bucket: str, prefix: str, partition: str = "aws", region: str | None = None
) -> list[dict[str, Any]]:
    """IAM statements reading model weights under ``s3://bucket/prefix`` only: GetObject on the prefix's
    objects, ListBucket on the bucket restricted to the prefix. No wildcard resource. With ``region``
    (``paddock:models[i].weightsRegion``) every statement also requires ``aws:RequestedRegion`` to be that
    region: a bucket answered from another region is not readable (S3 ARNs carry no region)."""
    in_region = {"StringEquals": {"aws:RequestedRegion": region}} if region else {}
    return [
        {
            "Sid": "ReadWeights",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:{partition}:s3:::{bucket}/{prefix}*"],
            **({"Condition": in_region} if in_region else {}),
        },
        {
            "Sid": "ListWeights",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:{partition}:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}, **in_region},
        },
    ]


#: Helm timeout of third-party system charts (s): a fresh system node joining (~3-4 min for a managed node
#: group) plus first image pulls through a pull-through cache exceed Helm's 300 s default.
SYSTEM_CHART_TIMEOUT_SECONDS = 600


def system_release_args(timeout: int = SYSTEM_CHART_TIMEOUT_SECONDS) -> dict[str, Any]:
    """``helm.v3.Release`` keyword arguments of a third-party system chart: ``atomic`` (a failed install is
    uninstalled, a failed upgrade rolled back: no half release left behind), ``cleanup_on_fail`` (resources a
    failed upgrade created are deleted) and a timeout sized for pods that wait for a node (seconds)."""
    return {"atomic": True, "cleanup_on_fail": True, "timeout": timeout}


#: URN parts of the component the scaling children lived in before it was split (one Autoscaling component
#: "autoscaling" -> NodeScaling, PodScaling, ModelScalers). Aliases keep those children's state: without them
#: an existing stack would create each again under its new URN first, which fails for named objects (the
#: Helm release "keda" or a ScaledObject already exists).
LEGACY_AUTOSCALING = ("autoscaling", "paddock:scaling:Autoscaling")


def moved(old_parent: pulumi.Input[str] | None, old_name: str | None = None) -> list[pulumi.Alias]:
    """Aliases of a child that used to live under ``old_parent`` (a URN), named ``old_name`` (None = the
    same name); empty when ``old_parent`` is None."""
    if old_parent is None:
        return []
    if old_name is None:
        return [pulumi.Alias(parent=old_parent)]
    return [pulumi.Alias(name=old_name, parent=old_parent)]
