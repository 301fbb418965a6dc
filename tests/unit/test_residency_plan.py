"""The residency rules on what the platform program really registers (stacks.offline under Pulumi mocks):
crafted stacks rendered, records checked by the same functions as audit and the policy pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serving.residency import audit_stack, check_resource, facts_from_raw
from serving.residency.stack import read_stack_yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    from stacks.offline import render_stack

    return {
        name: render_stack(name, stack_file=FIXTURES / f"Pulumi.{name}.yaml").resources
        for name in ("clean-eu", "clean-pinned", "eu-narrow-allowed")
    }


def by_name(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [r for r in records if r["name"] == name]
    return found


def test_clean_stack_plan_has_no_residency_errors(rendered: dict[str, list[dict[str, Any]]]) -> None:
    records = rendered["clean-eu"]
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.clean-eu.yaml"), stack="clean-eu")
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
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.eu-narrow-allowed.yaml"), stack="n")
    assert [
        f for r in records for f in check_resource(r, facts.policy) if f.rule.startswith("bedrock-iam")
    ] == []


def test_policy_pack_validators_on_the_rendered_stack(rendered: dict[str, list[dict[str, Any]]]) -> None:
    from pulumi_policy import ResourceValidationArgs

    from stacks.policy_pack.policies import validate_residency, validate_residency_advisory

    config = {"stackFile": str(FIXTURES / "Pulumi.clean-eu.yaml")}
    mandatory: list[str] = []
    advisory: list[str] = []
    for r in rendered["clean-eu"]:
        args = ResourceValidationArgs(
            r["type"], r["inputs"], f"urn:{r['name']}", r["name"], None, None, config
        )
        validate_residency(args, lambda message, urn=None: mandatory.append(message))
        validate_residency_advisory(args, lambda message, urn=None: advisory.append(message))
    assert mandatory == []
    # today the Network component owns the bedrock-runtime endpoint and gives it no policy (advisory only)
    assert all(m.startswith("endpoint-policy [eu-central-1]: bedrock-runtime endpoint") for m in advisory)
