"""Config-level residency rules on crafted stack files (tests/fixtures/stacks): one violating and one
clean case per rule, exact (rule, config key, Region) triples."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.errors import InputError
from serving.residency import audit_stack, check_stack, facts_from_raw
from serving.residency.stack import read_stack_yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
SONNET_KEY = "paddock:fallback.bedrock.models.claude-sonnet.inferenceProfile"


def _findings(name: str) -> set[tuple[str, str, str | None]]:
    facts = facts_from_raw(read_stack_yaml(FIXTURES / f"Pulumi.{name}.yaml"), stack=name)
    return {(f.rule, f.config_key, f.region) for f in check_stack(facts)}


@pytest.mark.parametrize("name", ["clean-eu", "clean-pinned", "clean-in-region"])
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
    "bedrock-region": {("bedrock-source-region", "paddock:fallback.bedrock.region", "eu-west-2")},
    "unknown-eu-profile": {("profile-unverified", SONNET_KEY, None)},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_violating_stacks_are_flagged_exactly(name: str) -> None:
    assert _findings(name) == CASES[name]


def test_us_profile_message_names_geography_and_allowed_regions() -> None:
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.eu-us-profile.yaml"), stack="x")
    (finding,) = check_stack(facts)
    assert finding.severity == "error"
    assert "US geography" in finding.message and "eu-central-1" in finding.message


def test_unverified_profile_is_a_warning_not_an_error() -> None:
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.unknown-eu-profile.yaml"), stack="x")
    assert [f.severity for f in check_stack(facts)] == ["warning"]


def test_preflight_overrides_replace_data_file_destinations() -> None:
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.eu-narrow-allowed.yaml"), stack="x")
    live = {"eu.anthropic.claude-sonnet-4-5-20250929-v1:0": ("eu-central-1", "eu-west-1")}
    assert check_stack(facts, live) == []
    live_wide = {"eu.anthropic.claude-sonnet-4-5-20250929-v1:0": ("eu-central-1", "eu-west-2")}
    found = [(f.rule, f.region) for f in check_stack(facts, live_wide)]
    assert found == [("profile-destinations", "eu-west-2")]


def test_bad_input_lists_every_problem_with_its_key() -> None:
    with pytest.raises(InputError) as err:
        facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.bad-input.yaml"), stack="bad")
    text = str(err.value)
    assert "paddock:residency.allowedRegions: expected a non-empty list" in text
    assert "paddock:models[0].fallback: 'claude-opus' is not a key" in text


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({}, "aws:region: required"),
        ({"aws:region": "eu-central-1", "paddock:residency": "{bad"}, "paddock:residency: not valid JSON"),
        ({"aws:region": "eu-central-1", "paddock:residency": [1]}, "paddock:residency: expected a mapping"),
        (
            {"aws:region": "eu-central-1", "paddock:residency": {"allowFallback": "no"}},
            "paddock:residency.allowFallback: expected true or false",
        ),
        (
            {"aws:region": "eu-central-1", "paddock:residency": {"logRetentionDays": 0}},
            "paddock:residency.logRetentionDays: expected a positive integer",
        ),
        ({"aws:region": "eu-central-1", "paddock:models": {"a": 1}}, "paddock:models: expected a list"),
        ({"aws:region": "eu-central-1", "paddock:models": [{"model": "x"}]}, "paddock:models[0].alias"),
        (
            {"aws:region": "eu-central-1", "paddock:models": [{"alias": "a", "fallback": 3}]},
            "paddock:models[0].fallback: expected",
        ),
        (
            {"aws:region": "eu-central-1", "paddock:fallback": {"bedrock": {"models": {"c": {}}}}},
            "paddock:fallback.bedrock.models.c.inferenceProfile: required",
        ),
    ],
)
def test_each_config_error_names_its_key(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(InputError, match=None) as err:
        facts_from_raw(raw, stack="s")
    assert needle in str(err.value)


def test_json_text_sections_are_accepted_as_pulumi_config_gives_them() -> None:
    raw = {
        "aws:region": "eu-central-1",
        "paddock:residency": '{"allowedRegions": ["eu-central-1"], "allowFallback": false}',
        "paddock:models": '[{"alias": "a", "weights": "hf", "fallback": "none"}]',
    }
    facts = facts_from_raw(raw, stack="s")
    assert facts.policy.allowed_regions == ("eu-central-1",) and facts.policy.pinned_aliases == {"a"}
    assert check_stack(facts) == []


def test_read_stack_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_stack_yaml(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("config: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        read_stack_yaml(tmp_path / "bad.yaml")
    (tmp_path / "empty.yaml").write_text("encryptionsalt: x\n")
    with pytest.raises(InputError, match="no 'config:' mapping"):
        read_stack_yaml(tmp_path / "empty.yaml")


def test_audit_inventory_lists_every_place() -> None:
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.clean-eu.yaml"), stack="clean-eu")
    audit = audit_stack(facts)
    kinds = [(p.kind, p.region) for p in audit.places]
    assert kinds[:3] == [("prompts", "eu-central-1")] + [("weights", "eu-central-1")] * 2
    bedrock = sorted(p.region or "" for p in audit.places if p.resource.startswith("bedrock "))
    assert bedrock == ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]
    assert audit.fallback_aliases == ("llama-8b",) and audit.pinned_aliases == ("llama-8b-eu-only",)
    assert all(p.allowed for p in audit.places) and audit.findings == ()
    assert audit.to_dict()["clean"] is True


PARSEABLE = sorted(p.stem.removeprefix("Pulumi.") for p in FIXTURES.glob("Pulumi.*.yaml"))
PARSEABLE = [n for n in PARSEABLE if n not in ("bad-input", "compute-region")]


@pytest.mark.parametrize("name", PARSEABLE)
def test_facts_from_parsed_stack_config_match_raw_reader(name: str) -> None:
    from serving.residency import facts_from_stack_config
    from serving.stack_config import load_stack_file

    path = FIXTURES / f"Pulumi.{name}.yaml"
    assert facts_from_stack_config(load_stack_file(path)) == facts_from_raw(read_stack_yaml(path), stack=name)


def test_gateway_content_logging_shows_in_the_inventory() -> None:
    facts = facts_from_raw(read_stack_yaml(FIXTURES / "Pulumi.clean-eu.yaml"), stack="clean-eu")
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
