"""Config-level residency rules on crafted stack files (tests/fixtures/stacks): one violating and one
clean case per rule, exact (rule, config key, Region) triples."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from serving.config_reader import ConfigErrors
from serving.errors import InputError
from serving.residency import audit_stack, check_stack, load_stack_facts, profiles
from serving.stack_config import load_stack_file
from tests.unit.test_residency_crafted import CRAFTED, stack_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
SONNET_KEY = "paddock:fallback.bedrock.models.claude-sonnet.inferenceProfile"


def _findings(name: str) -> set[tuple[str, str, str | None]]:
    facts = load_stack_facts(stack_path(name))
    return {(f.rule, f.config_key, f.region) for f in check_stack(facts)}


CLEAN = ["clean-eu", "clean-pinned", "clean-in-region", "clean-global-allowed", "clean-public-egress-opt-in"]


@pytest.mark.parametrize("name", CLEAN)
def test_clean_stacks_have_no_findings(name: str) -> None:
    assert _findings(name) == set()


CASES: dict[str, set[tuple[str, str, str | None]]] = {
    "eu-us-profile": {("profile-destinations", SONNET_KEY, None)},
    "eu-global-profile": {("profile-global", SONNET_KEY, None)},
    "eu-narrow-allowed": {
        ("profile-destinations", SONNET_KEY, r)
        for r in ("eu-north-1", "eu-south-1", "eu-south-2", "eu-west-3")
    },
    "geo-not-allowed": {("profile-geo", SONNET_KEY, None)},
    "weights-other-region": {("weights-region", "paddock:models[1].weightsRegion", "us-east-1")},
    "compute-region": {("compute-region", "aws:region", "us-east-1")},
    "fallback-forbidden": {("fallback-forbidden", "paddock:models[0].fallback", None)},
    "public-egress": {
        ("public-egress", "paddock:network.natGateway", "eu-central-1"),
        ("bedrock-public-egress", "paddock:network.vpcEndpoints", "eu-central-1"),
    },
    "bedrock-region": {
        ("bedrock-source-region", "paddock:fallback.bedrock.region", "eu-west-2"),
        ("profile-destinations", SONNET_KEY, "eu-west-2"),  # from eu-west-2 the EU list includes London
    },
    "unknown-eu-profile": {("profile-unverified", SONNET_KEY, "eu-central-2")},
    "unknown-geography": {("profile-unknown-geography", SONNET_KEY, None)},
    "hf-weights": {
        ("public-egress", "paddock:network.natGateway", "eu-central-1"),
        ("weights-public", "paddock:models[0].weights", None),
    },
    "adopted-vpc": {("adopted-vpc-egress", "paddock:network.existingVpcId", "eu-central-1")},
    "adopted-vpc-hf": {
        ("adopted-vpc-egress", "paddock:network.existingVpcId", "eu-central-1"),
        ("weights-public", "paddock:models[0].weights", None),
        ("bedrock-public-egress", "paddock:network.existingVpcId", "eu-central-1"),
    },
    "adopted-vpc-no-opt-in": {
        ("adopted-vpc-egress", "paddock:network.existingVpcId", "eu-central-1"),
        ("bedrock-public-egress", "paddock:network.existingVpcId", "eu-central-1"),
    },
    "public-api-endpoint": {("public-api-endpoint", "paddock:cluster.endpointPublicAccess", "eu-central-1")},
    "unknown-allowed-region": {("region-unknown", "paddock:residency.allowedRegions[6]", "eu-nowhere-1")},
    "unknown-home-region": {("compute-region", "aws:region", "eu-nowhere-1")},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_violating_stacks_are_flagged_exactly(name: str) -> None:
    assert _findings(name) == CASES[name]


def test_us_profile_message_names_geography_and_allowed_regions() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.eu-us-profile.yaml")
    (finding,) = check_stack(facts)
    assert finding.severity == "error"
    assert "US geography" in finding.message and "eu-central-1" in finding.message


def test_unverified_profile_reaching_outside_allowed_regions_is_an_error() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.unknown-eu-profile.yaml")
    (finding,) = check_stack(facts)
    assert finding.severity == "error"
    assert "eu-central-2" in finding.message and "eu-west-2" in finding.message


def test_unverified_profile_inside_allowed_regions_is_a_warning() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.unknown-eu-profile.yaml")
    every_eu = tuple(r for r in profiles.aws_regions() if r.startswith("eu-"))
    wide = dataclasses.replace(facts, policy=dataclasses.replace(facts.policy, allowed_regions=every_eu))
    assert [(f.rule, f.severity) for f in check_stack(wide)] == [("profile-unverified-contained", "warning")]


def test_egress_opt_in_waives_each_public_egress_rule_and_adopted_vpc_stays_a_warning() -> None:
    facts = load_stack_facts(stack_path("adopted-vpc-hf"))
    opted = dataclasses.replace(facts, policy=dataclasses.replace(facts.policy, allow_public_egress=True))
    assert [(f.rule, f.severity) for f in check_stack(opted)] == [("adopted-vpc-egress", "warning")]
    (egress,) = [p for p in audit_stack(facts).places if p.kind == "egress"]
    assert egress.what.startswith("adopted VPC: egress is not visible to Paddock") and not egress.allowed


def test_preflight_overrides_replace_data_file_destinations() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.eu-narrow-allowed.yaml")
    live = {"eu.anthropic.claude-sonnet-4-5-20250929-v1:0": ("eu-central-1", "eu-west-1")}
    assert check_stack(facts, live) == []
    live_wide = {"eu.anthropic.claude-sonnet-4-5-20250929-v1:0": ("eu-central-1", "eu-west-2")}
    found = [(f.rule, f.region) for f in check_stack(facts, live_wide)]
    assert found == [("profile-destinations", "eu-west-2")]


def test_bad_input_is_the_parsers_error_naming_every_key() -> None:
    with pytest.raises(ConfigErrors) as err:
        load_stack_facts(FIXTURES / "Pulumi.bad-input.yaml")
    assert isinstance(err.value, InputError)
    text = str(err.value)
    assert "paddock:residency.allowedRegions: expected a list of strings, got 'eu-central-1'" in text
    assert "paddock:models[0].fallback: 'claude-opus' is not 'none' or a key" in text


STACKS = sorted([*(p.stem.removeprefix("Pulumi.") for p in FIXTURES.glob("Pulumi.*.yaml")), *CRAFTED])


@pytest.mark.parametrize("name", [n for n in STACKS if n != "bad-input"])
def test_every_crafted_stack_parses_with_the_one_parser(name: str) -> None:
    cfg = load_stack_file(stack_path(name))
    facts = load_stack_facts(stack_path(name))
    assert (facts.stack, facts.region, facts.policy.allowed_regions) == (
        name,
        cfg.region,
        cfg.residency.allowed_regions,
    )


def test_cluster_region_outside_allowed_regions_is_a_finding_not_a_parse_error() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.compute-region.yaml")
    assert facts.region == "us-east-1" and "us-east-1" not in facts.policy.allowed_regions
    (finding,) = check_stack(facts)
    assert (finding.rule, finding.config_key, finding.resource, finding.severity) == (
        "compute-region",
        "aws:region",
        "cluster",
        "error",
    )
    assert finding.message == "the cluster, its GPU nodes and volumes are in us-east-1"


def test_audit_inventory_lists_every_place() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.clean-eu.yaml")
    audit = audit_stack(facts)
    kinds = [(p.kind, p.region) for p in audit.places]
    assert kinds[:3] == [("prompts", "eu-central-1")] + [("weights", "eu-central-1")] * 2
    bedrock = sorted(p.region or "" for p in audit.places if p.resource.startswith("bedrock "))
    assert bedrock == ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]
    assert audit.fallback_aliases == ("llama-8b",) and audit.pinned_aliases == ("llama-8b-eu-only",)
    assert all(p.allowed for p in audit.places) and audit.findings == ()
    assert audit.to_dict()["clean"] is True


def test_gateway_content_logging_shows_in_the_inventory() -> None:
    facts = load_stack_facts(FIXTURES / "Pulumi.clean-eu.yaml")
    (quiet,) = [p for p in audit_stack(facts).places if p.resource == "gateway"]
    assert (quiet.what, quiet.allowed) == ("gateway logs: routing metadata only", True)
    env = [{"name": "PADDOCK_LOG_PROMPTS", "value": "true"}]
    deployment = {
        "type": "kubernetes:apps/v1:Deployment",
        "name": "gateway-deploy",
        "inputs": {"spec": {"template": {"spec": {"containers": [{"name": "gw", "env": env}]}}}},
    }
    audit = audit_stack(facts, [deployment])
    (loud,) = [p for p in audit.places if p.resource == "gateway"]
    assert (loud.what, loud.allowed) == ("gateway logs content (gateway-deploy)", False)
    assert [(f.rule, f.resource) for f in audit.findings] == [("gateway-logs-content", "gateway-deploy")]


def test_public_api_endpoint_restricted_to_the_runner_carries_no_prompts() -> None:
    """prod-eu's public+private endpoint limited by publicAccessCidrs to the deploy runner passes; open
    CIDRs (or none: the EKS default is 0.0.0.0/0) are public-api-endpoint unless the stack opts in."""
    facts = dataclasses.replace(load_stack_facts(FIXTURES / "Pulumi.clean-eu.yaml"), public_api_endpoint=True)
    runner = dataclasses.replace(facts, public_access_cidrs=("203.0.113.7/32",))
    assert check_stack(runner) == []
    (place,) = [
        p for p in audit_stack(runner).places if p.config_key == "paddock:cluster.endpointPublicAccess"
    ]
    assert place.allowed and "control plane: no prompts" in place.what
    for cidrs in (None, ("0.0.0.0/0",), ("203.0.113.7/32", "::/0")):
        open_ = dataclasses.replace(facts, public_access_cidrs=cidrs)
        assert [f.rule for f in check_stack(open_)] == ["public-api-endpoint"]
        opted = dataclasses.replace(open_, policy=dataclasses.replace(open_.policy, allow_public_egress=True))
        assert check_stack(opted) == []
