"""Residency rules over a stack's config facts (pure). Resource-level rules live in ``resource_rules``.

Every rule id is in :data:`RULES`; each finding names the resource (or config path), the config key that
causes it and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from serving.residency.model import Finding, ResidencyPolicy
from serving.residency.profiles import ProfileRoute, resolve_profile
from serving.residency.stack import StackFacts

#: rule id → what it checks (shown in the md report's legend)
RULES: dict[str, str] = {
    "compute-region": "The cluster (GPU nodes, volumes: where prompts are processed) is allowed.",
    "weights-region": "Every S3 weights bucket is in an allowed Region.",
    "fallback-forbidden": "With allowFallback: false no alias, route or IAM grant may reach Bedrock.",
    "bedrock-source-region": "The Bedrock Region the gateway calls is allowed.",
    "profile-global": "A global. profile (any commercial Region) needs allowGlobalInferenceProfiles.",
    "profile-geo": "A geo inference profile (eu./us./apac.…) needs allowGeoInferenceProfiles.",
    "profile-destinations": "Every destination Region of an inference profile is allowed.",
    "profile-unverified": "The profile's exact destinations are unknown offline; run paddock preflight.",
    "bedrock-public-egress": "Bedrock traffic goes through a VPC endpoint, not public egress.",
    "public-egress": "A NAT gateway lets pods send data to any Internet destination.",
    "pinned-alias-bedrock-route": "An alias pinned with fallback: none has no Bedrock route in the gateway.",
    "resource-region": "A resource created in an explicit Region uses an allowed Region.",
    "log-region": "Log groups are in an allowed Region.",
    "log-retention": "Log groups expire within paddock:residency.logRetentionDays.",
    "gateway-logs-content": "The gateway never logs prompt or response content.",
    "bedrock-invocation-logging": "Bedrock model-invocation logging does not store prompt/response text.",
    "bedrock-iam-wildcard": "Bedrock invoke permissions name exact ARNs, never '*'.",
    "bedrock-iam-region": "Bedrock invoke permissions only reach allowed Regions.",
    "endpoint-region": "VPC endpoints are in an allowed Region.",
    "endpoint-policy": "The bedrock-runtime VPC endpoint carries a restrictive endpoint policy.",
}


def _f(
    resource: str, key: str, rule: str, region: str | None, message: str, severity: str = "error"
) -> Finding:
    assert rule in RULES, rule
    return Finding(
        resource=resource,
        config_key=key,
        rule=rule,
        region=region,
        severity="warning" if severity == "warning" else "error",
        message=message,
    )


def check_profile(route: ProfileRoute, policy: ResidencyPolicy, *, resource: str, key: str) -> list[Finding]:
    """Findings for one fallback target: scope allowed, every destination allowed (or known)."""
    pid = route.profile_id
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
    if route.destinations is not None:
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
    if route.geo is not None and not any(route.geo.may_include(r) for r in policy.allowed_regions):
        out.append(
            _f(
                resource,
                key,
                "profile-destinations",
                None,
                f"{pid} routes within the {route.geography}; no allowed Region "
                f"({', '.join(policy.allowed_regions)}) is in it",
            )
        )
    else:
        out.append(
            _f(resource, key, "profile-unverified", None, f"{pid}: {route.known_from}", severity="warning")
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
    if not facts.vpc_endpoints:
        out.append(
            _f(
                "network",
                "paddock:network.vpcEndpoints",
                "bedrock-public-egress",
                facts.bedrock_region,
                "fallback prompts reach Bedrock over public egress: enable vpcEndpoints",
                severity="warning",
            )
        )
    return out


def check_stack(facts: StackFacts, overrides: Mapping[str, tuple[str, ...]] | None = None) -> list[Finding]:
    """Config-level findings for one stack. ``overrides``: live destinations from ``paddock preflight``."""
    policy = facts.policy
    out: list[Finding] = []
    if not policy.allows(facts.region):
        out.append(
            _f(
                "cluster",
                "aws:region",
                "compute-region",
                facts.region,
                f"the cluster, its GPU nodes and volumes are in {facts.region}",
            )
        )
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
    if facts.nat_gateway:
        out.append(
            _f(
                "network",
                "paddock:network.natGateway",
                "public-egress",
                facts.region,
                "a NAT gateway gives pods a route to any Internet destination",
                severity="warning",
            )
        )
    return out
