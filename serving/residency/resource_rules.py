"""Residency rules over one resource record ``{type, name, inputs}`` (pure; shared by ``paddock audit`` on the
offline plan and the CrossGuard policy pack on ``pulumi preview``).

``inputs`` use camelCase keys as the Pulumi engine sees them. ``region`` is the resource's explicit Region
input (pulumi-aws v7) or the provider's Region; without either it is ``policy.home_region``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from serving.residency.model import Finding, ResidencyPolicy
from serving.residency.profiles import region_of_arn, resolve_profile
from serving.residency.route_rules import TRUTHY, check_config_map, check_release_values
from serving.residency.rule_table import EGRESS_KEY, finding
from serving.residency.rules import check_profile, open_cidrs

Record = Mapping[str, Any]
INVOKE_ACTIONS = ("bedrock:invokemodel", "bedrock:invokemodelwithresponsestream")
INVOCATION_LOGGING = "aws:bedrock/modelInvocationLoggingConfiguration:ModelInvocationLoggingConfiguration"
CONTENT_LOG_WORDS = ("LOG_CONTENT", "LOG_PROMPTS", "LOG_BODIES", "LOG_BODY", "LOG_MESSAGES", "LOG_PAYLOADS")
PROFILE_CONDITION = "bedrock:inferenceprofilearn"


def _f(resource: str, key: str, rule: str, region: str | None, message: str) -> Finding:
    return finding(resource, key, rule, region, message)


def resource_region(record: Record, policy: ResidencyPolicy) -> str:
    """The Region a resource lives in: its ``region`` input, else the stack's home Region."""
    region = record.get("inputs", {}).get("region")
    return region if isinstance(region, str) and region else policy.home_region


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _statements(document: Any) -> Iterator[Mapping[str, Any]]:
    doc = _json(document)
    if isinstance(doc, Mapping):
        yield from (s for s in _as_list(doc.get("Statement")) if isinstance(s, Mapping))


def _grants_invoke(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
    return any(
        a in ("*", "bedrock:*", "bedrock:invoke*", "bedrock:invokemodel*") or a in INVOKE_ACTIONS
        for a in actions
    )


def _condition_profiles(statement: Mapping[str, Any]) -> list[str]:
    """Profile ARNs a statement is conditioned on (``bedrock:InferenceProfileArn``, any operator)."""
    cond = statement.get("Condition")
    out: list[str] = []
    for body in cond.values() if isinstance(cond, Mapping) else []:
        if isinstance(body, Mapping):
            for k, v in body.items():
                if str(k).lower() == PROFILE_CONDITION:
                    out += [str(x) for x in _as_list(v)]
    return out


def _profile_id(arn: str) -> str | None:
    """``global.anthropic…`` from ``arn:aws:bedrock:us-east-1:1:inference-profile/global.anthropic…``."""
    _, sep, ident = arn.partition(":inference-profile/")
    return ident if sep and ident else None


def _grant_findings(arn: str, policy: ResidencyPolicy, resource: str, via_global: bool) -> list[Finding]:
    key = "paddock:fallback.bedrock.models"
    if "*" in arn:
        return [_f(resource, key, "bedrock-iam-wildcard", None, f"Bedrock invoke on {arn!r}")]
    region = region_of_arn(arn)
    profile = _profile_id(arn)
    if profile is not None and region:
        # scope only: the profile's destinations are judged where the route lives (gateway values, config);
        # the grants on its foundation-model ARNs are judged one by one below
        route = resolve_profile(profile, region, None)
        out = [
            f
            for f in check_profile(route, policy, resource=resource, key=key)
            if f.rule in ("profile-global", "profile-geo", "profile-unknown-geography")
        ]
        if not policy.allows(region):
            out.append(_f(resource, key, "bedrock-iam-region", region, f"grants Bedrock invoke on {arn}"))
        return out
    if via_global and policy.allow_global_profiles:
        return []  # an accepted global profile may reach any commercial Region, and the Region-less ARN
    if region == "":
        if policy.allow_global_profiles:
            return []
        return [_f(resource, key, "profile-global", None, f"grants the Region-less foundation model {arn}")]
    if region and not policy.allows(region):
        return [_f(resource, key, "bedrock-iam-region", region, f"grants Bedrock invoke on {arn}")]
    return []


def check_policy_document(document: Any, policy: ResidencyPolicy, *, resource: str) -> list[Finding]:
    """Findings for an IAM/endpoint policy granting Bedrock invoke: wildcards, Regions, forbidden fallback,
    and the profiles it names (checked like the stack's own: destinations, geo/global)."""
    out: list[Finding] = []
    for st in (s for s in _statements(document) if _grants_invoke(s)):
        if not policy.allow_fallback:
            out.append(
                _f(
                    resource,
                    "paddock:residency.allowFallback",
                    "fallback-forbidden",
                    None,
                    "grants Bedrock invoke although allowFallback is false",
                )
            )
            continue
        via_global = any((_profile_id(p) or "").startswith("global.") for p in _condition_profiles(st))
        for arn in (str(r) for r in _as_list(st.get("Resource"))):
            out += _grant_findings(arn, policy, resource, via_global)
    return out


def _iam(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    inputs = record.get("inputs", {})
    docs = [inputs.get("policy")] + [
        p.get("policy") for p in _as_list(inputs.get("inlinePolicies")) if isinstance(p, Mapping)
    ]
    return [
        f for d in docs if d is not None for f in check_policy_document(d, policy, resource=record["name"])
    ]


def _region_rule(rule: str, key: str, what: str) -> Callable[[Record, ResidencyPolicy], list[Finding]]:
    def check(record: Record, policy: ResidencyPolicy) -> list[Finding]:
        region = resource_region(record, policy)
        if policy.allows(region):
            return []
        return [_f(record["name"], key, rule, region, f"{what} {record['name']} is in {region}")]

    return check


def _log_group(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    out = _region_rule("log-region", "aws:region", "log group")(record, policy)
    limit = policy.log_retention_days
    days = record.get("inputs", {}).get("retentionInDays")
    if limit is not None and (not days or days > limit):
        kept = "forever" if not days else f"{int(days)} days"
        out.append(
            _f(
                record["name"],
                "paddock:residency.logRetentionDays",
                "log-retention",
                resource_region(record, policy),
                f"keeps logs {kept}; limit {limit} days",
            )
        )
    return out


def _vpc_endpoint(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    inputs = record.get("inputs", {})
    service = str(inputs.get("serviceName", ""))
    parts = service.split(".")
    region = (
        parts[2]
        if len(parts) > 3 and service.startswith("com.amazonaws.")
        else resource_region(record, policy)
    )
    out: list[Finding] = []
    if not policy.allows(region):
        out.append(
            _f(record["name"], "aws:region", "endpoint-region", region, f"endpoint {service} in {region}")
        )
    if service.endswith(".bedrock-runtime"):
        doc = _json(inputs.get("policy"))
        if not doc:
            out.append(
                _f(
                    record["name"],
                    "paddock:network.vpcEndpoints",
                    "endpoint-policy",
                    region,
                    "bedrock-runtime endpoint has no endpoint policy (full access)",
                )
            )
        else:
            out += check_policy_document(doc, policy, resource=record["name"])
    return out


def _env_content_logging(record: Record) -> list[str]:
    spec = record.get("inputs", {}).get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec")) or {}
    hits = []
    for container in pod.get("containers") or []:
        for env in container.get("env") or []:
            env_name = str(env.get("name", "")).upper()
            if any(w in env_name for w in CONTENT_LOG_WORDS) and _truthy_flag(env.get("value", "")):
                hits.append(f"{container.get('name')}: env {env_name}={env.get('value')}")
        hits += [
            f"{container.get('name')}: arg {a}"
            for a in container.get("args") or []
            if str(a).startswith(("--log-content", "--log-prompts", "--log-bodies"))
        ]
    return hits


def _deployment(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    return [
        _f(record["name"], "paddock:gateway", "gateway-logs-content", None, f"{hit} logs content")
        for hit in _env_content_logging(record)
    ]


def _invocation_logging(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    cfg = record.get("inputs", {}).get("loggingConfig") or {}
    kinds = [
        k
        for k in (
            "textDataDeliveryEnabled",
            "imageDataDeliveryEnabled",
            "embeddingDataDeliveryEnabled",
            "videoDataDeliveryEnabled",
        )
        if cfg.get(k)
    ]
    return (
        [
            _f(
                record["name"],
                "paddock:gateway",
                "bedrock-invocation-logging",
                resource_region(record, policy),
                f"Bedrock stores prompts/responses in logs ({', '.join(kinds)})",
            )
        ]
        if kinds
        else []
    )


def _nat(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    if policy.allow_public_egress:
        return []
    return [
        _f(
            record["name"],
            "paddock:network.natGateway",
            "public-egress",
            resource_region(record, policy),
            f"a NAT gateway gives pods a route to any Internet destination; set {EGRESS_KEY}: true",
        )
    ]


def _cluster(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    """compute-region, and a public API endpoint open to the Internet (a CIDR-restricted one passes: the
    control plane carries no prompts)."""
    out = _region_rule("compute-region", "aws:region", "EKS cluster")(record, policy)
    vpc = record.get("inputs", {}).get("vpcConfig") or {}
    if (
        isinstance(vpc, Mapping)
        and _truthy_flag(vpc.get("endpointPublicAccess"))
        and open_cidrs(_as_list(vpc.get("publicAccessCidrs")))
        and not policy.allow_public_egress
    ):
        out.append(
            _f(
                record["name"],
                "paddock:cluster.endpointPublicAccess",
                "public-api-endpoint",
                resource_region(record, policy),
                "the EKS API endpoint is public and open to 0.0.0.0/0; restrict publicAccessCidrs or set "
                f"{EGRESS_KEY}: true",
            )
        )
    return out


def _truthy_flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUTHY


def _weights_values(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    """A model-server release's ``values.weights`` (``{source: s3|hf, region, s3Uri}``)."""
    values = record.get("inputs", {}).get("values")
    weights = values.get("weights") if isinstance(values, Mapping) else None
    if not isinstance(weights, Mapping) or "source" not in weights:
        return []
    name = record["name"]
    if weights.get("source") == "s3":
        region = str(weights.get("region") or policy.home_region)
        if policy.allows(region):
            return []
        uri = weights.get("s3Uri", "?")
        return [
            _f(
                name,
                "paddock:models[].weightsRegion",
                "weights-region",
                region,
                f"{name} syncs weights {uri} from {region}",
            )
        ]
    if policy.allow_public_egress:
        return []
    return [
        _f(
            name,
            "paddock:models[].weights",
            "weights-public",
            None,
            f"{name} downloads weights from Hugging Face Hub over public egress; set {EGRESS_KEY}: true",
        )
    ]


def _release(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    return check_release_values(record, policy) + _weights_values(record, policy)


CHECKS: dict[str, Callable[[Record, ResidencyPolicy], list[Finding]]] = {
    "aws:eks/cluster:Cluster": _cluster,
    "aws:eks/nodeGroup:NodeGroup": _region_rule("compute-region", "aws:region", "node group"),
    "aws:s3/bucket:Bucket": _region_rule("weights-region", "paddock:models[].weightsRegion", "bucket"),
    "aws:s3/bucketV2:BucketV2": _region_rule("weights-region", "paddock:models[].weightsRegion", "bucket"),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:iam/role:Role": _iam,
    "aws:iam/rolePolicy:RolePolicy": _iam,
    "aws:iam/policy:Policy": _iam,
    "kubernetes:core/v1:ConfigMap": check_config_map,
    "kubernetes:helm.sh/v3:Release": _release,
    "kubernetes:helm.sh/v4:Chart": _release,
    "kubernetes:apps/v1:Deployment": _deployment,
    INVOCATION_LOGGING: _invocation_logging,
    "aws:ec2/natGateway:NatGateway": _nat,
}
_REGIONAL = (
    "aws:s3/",
    "aws:cloudwatch/logGroup",
    "aws:ec2/vpcEndpoint:",
    "aws:eks/cluster:",
    "aws:eks/nodeGroup:",
)


def provider_regions(records: Iterable[Record]) -> dict[str, str]:
    """Logical name → ``region`` of every explicit ``pulumi:providers:aws`` record of a plan."""
    out = {}
    for r in records:
        region = (r.get("inputs") or {}).get("region")
        if str(r.get("type", "")).startswith("pulumi:providers:aws") and isinstance(region, str) and region:
            out[str(r.get("name"))] = region
    return out


def policy_for(record: Record, policy: ResidencyPolicy, providers: Mapping[str, str]) -> ResidencyPolicy:
    """``policy`` with the record's explicit provider's Region as its home Region (what the pack sees as
    ``args.provider.props.region``)."""
    region = providers.get(str(record.get("provider") or ""))
    return dataclasses.replace(policy, home_region=region) if region else policy


def check_resource(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    """All findings for one resource record (type-specific rules, plus any explicit ``region`` input)."""
    rtype = str(record.get("type", ""))
    out = CHECKS[rtype](record, policy) if rtype in CHECKS else []
    explicit = record.get("inputs", {}).get("region")
    if (
        rtype.startswith("aws:")
        and not rtype.startswith(_REGIONAL)
        and isinstance(explicit, str)
        and explicit
        and not policy.allows(explicit)
    ):
        out.append(
            _f(
                record["name"],
                "aws:region",
                "resource-region",
                explicit,
                f"{rtype} {record['name']} is created in {explicit}",
            )
        )
    return out
