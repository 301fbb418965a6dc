"""The residency rules on what the platform program really registers (stacks.offline under Pulumi mocks):
crafted stacks rendered, records checked by the same functions as audit and the policy pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serving.residency import audit_stack, check_resource, load_stack_facts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    from stacks.offline import render_stack

    return {
        name: render_stack(name, stack_file=FIXTURES / f"Pulumi.{name}.yaml").resources
        for name in ("clean-eu", "clean-pinned", "eu-narrow-allowed", "compute-region")
    }


def by_name(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [r for r in records if r["name"] == name]
    return found


def test_clean_stack_plan_has_no_residency_errors(rendered: dict[str, list[dict[str, Any]]]) -> None:
    records = rendered["clean-eu"]
    facts = load_stack_facts(FIXTURES / "Pulumi.clean-eu.yaml")
    audit = audit_stack(facts, records)
    assert [f for f in audit.findings if f.severity == "error"] == []
    assert audit.resources_checked == len(records) > 20


def test_bedrock_role_is_wired_with_exact_arns(rendered: dict[str, list[dict[str, Any]]]) -> None:
    records = rendered["clean-eu"]
    role_policy = json.loads(by_name(records, "bedrock-invoke")["inputs"]["policy"])
    arns = [a for st in role_policy["Statement"] for a in st["Resource"]]
    assert arns[0].endswith(f":inference-profile/{SONNET}") and len(arns) == 7
    assert not any("*" in a for a in arns)
    assoc = by_name(records, "bedrock-pod-identity")["inputs"]
    assert (assoc["namespace"], assoc["serviceAccount"]) == ("serving", "paddock-gateway")


def test_all_pinned_stack_has_no_bedrock_role(rendered: dict[str, list[dict[str, Any]]]) -> None:
    names = {r["name"] for r in rendered["clean-pinned"]}
    assert "bedrock" in names
    assert not {"bedrock-role", "bedrock-invoke", "bedrock-pod-identity"} & names
    assert not any(
        r["inputs"].get("serviceName", "").endswith("bedrock-runtime") for r in rendered["clean-pinned"]
    )


def test_narrow_allowed_list_grants_only_allowed_regions(rendered: dict[str, list[dict[str, Any]]]) -> None:
    records = rendered["eu-narrow-allowed"]
    doc = json.loads(by_name(records, "bedrock-invoke")["inputs"]["policy"])
    assert [a.split(":")[3] for a in doc["Statement"][1]["Resource"]] == ["eu-central-1", "eu-west-1"]
    facts = load_stack_facts(FIXTURES / "Pulumi.eu-narrow-allowed.yaml")
    assert [
        f for r in records for f in check_resource(r, facts.policy) if f.rule.startswith("bedrock-iam")
    ] == []


def pack_messages(records: list[dict[str, Any]], stack: str) -> tuple[list[str], list[str]]:
    """(mandatory, advisory) violation messages of the CrossGuard pack over rendered records."""
    from pulumi_policy import ResourceValidationArgs

    from stacks.policy_pack.policies import validate_residency, validate_residency_advisory

    config = {"stackFile": str(FIXTURES / f"Pulumi.{stack}.yaml")}
    mandatory: list[str] = []
    advisory: list[str] = []
    for r in records:
        args = ResourceValidationArgs(
            r["type"], r["inputs"], f"urn:{r['name']}", r["name"], None, None, config
        )
        validate_residency(args, lambda message, urn=None: mandatory.append(message))
        validate_residency_advisory(args, lambda message, urn=None: advisory.append(message))
    return mandatory, advisory


def test_cluster_region_outside_allowed_renders_and_is_reported(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    records = rendered["compute-region"]
    audit = audit_stack(load_stack_facts(FIXTURES / "Pulumi.compute-region.yaml"), records)
    errors = {(f.rule, f.config_key, f.region) for f in audit.findings if f.severity == "error"}
    assert errors == {
        ("compute-region", "aws:region", "us-east-1"),
        ("log-region", "aws:region", "us-east-1"),
        ("endpoint-region", "aws:region", "us-east-1"),
    }
    (compute,) = [f for f in audit.findings if f.rule == "compute-region"]
    assert compute.resource == "eks-eks"


def test_policy_pack_blocks_the_cluster_outside_allowed_regions(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    mandatory, _ = pack_messages(rendered["compute-region"], "compute-region")
    compute = [m for m in mandatory if m.startswith("compute-region")]
    groups = [r["name"] for r in rendered["compute-region"] if r["type"] == "aws:eks/nodeGroup:NodeGroup"]
    assert compute == [
        "compute-region [us-east-1]: EKS cluster eks-eks is in us-east-1 (config key aws:region)"
    ] + [
        f"compute-region [us-east-1]: node group {g} is in us-east-1 (config key aws:region)" for g in groups
    ]
    assert (
        groups
        and "log-region [us-east-1]: log group eks-logs is in us-east-1 (config key aws:region)"
        in (mandatory)
    )


def test_policy_pack_validators_on_the_rendered_stack(rendered: dict[str, list[dict[str, Any]]]) -> None:
    mandatory, advisory = pack_messages(rendered["clean-eu"], "clean-eu")
    assert mandatory == []
    # today the Network component owns the bedrock-runtime endpoint and gives it no policy (advisory only)
    assert all(m.startswith("endpoint-policy [eu-central-1]: bedrock-runtime endpoint") for m in advisory)
