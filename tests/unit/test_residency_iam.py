"""IAM documents and profile resolution: exact ARNs, conditions, no '*' resources, catalog integrity."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from serving.errors import CatalogError, InputError
from serving.residency import facts_from_stack_config, load_stack_facts, profiles
from serving.residency.iam import (
    ACTIONS,
    bedrock_targets,
    endpoint_policy,
    invoke_policy,
    irsa_trust_policy,
    pod_identity_trust_policy,
)
from serving.residency.profiles import resolve_profile
from serving.residency.stack import StackFacts
from serving.stack_config import parse_stack_config, read_stack_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
ACCT = "123456789012"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
EU6 = ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]


def _facts(name: str) -> StackFacts:
    return load_stack_facts(FIXTURES / f"Pulumi.{name}.yaml")


def test_invoke_policy_for_eu_profile_has_exact_arns_and_condition() -> None:
    doc = json.loads(json.dumps(invoke_policy(bedrock_targets(_facts("clean-eu")), account_id=ACCT)))
    profile_arn = f"arn:aws:bedrock:eu-central-1:{ACCT}:inference-profile/{SONNET}"
    assert doc["Statement"] == [
        {"Sid": "InvokeProfile0", "Effect": "Allow", "Action": ACTIONS, "Resource": [profile_arn]},
        {
            "Sid": "InvokeModelsViaProfile0",
            "Effect": "Allow",
            "Action": ACTIONS,
            "Resource": [
                f"arn:aws:bedrock:{r}::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
                for r in EU6
            ],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}},
        },
    ]
    assert not any("*" in r for st in doc["Statement"] for r in st["Resource"])


def test_in_region_target_grants_the_one_model_arn() -> None:
    doc = invoke_policy(bedrock_targets(_facts("clean-in-region")), account_id=ACCT)
    assert doc["Statement"] == [
        {
            "Sid": "InvokeInRegion0",
            "Effect": "Allow",
            "Action": ACTIONS,
            "Resource": [f"arn:aws:bedrock:eu-central-1::foundation-model/{HAIKU}"],
        }
    ]


def test_global_profile_grants_every_commercial_region_plus_the_regionless_arn() -> None:
    raw = read_stack_file(FIXTURES / "Pulumi.eu-global-profile.yaml")
    raw["paddock:residency"] = {**raw["paddock:residency"], "allowGlobalInferenceProfiles": True}
    (target,) = bedrock_targets(facts_from_stack_config(parse_stack_config(raw, stack="g")))
    assert target.scope == "global" and target.destinations == profiles.aws_regions("aws")
    assert {"us-east-1", "eu-central-1", "ap-southeast-2"} <= set(target.destinations)
    resources = invoke_policy((target,), account_id=ACCT)["Statement"][1]["Resource"]
    assert resources[-1] == "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert len(resources) == len(target.destinations) + 1


def test_no_targets_when_all_pinned_and_invoke_policy_refuses_empty() -> None:
    assert bedrock_targets(_facts("clean-pinned")) == ()
    assert bedrock_targets(_facts("fallback-forbidden")) == ()
    with pytest.raises(InputError, match="all pinned"):
        invoke_policy((), account_id=ACCT)


def test_grants_fail_closed_to_allowed_regions() -> None:
    (narrow,) = bedrock_targets(_facts("eu-narrow-allowed"))
    assert (narrow.destinations, narrow.basis) == (("eu-central-1", "eu-west-1"), "data file, unverified")
    (unknown,) = bedrock_targets(_facts("unknown-eu-profile"))
    assert (unknown.destinations, unknown.basis) == (tuple(EU6), "geography")
    live = {"eu.anthropic.claude-unlisted-v1:0": ("eu-west-1", "eu-central-1", "eu-west-2")}
    (pinned_live,) = bedrock_targets(_facts("unknown-eu-profile"), live)
    assert (pinned_live.destinations, pinned_live.basis) == (("eu-central-1", "eu-west-1"), "preflight")


@pytest.mark.parametrize(
    ("stack", "needle"),
    [
        ("eu-us-profile", "reaches none of allowedRegions"),
        ("eu-global-profile", "allowGlobalInferenceProfiles is false"),
        ("geo-not-allowed", "allowGeoInferenceProfiles is false"),
    ],
)
def test_targets_outside_residency_cannot_be_granted(stack: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as err:
        bedrock_targets(_facts(stack))
    assert err.value.field == "paddock:fallback.bedrock.models.claude-sonnet.inferenceProfile"


def test_endpoint_policy_names_the_role_as_only_principal() -> None:
    role = f"arn:aws:iam::{ACCT}:role/gw"
    doc = endpoint_policy(bedrock_targets(_facts("clean-eu")), role_arn=role, account_id=ACCT)
    assert [st["Principal"] for st in doc["Statement"]] == [{"AWS": [role]}, {"AWS": [role]}]
    assert doc["Statement"][1]["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"].endswith(SONNET)


def test_trust_policies() -> None:
    assert pod_identity_trust_policy()["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    doc = irsa_trust_policy(
        oidc_provider_arn="arn:aws:iam::1:oidc-provider/oidc.eks/id/X",
        issuer="https://oidc.eks/id/X",
        namespace="paddock",
        service_account="gateway",
    )
    cond = doc["Statement"][0]["Condition"]["StringEquals"]
    assert cond == {
        "oidc.eks/id/X:sub": "system:serviceaccount:paddock:gateway",
        "oidc.eks/id/X:aud": "sts.amazonaws.com",
    }


@pytest.mark.parametrize(
    ("profile", "source", "scope", "dests"),
    [
        (SONNET, "eu-west-1", "geo", tuple(EU6)),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "us-west-2", "geo", ("us-east-1", "us-west-2")),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "us-west-1", "geo", None),
        (
            "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "ca-central-1",
            "geo",
            ("ca-central-1", "us-east-1", "us-east-2", "us-west-2"),
        ),
        (SONNET, "eu-west-2", "geo", tuple(sorted([*EU6, "eu-west-2"]))),
        ("anthropic.claude-3-haiku-20240307-v1:0", "eu-central-1", "in-region", ("eu-central-1",)),
        ("global.anthropic.claude-opus-4-6-v1", "eu-central-1", "global", None),
        ("ca.anthropic.claude-sonnet-4-5-20250929-v1:0", "ca-central-1", "unknown", None),
        ("claude-sonnet", "eu-central-1", "unknown", None),
        (
            f"arn:aws:bedrock:eu-west-1:{ACCT}:inference-profile/{SONNET}",
            "eu-central-1",
            "geo",
            tuple(EU6),
        ),
        ("arn:aws:bedrock:eu-west-1::foundation-model/" + HAIKU, "eu-central-1", "in-region", ("eu-west-1",)),
        (f"arn:aws:bedrock:eu-west-1:{ACCT}:application-inference-profile/x", "eu-west-1", "unknown", None),
    ],
)
def test_resolve_profile(profile: str, source: str, scope: str, dests: tuple[str, ...] | None) -> None:
    route = resolve_profile(profile, source)
    assert (route.scope, route.destinations) == (scope, dests)


def test_geographies() -> None:
    us_gov = profiles.geography_of("us-gov.anthropic.x")
    us = profiles.geography_of("us.anthropic.x")
    assert us_gov is not None and us_gov.name == "AWS GovCloud (US)"
    assert us is not None and us.may_include("us-west-2") and not us.may_include("us-gov-west-1")
    assert resolve_profile("jp.anthropic.x", "ap-northeast-1").may_reach("ap-northeast-3")
    assert not resolve_profile(SONNET, "eu-central-1").may_reach("eu-west-2")
    assert profiles.region_of_arn("not-an-arn") is None


def test_every_data_file_entry_has_source_and_date() -> None:
    raw = json.loads(profiles.DATA_FILE.read_text())
    for entry in [*raw["profiles"], *raw["geographies"], raw["modelProviders"]]:
        assert entry["source"] and re.fullmatch(r"2026-\d\d-\d\d", entry["date"])
    assert SONNET in profiles.known_profile_ids()


def test_catalog_lists_are_keyed_by_source_region_inside_their_geography() -> None:
    raw = json.loads(profiles.DATA_FILE.read_text())
    for entry in raw["profiles"]:
        geo = profiles.geography_of(entry["id"])
        assert geo is not None and geo.scope == "geo", entry["id"]  # global. is never listed
        for source, dests in entry["destinationsBySource"].items():
            assert dests and dests == sorted(dests), (
                entry["id"],
                source,
            )  # a source need not be a destination
            assert all(geo.may_include(r) and profiles.is_known_region(r) for r in dests), entry["id"]


@pytest.mark.parametrize(
    ("mutation", "needle"),
    [
        (lambda d: d["profiles"][0].pop("source"), "has no 'source'"),
        (lambda d: d["geographies"][0].update(date=""), "has no 'date'"),
        (lambda d: d["profiles"][0].pop("destinationsBySource"), "has no destinations"),
    ],
)
def test_broken_data_file_raises_catalog_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutation, needle
) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads(profiles.DATA_FILE.read_text())
    mutation(raw)
    broken = tmp_path / "inference_profiles.json"
    broken.write_text(json.dumps(raw))
    monkeypatch.setattr(profiles, "DATA_FILE", broken)
    profiles._catalog.cache_clear()
    try:
        with pytest.raises(CatalogError, match=needle):
            profiles.known_profile_ids()
    finally:
        monkeypatch.undo()
        profiles._catalog.cache_clear()
