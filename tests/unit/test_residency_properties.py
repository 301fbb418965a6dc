"""Property tests of the residency parsers: profile ids, the duplicate-key YAML loader, primary URLs and the
severity contract (a finding's severity is always its rule's, whatever produced it)."""

from __future__ import annotations

import string
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.gateway.config import DuplicateKeyError, load_unique
from serving.residency import ResidencyPolicy, check_resource
from serving.residency.profiles import _catalog, geography_of, resolve_profile
from serving.residency.route_rules import url_place
from serving.residency.rule_table import RULES
from serving.residency.rules import check_profile

POLICY = ResidencyPolicy(home_region="eu-central-1", allowed_regions=("eu-central-1", "eu-west-1"))
LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
KNOWN_PREFIXES = {g.prefix.rstrip(".") for g in _catalog().geographies} | set(_catalog().providers)


@settings(deadline=None)
@given(prefix=LABEL.filter(lambda p: p not in KNOWN_PREFIXES), rest=LABEL)
def test_unknown_prefix_is_never_in_region_and_always_an_error(prefix: str, rest: str) -> None:
    pid = f"{prefix}.anthropic.{rest}-v1:0"
    route = resolve_profile(pid, "eu-central-1")
    assert route.scope == "unknown" and route.destinations is None
    findings = check_profile(route, POLICY, resource="r", key="k")
    assert [(f.rule, f.severity) for f in findings] == [("profile-unknown-geography", "error")]


@given(
    provider=st.sampled_from(sorted(_catalog().providers)), rest=LABEL, source=st.sampled_from(["eu-west-1"])
)
def test_bare_model_ids_of_known_providers_stay_in_the_source_region(
    provider: str, rest: str, source: str
) -> None:
    route = resolve_profile(f"{provider}.{rest}", source)
    assert (route.scope, route.destinations) == ("in-region", (source,))
    assert check_profile(route, POLICY, resource="r", key="k") == []


@settings(deadline=None)  # the first call loads botocore's Region list
@given(geo=st.sampled_from([g.prefix for g in _catalog().geographies if g.scope == "geo"]), rest=LABEL)
def test_geo_profiles_missing_from_the_catalog_are_judged_by_their_geography(geo: str, rest: str) -> None:
    route = resolve_profile(f"{geo}anthropic.{rest}-unlisted", "eu-central-1")
    assert route.geo is not None and route.geo == geography_of(route.profile_id)
    (finding,) = check_profile(route, POLICY, resource="r", key="k")
    # EU/US/APAC/JP/AU all reach Regions outside {eu-central-1, eu-west-1}: never a mere warning
    assert finding.severity == "error" and finding.rule in ("profile-unverified", "profile-destinations")


KEYS = st.text(string.ascii_letters, min_size=1, max_size=6)
SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), st.text(string.ascii_letters, max_size=5))
DOCS = st.recursive(
    st.dictionaries(KEYS, SCALARS, max_size=4),
    lambda inner: st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


@given(doc=DOCS)
def test_unique_loader_agrees_with_safe_load_on_documents_without_duplicates(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc)
    assert load_unique(text) == yaml.safe_load(text) == doc


@given(doc=st.dictionaries(KEYS, SCALARS, min_size=1, max_size=5), value=SCALARS)
def test_any_repeated_key_is_refused(doc: dict[str, Any], value: Any) -> None:
    key = next(iter(doc))
    text = yaml.safe_dump(doc) + yaml.safe_dump({key: value})
    try:
        load_unique(text)
    except DuplicateKeyError as exc:
        assert exc.key == key
    else:
        raise AssertionError(f"{key!r} repeated but accepted:\n{text}")


@given(host=LABEL, ns=LABEL, port=st.integers(1, 65535))
def test_in_cluster_urls_pass(host: str, ns: str, port: int) -> None:
    for url in (
        f"http://{host}.{ns}.svc:{port}/v1",
        f"http://{host}:{port}",
        f"http://{host}.{ns}.svc.cluster.local",
    ):
        assert url_place(url, POLICY) is None


@settings(deadline=None)
@given(host=LABEL, tld=st.sampled_from(["com", "io", "net", "ai"]))
def test_internet_hosts_are_off_cluster(host: str, tld: str) -> None:
    assert url_place(f"https://{host}.example.{tld}/v1", POLICY) is not None


RECORDS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "aws:s3/bucket:Bucket",
                "aws:cloudwatch/logGroup:LogGroup",
                "aws:ec2/natGateway:NatGateway",
                "aws:eks/cluster:Cluster",
                "aws:ec2/launchTemplate:LaunchTemplate",
            ]
        ),
        "name": LABEL,
        "inputs": st.fixed_dictionaries(
            {"region": st.sampled_from(["eu-central-1", "us-east-1", "ap-south-1"])},
            optional={"retentionInDays": st.integers(0, 400)},
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(record=RECORDS)
def test_every_finding_carries_its_rules_severity(record: dict[str, Any]) -> None:
    policy = ResidencyPolicy(
        home_region="eu-central-1", allowed_regions=("eu-central-1",), log_retention_days=30
    )
    for f in check_resource(record, policy):
        assert f.severity == RULES[f.rule].severity


def test_plan_key_follows_content_catalog_and_code(tmp_path: Any) -> None:
    """The plan cache key changes with the stack file's bytes and with any renderer file, never with mtime."""
    import os
    from pathlib import Path

    from serving.residency import plan_cache

    root = Path(tmp_path) / "repo"
    (root / "serving" / "residency" / "data").mkdir(parents=True)
    catalog = root / "serving" / "residency" / "data" / "inference_profiles.json"
    catalog.write_text("{}")
    (root / "uv.lock").write_text("lock")
    stack = Path(tmp_path) / "Pulumi.x.yaml"
    stack.write_text("config: {}\n")
    first = plan_cache.plan_key(stack, root)
    os.utime(stack, (0, 0))
    assert plan_cache.plan_key(stack, root) == first
    stack.write_text("config: {a: 1}\n")
    second = plan_cache.plan_key(stack, root)
    catalog.write_text('{"profiles": []}')
    plan_cache.code_version.cache_clear()
    third = plan_cache.plan_key(stack, root)
    (root / "uv.lock").write_text("lock2")
    plan_cache.code_version.cache_clear()
    assert len({first, second, third, plan_cache.plan_key(stack, root)}) == 4
    plan_cache.code_version.cache_clear()
