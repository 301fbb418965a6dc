"""The CrossGuard pack's validators, called directly (toolchain.md §4) with ResourceValidationArgs built from
the inputs Paddock's components register, and the pack's residency config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    ResourceValidationArgs,
    StackValidationArgs,
)

from serving.errors import InputError
from stacks.policy_pack.policies import (
    POLICIES,
    policy_from_config,
    validate_residency,
    validate_residency_advisory,
    validate_residency_stack,
)
from tests.unit.test_residency_crafted import stack_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
ACCT = "123456789012"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
EU_STACK = {"stackFile": str(FIXTURES / "Pulumi.clean-eu.yaml")}
NARROW_STACK = {"stackFile": str(FIXTURES / "Pulumi.eu-narrow-allowed.yaml")}
PROFILE_ARN = f"arn:aws:bedrock:eu-central-1:{ACCT}:inference-profile/{SONNET}"


def invoke_policy(regions: list[str]) -> str:
    """The RolePolicy ``policy`` input BedrockFallback registers (see tests/components)."""
    actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "InvokeProfile0", "Effect": "Allow", "Action": actions, "Resource": [PROFILE_ARN]},
                {
                    "Sid": "InvokeModelsViaProfile0",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [f"arn:aws:bedrock:{r}::foundation-model/{MODEL}" for r in regions],
                    "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": PROFILE_ARN}},
                },
            ],
        }
    )


def validate(
    validator: Any,
    rtype: str,
    props: dict[str, Any],
    config: dict[str, Any],
    provider_region: str | None = None,
) -> list[str]:
    provider = None
    if provider_region:
        provider = PolicyProviderResource("pulumi:providers:aws", {"region": provider_region}, "urn:p", "aws")
    args = ResourceValidationArgs(
        rtype, props, f"urn:pulumi:test::paddock::{rtype}::r", "r", None, provider, config
    )
    reported: list[str] = []
    validator(args, lambda message, urn=None: reported.append(message))
    return reported


def test_pack_declares_mandatory_and_advisory_policies() -> None:
    assert [(p.name, p.enforcement_level) for p in POLICIES] == [
        ("paddock-residency", EnforcementLevel.MANDATORY),
        ("paddock-residency-advisory", EnforcementLevel.ADVISORY),
        ("paddock-residency-stack", EnforcementLevel.MANDATORY),
        ("paddock-residency-stack-advisory", EnforcementLevel.ADVISORY),
    ]


def test_component_role_policy_passes_when_all_destinations_allowed() -> None:
    props = {"role": "fb-role-id", "policy": invoke_policy(["eu-central-1", "eu-north-1", "eu-west-3"])}
    assert validate(validate_residency, "aws:iam/rolePolicy:RolePolicy", props, EU_STACK) == []


def test_component_role_policy_blocked_for_destinations_outside_allowed() -> None:
    props = {"role": "fb-role-id", "policy": invoke_policy(["eu-central-1", "eu-north-1"])}
    assert validate(validate_residency, "aws:iam/rolePolicy:RolePolicy", props, NARROW_STACK) == [
        "bedrock-iam-region [eu-north-1]: grants Bedrock invoke on "
        f"arn:aws:bedrock:eu-north-1::foundation-model/{MODEL} (config key paddock:fallback.bedrock.models)"
    ]


def test_pack_checks_weights_and_profiles_of_the_stack_file() -> None:
    """Config-level rules run as stack policies: a US weights bucket never passes preview."""
    weights = StackValidationArgs([], {"stackFile": str(FIXTURES / "Pulumi.weights-other-region.yaml")})
    reported: list[str] = []
    validate_residency_stack(weights, lambda message, urn=None: reported.append(message))
    assert [m.split(":")[0] for m in reported] == ["weights-region [us-east-1]"]
    explicit = StackValidationArgs([], {"homeRegion": "eu-central-1"})
    with pytest.raises(Exception) as not_applicable:  # pulumi_policy's _NotApplicableError
        validate_residency_stack(explicit, lambda message, urn=None: None)
    assert type(not_applicable.value).__name__ == "_NotApplicableError"


def test_pinned_alias_route_in_gateway_config_map_is_blocked() -> None:
    routes = yaml.safe_dump(
        {
            "aliases": {
                "llama-8b-eu-only": {
                    "primary": {"url": "http://llama-8b-eu-only.serving.svc:8000/v1", "model": "m"},
                    "fallback": {"bedrock": {"model": SONNET, "region": "eu-central-1"}},
                }
            }
        }
    )
    found = validate(
        validate_residency, "kubernetes:core/v1:ConfigMap", {"data": {"routes.yaml": routes}}, EU_STACK
    )
    assert found == [
        "pinned-alias-bedrock-route: alias llama-8b-eu-only is pinned (fallback: none) but routes.yaml "
        "routes it to Bedrock (config key paddock:models[].fallback)"
    ]


def test_us_weights_bucket_blocked_with_explicit_config() -> None:
    config = {"homeRegion": "eu-central-1", "allowedRegions": ["eu-central-1"]}
    found = validate(
        validate_residency, "aws:s3/bucket:Bucket", {"bucket": "w", "region": "us-east-1"}, config
    )
    assert found == [
        "weights-region [us-east-1]: bucket r is in us-east-1 (config key paddock:models[].weightsRegion)"
    ]
    assert validate(validate_residency, "aws:s3/bucket:Bucket", {"bucket": "w"}, config) == []


def test_provider_region_is_the_resource_region() -> None:
    found = validate(
        validate_residency,
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 30.0},
        EU_STACK,
        provider_region="us-west-2",
    )
    assert found == ["log-region [us-west-2]: log group r is in us-west-2 (config key aws:region)"]


def test_warnings_go_to_the_advisory_policy_only() -> None:
    endpoint = {"serviceName": "com.amazonaws.eu-central-1.bedrock-runtime"}
    rtype = "aws:ec2/vpcEndpoint:VpcEndpoint"
    assert validate(validate_residency, rtype, endpoint, EU_STACK) == []
    assert validate(validate_residency_advisory, rtype, endpoint, EU_STACK) == [
        "endpoint-policy [eu-central-1]: bedrock-runtime endpoint has no endpoint policy (full access) "
        "(config key paddock:network.vpcEndpoints)"
    ]


def test_nat_gateway_is_mandatory_unless_the_stack_opts_in_to_public_egress() -> None:
    nat: dict[str, Any] = {"allocationId": "eipalloc-1", "subnetId": "subnet-1"}
    opted = {"stackFile": str(stack_path("clean-public-egress-opt-in"))}
    assert validate(validate_residency, "aws:ec2/natGateway:NatGateway", nat, EU_STACK) == [
        "public-egress [eu-central-1]: a NAT gateway gives pods a route to any Internet destination; set "
        "paddock:residency.allowPublicEgress: true (config key paddock:network.natGateway)"
    ]
    assert validate(validate_residency, "aws:ec2/natGateway:NatGateway", nat, opted) == []
    assert policy_from_config({"homeRegion": "eu-west-1", "allowPublicEgress": True}).allow_public_egress


def test_config_forms() -> None:
    explicit = policy_from_config(
        {"homeRegion": "eu-west-1", "logRetentionDays": 14, "pinnedAliases": ["a"], "allowFallback": False}
    )
    assert (explicit.allowed_regions, explicit.log_retention_days, explicit.pinned_aliases) == (
        ("eu-west-1",),
        14,
        frozenset({"a"}),
    )
    assert explicit.allow_fallback is False
    from_file = policy_from_config({"stackFile": "tests/fixtures/stacks/Pulumi.clean-pinned.yaml"})
    assert from_file.pinned_aliases == frozenset({"llama-8b", "llama-8b-eu-only"})
    with pytest.raises(InputError, match="set stackFile or homeRegion"):
        policy_from_config({})


def test_cluster_outside_allowed_regions_is_blocked_by_the_mandatory_policy() -> None:
    config = {"stackFile": "tests/fixtures/stacks/Pulumi.compute-region.yaml"}
    assert policy_from_config(config).home_region == "us-east-1"
    cluster = {"name": "paddock-fixture", "version": "1.33"}
    assert validate(validate_residency, "aws:eks/cluster:Cluster", cluster, config) == [
        "compute-region [us-east-1]: EKS cluster r is in us-east-1 (config key aws:region)"
    ]
    assert validate(validate_residency_advisory, "aws:eks/cluster:Cluster", cluster, config) == []
    eu = validate(
        validate_residency, "aws:eks/nodeGroup:NodeGroup", {}, EU_STACK, provider_region="eu-west-1"
    )
    assert eu == []


def test_bad_stack_file_in_the_pack_config_names_the_key() -> None:
    with pytest.raises(InputError, match="paddock:residency.allowedRegions: expected a list of strings"):
        policy_from_config({"stackFile": str(FIXTURES / "Pulumi.bad-input.yaml")})
