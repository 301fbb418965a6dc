"""Resource rules on what the components really register: the gateway and model-server Helm releases'
values, the EKS cluster's public endpoint, the egress opt-in, and the IAM of an accepted global profile."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from serving.residency import ResidencyPolicy
from tests.unit.test_residency_crafted import stack_path
from tests.unit.test_residency_resources import BEDROCK_EU, rec, rules


def release(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return rec("kubernetes:helm.sh/v3:Release", name, chart="serving/charts/x", values=values)


PRIMARY = {"url": "http://llama.serving.svc:8000/v1", "model": "m"}
OPEN = ResidencyPolicy(
    home_region="eu-central-1", allowed_regions=("eu-central-1",), allow_public_egress=True
)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (  # the gateway release's values: where Paddock's routes really live
            release("gateway-release", {"routes": {"aliases": {"llama-eu-only": {"primary": PRIMARY}}}}),
            [],
        ),
        (
            release(
                "gateway-release",
                {"routes": {"aliases": {"llama-eu-only": {"primary": PRIMARY, "fallback": BEDROCK_EU}}}},
            ),
            [("pinned-alias-bedrock-route", None)],
        ),
        (
            release("gateway-release", {"logging": {"content": True}, "routes": {"aliases": {}}}),
            [("gateway-logs-content", None)],
        ),
        (
            release(
                "gateway-release",
                {
                    "routes": {
                        "aliases": {"a": {"primary": {"url": "https://api.example.com/v1", "model": "m"}}}
                    }
                },
            ),
            [("primary-off-cluster", None)],
        ),
        (
            release(
                "gateway-release",
                {
                    "routes": {
                        "aliases": {
                            "a": {
                                "primary": {"url": "http://x.us-east-1.elb.amazonaws.com/v1", "model": "m"}
                            },
                            "b": {
                                "primary": {"url": "http://x.eu-west-1.elb.amazonaws.com/v1", "model": "m"}
                            },
                            "c": {"primary": {"url": "http://127.0.0.1:8000/v1", "model": "m"}},
                        }
                    }
                },
            ),
            [("primary-off-cluster", "us-east-1")],
        ),
        (
            release(
                "model-x-release", {"weights": {"source": "s3", "region": "us-east-1", "s3Uri": "s3://b/"}}
            ),
            [("weights-region", "us-east-1")],
        ),
        (release("model-x-release", {"weights": {"source": "s3", "region": "eu-west-1"}}), []),
        (release("model-x-release", {"weights": {"source": "hf"}}), [("weights-public", None)]),
        (
            rec("aws:eks/cluster:Cluster", vpcConfig={"endpointPublicAccess": True}),
            [("public-api-endpoint", "eu-central-1")],
        ),
        (
            rec(
                "aws:eks/cluster:Cluster",
                vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
            ),
            [("public-api-endpoint", "eu-central-1")],
        ),
        (  # restricted to the deploy runner: control plane only, no prompts
            rec(
                "aws:eks/cluster:Cluster",
                vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.7/32"]},
            ),
            [],
        ),
        (
            rec(
                "kubernetes:core/v1:ConfigMap",
                data={
                    "routes.yaml": "aliases:\n  llama-eu-only:\n    fallback: none\n"
                    "    fallback: {bedrock: {model: m, region: eu-central-1}}\n"
                },
            ),
            [("routes-duplicate-key", None)],
        ),
    ],
)
def test_release_cluster_and_routes_rules(
    record: dict[str, Any], expected: list[tuple[str, str | None]]
) -> None:
    assert rules(record) == expected


@pytest.mark.parametrize(
    "record",
    [
        rec("aws:ec2/natGateway:NatGateway"),
        release("model-x-release", {"weights": {"source": "hf"}}),
        rec("aws:eks/cluster:Cluster", vpcConfig={"endpointPublicAccess": True}),
    ],
)
def test_allow_public_egress_waives_the_egress_rules(record: dict[str, Any]) -> None:
    assert rules(record) != [] and rules(record, OPEN) == []


def test_accepted_global_profile_iam_passes_and_refused_one_is_one_finding_per_grant() -> None:
    """The IAM the generator writes for a global profile (every commercial Region + the Region-less ARN) is
    clean when allowGlobalInferenceProfiles is true: not 27 bedrock-iam-region errors."""
    from serving.residency import facts_from_stack_config
    from serving.residency.iam import bedrock_targets, invoke_policy
    from serving.stack_config import load_stack_file

    facts = facts_from_stack_config(load_stack_file(stack_path("clean-global-allowed")))
    doc = json.dumps(invoke_policy(bedrock_targets(facts), account_id="123456789012"))
    record = rec("aws:iam/rolePolicy:RolePolicy", policy=doc)
    assert len(json.loads(doc)["Statement"][1]["Resource"]) > 20
    assert rules(record, facts.policy) == []
    refused = dataclasses.replace(facts.policy, allow_global_profiles=False)
    assert {r for r, _ in rules(record, refused)} == {"profile-global", "bedrock-iam-region"}


@pytest.mark.parametrize(
    "values",
    [
        {"logging": {"prompts": "true"}},
        {"gateway": {"logContent": True}},
        {"env": [{"name": "PADDOCK_LOG_BODIES", "value": "1"}]},
        {"extraArgs": ["--log-content"]},
        {"routes": {"logging": {"content": True}, "aliases": {}}},
    ],
)
def test_content_logging_in_any_release_values_is_caught_once(values: dict[str, Any]) -> None:
    assert rules(release("gateway-release", values)) == [("gateway-logs-content", None)]


def test_quiet_values_pass() -> None:
    quiet = {"logLevel": "debug", "logging": {"content": False}, "env": [{"name": "LOG_LEVEL", "value": "1"}]}
    assert rules(release("gateway-release", quiet)) == []
