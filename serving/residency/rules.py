"""Residency rules over a stack's config facts (pure). Resource-level rules live in ``resource_rules``.

Every rule id and its severity is in :data:`serving.residency.rule_table.RULE_TABLE`; each finding names the
resource (or config path), the config key that causes it and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from serving.residency.model import Finding, ResidencyPolicy
from serving.residency.profiles import ProfileRoute, candidate_regions, is_known_region, resolve_profile
from serving.residency.rule_table import EGRESS_KEY, RULES, finding
from serving.residency.stack import StackFacts

__all__ = ["RULES", "check_profile", "check_stack", "open_cidrs"]

OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _f(resource: str, key: str, rule: str, region: str | None, message: str) -> Finding:
    return finding(resource, key, rule, region, message)


def _unverified(route: ProfileRoute, policy: ResidencyPolicy, resource: str, key: str) -> Finding:
    """Destinations unknown offline: judged by the geography (a superset). None of it allowed:
    profile-destinations; part of it outside allowedRegions: profile-unverified (error); all of it allowed:
    profile-unverified-contained (warning)."""
    candidates = candidate_regions(route)
    outside = [r for r in candidates if not policy.allows(r)]
    pid = route.profile_id
    if outside and len(outside) == len(candidates):
        return _f(
            resource,
            key,
            "profile-destinations",
            None,
            f"{pid} routes within the {route.geography}; no allowed Region "
            f"({', '.join(policy.allowed_regions)}) is in it",
        )
    if outside:
        shown = ", ".join(outside[:6]) + (f" and {len(outside) - 6} more" if len(outside) > 6 else "")
        return _f(
            resource,
            key,
            "profile-unverified",
            outside[0],
            f"{pid} from {route.source_region}: {route.known_from}; the {route.geography} also reaches "
            f"{shown}, outside allowedRegions",
        )
    return _f(resource, key, "profile-unverified-contained", None, f"{pid}: {route.known_from}")


def check_profile(route: ProfileRoute, policy: ResidencyPolicy, *, resource: str, key: str) -> list[Finding]:
    """Findings for one fallback target: scope allowed, every destination allowed (or known)."""
    pid = route.profile_id
    if route.scope == "unknown":
        return [
            _f(
                resource,
                key,
                "profile-unknown-geography",
                None,
                f"{pid}: {route.known_from}; its destinations cannot be bounded (fail closed)",
            )
        ]
    if route.scope == "global":
        if policy.allow_global_profiles:
            return []
        return [
            _f(
                resource,
                key,
                "profile-global",
                None,
                f"{pid} may route to any commercial Region; allowGlobalInferenceProfiles is false",
            )
        ]
    out: list[Finding] = []
    if route.scope == "geo" and not policy.allow_geo_profiles:
        out.append(
            _f(
                resource,
                key,
                "profile-geo",
                None,
                f"{pid} routes within the {route.geography}; allowGeoInferenceProfiles is false",
            )
        )
    if route.destinations is None:
        return [*out, _unverified(route, policy, resource, key)]
    for region in route.destinations:
        if not policy.allows(region):
            out.append(
                _f(
                    resource,
                    key,
                    "profile-destinations",
                    region,
                    f"{pid} from {route.source_region} can process prompts in {region} "
                    f"({route.basis}); allowed: {', '.join(policy.allowed_regions)}",
                )
            )
    return out


def _fallback_findings(facts: StackFacts, overrides: Mapping[str, tuple[str, ...]] | None) -> list[Finding]:
    policy = facts.policy
    falling = [m for m in facts.models if m.fallback is not None]
    if not falling:
        return []
    if not policy.allow_fallback:
        return [
            _f(
                f"alias {m.alias}",
                f"paddock:models[{m.index}].fallback",
                "fallback-forbidden",
                None,
                f"alias {m.alias} falls back to {m.fallback!r} but paddock:residency.allowFallback is false",
            )
            for m in falling
        ]
    out: list[Finding] = []
    if not policy.allows(facts.bedrock_region):
        out.append(
            _f(
                "bedrock",
                "paddock:fallback.bedrock.region",
                "bedrock-source-region",
                facts.bedrock_region,
                f"the gateway calls Bedrock in {facts.bedrock_region}",
            )
        )
    for key in sorted({m.fallback for m in falling if m.fallback is not None}):
        route = resolve_profile(facts.fallback_profiles[key], facts.bedrock_region, overrides)
        out += check_profile(
            route,
            policy,
            resource=f"bedrock {route.profile_id}",
            key=f"paddock:fallback.bedrock.models.{key}.inferenceProfile",
        )
    if policy.allow_public_egress:
        return out
    if facts.existing_vpc:  # Paddock creates no endpoint in an adopted VPC: whatever it has is not visible
        out.append(
            _f(
                "network",
                "paddock:network.existingVpcId",
                "bedrock-public-egress",
                facts.bedrock_region,
                "fallback prompts may reach Bedrock over public egress: Paddock creates no bedrock-runtime "
                f"endpoint in an adopted VPC and cannot see one; set {EGRESS_KEY}: true once checked",
            )
        )
    elif not facts.vpc_endpoints:
        out.append(
            _f(
                "network",
                "paddock:network.vpcEndpoints",
                "bedrock-public-egress",
                facts.bedrock_region,
                "fallback prompts reach Bedrock over public egress: the VPC has no bedrock-runtime endpoint "
                f"(vpcEndpoints: false); enable vpcEndpoints or set {EGRESS_KEY}: true",
            )
        )
    return out


def _region_findings(facts: StackFacts) -> list[Finding]:
    """compute-region for ``aws:region``; region-unknown for any other Region name AWS does not know."""
    policy = facts.policy
    out: list[Finding] = []
    if not is_known_region(facts.region):
        out.append(
            _f(
                "cluster",
                "aws:region",
                "compute-region",
                facts.region,
                f"{facts.region} is not an AWS Region (botocore's Region list): the cluster's location is "
                "unknown",
            )
        )
    elif not policy.allows(facts.region):
        out.append(
            _f(
                "cluster",
                "aws:region",
                "compute-region",
                facts.region,
                f"the cluster, its GPU nodes and volumes are in {facts.region}",
            )
        )
    named = [(f"paddock:residency.allowedRegions[{i}]", r) for i, r in enumerate(policy.allowed_regions)]
    named += [(f"paddock:models[{m.index}].weightsRegion", m.weights_region) for m in facts.models]
    if any(m.fallback is not None for m in facts.models) and policy.allow_fallback:
        named.append(("paddock:fallback.bedrock.region", facts.bedrock_region))
    for key, region in named:
        if region != facts.region and not is_known_region(region):
            out.append(
                _f("paddock:residency", key, "region-unknown", region, f"{region} is not an AWS Region")
            )
    return out


def open_cidrs(cidrs: tuple[str, ...] | list[str] | None) -> bool:
    """True when a public EKS endpoint's ``publicAccessCidrs`` admit the whole Internet (absent = EKS default
    0.0.0.0/0)."""
    return not cidrs or any(str(c).strip() in OPEN_CIDRS for c in cidrs)


def _egress_findings(facts: StackFacts) -> list[Finding]:
    """public-egress, weights-public, public-api-endpoint (each waived by allowPublicEgress) and
    adopted-vpc-egress (a warning: what Paddock cannot see)."""
    policy = facts.policy
    out: list[Finding] = []
    if facts.existing_vpc:
        out.append(
            _f(
                "network",
                "paddock:network.existingVpcId",
                "adopted-vpc-egress",
                facts.region,
                "egress of an adopted VPC is not visible to Paddock (NAT and internet gateways, proxies, "
                "endpoints): prove it outside this audit",
            )
        )
    if policy.allow_public_egress:
        return out
    if facts.nat_gateway and not facts.existing_vpc:
        out.append(
            _f(
                "network",
                "paddock:network.natGateway",
                "public-egress",
                facts.region,
                f"a NAT gateway gives pods a route to any Internet destination; set {EGRESS_KEY}: true to "
                "accept it",
            )
        )
    for m in facts.models:
        if not m.weights.startswith("s3://"):
            out.append(
                _f(
                    m.weights,
                    f"paddock:models[{m.index}].weights",
                    "weights-public",
                    None,
                    f"weights of alias {m.alias} come from Hugging Face Hub over public egress; use s3:// "
                    f"weights or set {EGRESS_KEY}: true",
                )
            )
    if facts.public_api_endpoint and open_cidrs(facts.public_access_cidrs):
        out.append(
            _f(
                "cluster",
                "paddock:cluster.endpointPublicAccess",
                "public-api-endpoint",
                facts.region,
                "the EKS API endpoint is public and open to 0.0.0.0/0; restrict publicAccessCidrs or set "
                f"{EGRESS_KEY}: true",
            )
        )
    return out


def check_stack(facts: StackFacts, overrides: Mapping[str, tuple[str, ...]] | None = None) -> list[Finding]:
    """Config-level findings for one stack. ``overrides``: live destinations from ``paddock preflight``."""
    policy = facts.policy
    out = _region_findings(facts)
    for m in facts.models:
        if m.weights.startswith("s3://") and not policy.allows(m.weights_region):
            out.append(
                _f(
                    m.weights,
                    f"paddock:models[{m.index}].weightsRegion",
                    "weights-region",
                    m.weights_region,
                    f"weights of alias {m.alias} are stored in {m.weights_region}",
                )
            )
    out += _fallback_findings(facts, overrides)
    out += _egress_findings(facts)
    return out
