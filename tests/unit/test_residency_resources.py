"""Resource-record rules (shared by audit and the policy pack): violating and clean records per type."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from serving.residency import ResidencyPolicy, check_resource
from serving.residency.resource_rules import INVOCATION_LOGGING

EU = ResidencyPolicy(
    home_region="eu-central-1",
    allowed_regions=("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"),
    log_retention_days=30,
    pinned_aliases=frozenset({"llama-eu-only"}),
)
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:eu-central-1:123456789012:inference-profile/{SONNET}"


def rec(rtype: str, name: str = "r", **inputs: Any) -> dict[str, Any]:
    return {"type": rtype, "name": name, "parent": None, "inputs": inputs}


def rules(record: dict[str, Any], policy: ResidencyPolicy = EU) -> list[tuple[str, str | None]]:
    return [(f.rule, f.region) for f in check_resource(record, policy)]


def invoke_doc(*resources: str, action: str = "bedrock:InvokeModel") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": [action], "Resource": list(resources)},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            ],
        }
    )


def routes(aliases: dict[str, Any], **extra: Any) -> str:
    return yaml.safe_dump({"aliases": aliases, **extra})


BEDROCK_EU = {"bedrock": {"model": "anthropic.claude-haiku-4-5-20251001-v1:0", "region": "eu-central-1"}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (rec("aws:s3/bucket:Bucket", region="us-east-1"), [("weights-region", "us-east-1")]),
        (rec("aws:s3/bucket:Bucket", region="eu-west-1"), []),
        (rec("aws:s3/bucket:Bucket"), []),
        (rec("aws:cloudwatch/logGroup:LogGroup", retentionInDays=30), []),
        (rec("aws:cloudwatch/logGroup:LogGroup"), [("log-retention", "eu-central-1")]),
        (rec("aws:cloudwatch/logGroup:LogGroup", retentionInDays=365.0), [("log-retention", "eu-central-1")]),
        (
            rec("aws:cloudwatch/logGroup:LogGroup", region="us-west-2", retentionInDays=7),
            [("log-region", "us-west-2")],
        ),
        (rec("aws:iam/rolePolicy:RolePolicy", policy=invoke_doc("*")), [("bedrock-iam-wildcard", None)]),
        (
            rec("aws:iam/policy:Policy", policy=invoke_doc("arn:aws:bedrock:*::foundation-model/x")),
            [("bedrock-iam-wildcard", None)],
        ),
        (
            rec(
                "aws:iam/rolePolicy:RolePolicy",
                policy=invoke_doc(
                    PROFILE_ARN, "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-x-v1:0"
                ),
            ),
            [],
        ),
        (
            rec(
                "aws:iam/rolePolicy:RolePolicy",
                policy=invoke_doc("arn:aws:bedrock:us-east-1::foundation-model/m"),
            ),
            [("bedrock-iam-region", "us-east-1")],
        ),
        (
            rec(
                "aws:iam/role:Role",
                inlinePolicies=[
                    {
                        "name": "p",
                        "policy": invoke_doc("arn:aws:bedrock:::foundation-model/m", action="bedrock:*"),
                    }
                ],
            ),
            [("profile-global", None)],
        ),
        (rec("aws:iam/role:Role", assumeRolePolicy="{}"), []),
        (
            rec(
                "aws:ec2/vpcEndpoint:VpcEndpoint",
                serviceName="com.amazonaws.eu-central-1.bedrock-runtime",
                policy=invoke_doc(PROFILE_ARN),
            ),
            [],
        ),
        (
            rec("aws:ec2/vpcEndpoint:VpcEndpoint", serviceName="com.amazonaws.eu-central-1.bedrock-runtime"),
            [("endpoint-policy", "eu-central-1")],
        ),
        (
            rec("aws:ec2/vpcEndpoint:VpcEndpoint", serviceName="com.amazonaws.us-east-1.sts"),
            [("endpoint-region", "us-east-1")],
        ),
        (
            rec(
                "kubernetes:core/v1:ConfigMap",
                data={
                    "routes.yaml": routes(
                        {"llama-eu-only": {"fallback": "none"}, "llama": {"fallback": BEDROCK_EU}}
                    )
                },
            ),
            [],
        ),
        (
            rec(
                "kubernetes:core/v1:ConfigMap",
                data={"routes.yaml": routes({"llama-eu-only": {"fallback": BEDROCK_EU}})},
            ),
            [("pinned-alias-bedrock-route", None)],
        ),
        (
            rec(
                "kubernetes:core/v1:ConfigMap",
                data={
                    "routes.yaml": routes(
                        {
                            "a": {
                                "fallback": {
                                    "bedrock": {
                                        "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                        "region": "us-east-1",
                                    }
                                }
                            }
                        }
                    )
                },
            ),
            [("bedrock-source-region", "us-east-1")]
            + [("profile-destinations", r) for r in ("us-east-1", "us-east-2", "us-west-1", "us-west-2")],
        ),
        (
            rec("kubernetes:core/v1:ConfigMap", data={"routes.yaml": routes({}, logging={"content": True})}),
            [("gateway-logs-content", None)],
        ),
        (
            rec(
                "kubernetes:core/v1:ConfigMap",
                data={"other": "plain text", "bad": "aliases: [", "list": "- aliases"},
            ),
            [],
        ),
        (
            rec(
                "kubernetes:apps/v1:Deployment",
                spec={
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "gateway", "env": [{"name": "PADDOCK_LOG_CONTENT", "value": "true"}]}
                            ]
                        }
                    }
                },
            ),
            [("gateway-logs-content", None)],
        ),
        (
            rec(
                "kubernetes:apps/v1:Deployment",
                spec={
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "gateway",
                                    "args": ["--log-prompts"],
                                    "env": [{"name": "PADDOCK_LOG_CONTENT", "value": "0"}],
                                }
                            ]
                        }
                    }
                },
            ),
            [("gateway-logs-content", None)],
        ),
        (
            rec(
                "kubernetes:apps/v1:Deployment",
                spec={
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "gateway", "env": [{"name": "PADDOCK_LOG_LEVEL", "value": "info"}]}
                            ]
                        }
                    }
                },
            ),
            [],
        ),
        (
            rec(INVOCATION_LOGGING, loggingConfig={"textDataDeliveryEnabled": True}),
            [("bedrock-invocation-logging", "eu-central-1")],
        ),
        (rec(INVOCATION_LOGGING, loggingConfig={"textDataDeliveryEnabled": False}), []),
        (rec("aws:ec2/natGateway:NatGateway"), [("public-egress", "eu-central-1")]),
        (rec("aws:eks/cluster:Cluster", region="us-east-2"), [("compute-region", "us-east-2")]),
        (rec("aws:eks/cluster:Cluster"), []),
        (rec("aws:eks/nodeGroup:NodeGroup", region="us-east-2"), [("compute-region", "us-east-2")]),
        (rec("aws:eks/nodeGroup:NodeGroup", region="eu-west-1"), []),
        (
            rec("aws:ec2/launchTemplate:LaunchTemplate", region="us-east-2"),
            [("resource-region", "us-east-2")],
        ),
        (rec("aws:ec2/launchTemplate:LaunchTemplate"), []),
        (rec("kubernetes:core/v1:Namespace"), []),
    ],
)
def test_resource_rule(record: dict[str, Any], expected: list[tuple[str, str | None]]) -> None:
    assert rules(record) == expected


def test_fallback_forbidden_flags_any_bedrock_grant_or_route() -> None:
    closed = ResidencyPolicy(
        home_region="eu-central-1", allowed_regions=("eu-central-1",), allow_fallback=False
    )
    role = rec("aws:iam/rolePolicy:RolePolicy", policy=invoke_doc(PROFILE_ARN))
    cm = rec("kubernetes:core/v1:ConfigMap", data={"routes.yaml": routes({"a": {"fallback": BEDROCK_EU}})})
    assert rules(role, closed) == [("fallback-forbidden", None)]
    assert rules(cm, closed) == [("fallback-forbidden", None)]


def test_findings_name_resource_and_config_key() -> None:
    (f,) = check_resource(rec("aws:s3/bucket:Bucket", "weights-bucket", region="us-east-1"), EU)
    assert (f.resource, f.config_key, f.severity) == (
        "weights-bucket",
        "paddock:models[].weightsRegion",
        "error",
    )
    assert f.message == "bucket weights-bucket is in us-east-1"


def test_cluster_in_a_home_region_outside_allowed_is_blocked_by_name_and_key() -> None:
    us_home = ResidencyPolicy(home_region="us-east-1", allowed_regions=("eu-central-1",))
    (finding,) = check_resource(rec("aws:eks/cluster:Cluster", name="eks-eks"), us_home)
    assert (finding.rule, finding.resource, finding.config_key, finding.region, finding.severity) == (
        "compute-region",
        "eks-eks",
        "aws:region",
        "us-east-1",
        "error",
    )
    assert finding.message == "EKS cluster eks-eks is in us-east-1"
