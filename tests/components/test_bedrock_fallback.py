"""BedrockFallback under Pulumi mocks: child resources, parsed policy documents with exact ARNs, no role when
every alias is pinned, and Args validation before any child exists."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.bedrock_fallback import BedrockFallback, BedrockFallbackArgs
from serving.residency import load_stack_facts
from serving.residency.iam import ACTIONS, BedrockTarget, bedrock_targets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
ACCT = "123456789012"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
EU6 = ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]
PROFILE_ARN = f"arn:aws:bedrock:eu-central-1:{ACCT}:inference-profile/{SONNET}"


class Recorder(pulumi.runtime.Mocks):
    """Records every registered resource (type, name, inputs) and gives IAM roles an ARN."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ == "aws:iam/role:Role":
            outputs["arn"] = f"arn:aws:iam::{ACCT}:role/{args.name}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []

    def by_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, project="paddock", stack="test", preview=False)
    yield rec


def targets(name: str) -> tuple[BedrockTarget, ...]:
    return bedrock_targets(load_stack_facts(FIXTURES / f"Pulumi.{name}.yaml"))


def build(**overrides: Any) -> Callable[[], None]:
    fields: dict[str, Any] = {
        "targets": targets("clean-eu"),
        "region": "eu-central-1",
        "account_id": ACCT,
        "cluster_name": "paddock-prod-eu",
        "vpc_id": "vpc-1",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "vpc_cidr": "10.40.0.0/16",
        "tags": {"paddock:stack": "test"},
    }
    fields.update(overrides)

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> None:
        BedrockFallback("fb", BedrockFallbackArgs(**fields))

    return body  # type: ignore[no-any-return]


def test_children_are_named_and_parented(recorder: Recorder) -> None:
    build()()
    kinds = sorted((r.typ, r.name) for r in recorder.resources)
    assert kinds == [
        ("aws:ec2/securityGroup:SecurityGroup", "fb-endpoint-sg"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "fb-bedrock-runtime"),
        ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "fb-pod-identity"),
        ("aws:iam/role:Role", "fb-role"),
        ("aws:iam/rolePolicy:RolePolicy", "fb-invoke"),
        ("paddock:residency:BedrockFallback", "fb"),
    ]
    role = recorder.by_type("aws:iam/role:Role")[0]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "pods.eks.amazonaws.com"
    }
    assoc = recorder.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")[0].inputs
    assert (assoc["namespace"], assoc["serviceAccount"], assoc["roleArn"]) == (
        "serving",
        "paddock-gateway",
        f"arn:aws:iam::{ACCT}:role/fb-role",
    )


def test_invoke_policy_has_exact_arns_and_no_wildcards(recorder: Recorder) -> None:
    build()()
    doc = json.loads(recorder.by_type("aws:iam/rolePolicy:RolePolicy")[0].inputs["policy"])
    profile_st, models_st = doc["Statement"]
    assert profile_st["Action"] == ACTIONS == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert profile_st["Resource"] == [PROFILE_ARN] and "Condition" not in profile_st
    assert models_st["Resource"] == [f"arn:aws:bedrock:{r}::foundation-model/{SONNET_MODEL}" for r in EU6]
    assert models_st["Condition"] == {"StringEquals": {"bedrock:InferenceProfileArn": PROFILE_ARN}}
    assert not any("*" in r for st in doc["Statement"] for r in st["Resource"] + st["Action"])


def test_endpoint_policy_and_service(recorder: Recorder) -> None:
    build()()
    ep = recorder.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")[0].inputs
    assert ep["serviceName"] == "com.amazonaws.eu-central-1.bedrock-runtime"
    assert (ep["vpcEndpointType"], ep["privateDnsEnabled"], ep["subnetIds"]) == (
        "Interface",
        True,
        ["subnet-a", "subnet-b"],
    )
    policy = json.loads(ep["policy"])
    assert {json.dumps(st["Principal"]) for st in policy["Statement"]} == {
        json.dumps({"AWS": [f"arn:aws:iam::{ACCT}:role/fb-role"]})
    }
    assert (
        policy["Statement"][1]["Resource"][0]
        == f"arn:aws:bedrock:eu-central-1::foundation-model/{SONNET_MODEL}"
    )
    sg = recorder.by_type("aws:ec2/securityGroup:SecurityGroup")[0].inputs
    assert sg["ingress"][0]["cidrBlocks"] == ["10.40.0.0/16"] and sg["ingress"][0]["fromPort"] == 443


def test_irsa_trust_and_given_security_groups(recorder: Recorder) -> None:
    build(
        oidc_provider_arn="arn:aws:iam::1:oidc-provider/oidc.eks/id/X",
        oidc_issuer="https://oidc.eks/id/X",
        security_group_ids=["sg-1"],
        vpc_cidr=None,
    )()
    types = {r.typ for r in recorder.resources}
    assert "aws:eks/podIdentityAssociation:PodIdentityAssociation" not in types
    assert "aws:ec2/securityGroup:SecurityGroup" not in types
    trust = json.loads(recorder.by_type("aws:iam/role:Role")[0].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["oidc.eks/id/X:sub"] == (
        "system:serviceaccount:serving:paddock-gateway"
    )
    assert recorder.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")[0].inputs["securityGroupIds"] == ["sg-1"]


@pytest.mark.parametrize("stack", ["clean-pinned", "fallback-forbidden"])
def test_no_role_and_no_endpoint_when_all_pinned(recorder: Recorder, stack: str) -> None:
    build(targets=targets(stack), vpc_id=None, subnet_ids=None)()
    assert [(r.typ, r.name) for r in recorder.resources] == [("paddock:residency:BedrockFallback", "fb")]


def test_policy_residency_rules_accept_what_the_component_builds(recorder: Recorder) -> None:
    from serving.residency import ResidencyPolicy, check_resource

    build()()
    policy = ResidencyPolicy(home_region="eu-central-1", allowed_regions=tuple(EU6))
    records = [{"type": r.typ, "name": r.name, "inputs": r.inputs} for r in recorder.resources]
    assert [f for rec in records for f in check_resource(rec, policy)] == []
    narrow = ResidencyPolicy(home_region="eu-central-1", allowed_regions=("eu-central-1", "eu-west-1"))
    flagged = sorted({(f.rule, f.region) for rec in records for f in check_resource(rec, narrow)})
    assert flagged == [
        ("bedrock-iam-region", r) for r in ("eu-north-1", "eu-south-1", "eu-south-2", "eu-west-3")
    ]


def test_invalid_args_listed_at_once_before_any_child(recorder: Recorder) -> None:
    bad = BedrockTarget(
        profile_id=SONNET,
        model_id=SONNET_MODEL,
        scope="geo",
        source_region="eu-west-1",
        destinations=(),
        basis="data file",
        config_key="k",
    )
    with pytest.raises(pulumi.InputPropertiesError) as err:
        build(
            targets=(bad,),
            namespace="Serving",
            region="europe",
            vpc_id=None,
            subnet_ids=None,
            vpc_cidr=None,
            oidc_issuer="https://x",
        )()
    text = str(err.value)
    for needle in (
        "namespace: 'Serving'",
        "region: 'europe'",
        "targets[0]: eu.anthropic",
        "source Region eu-west-1",
        "oidc_issuer: IRSA needs both",
        "vpc_id: required",
        "subnet_ids: required",
        "security_group_ids: give",
    ):
        assert needle in text
    assert recorder.resources == []
