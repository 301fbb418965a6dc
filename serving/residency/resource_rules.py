"""Residency rules over one resource record ``{type, name, inputs}`` (pure; shared by ``paddock audit`` on the
offline plan and the CrossGuard policy pack on ``pulumi preview``).

``inputs`` use camelCase keys as the Pulumi engine sees them. ``region`` is the resource's explicit Region
input (pulumi-aws v7) or the provider's Region; without either it is ``policy.home_region``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from serving.residency.model import Finding, ResidencyPolicy
from serving.residency.profiles import region_of_arn, resolve_profile
from serving.residency.rules import _f, check_profile

Record = Mapping[str, Any]
INVOKE_ACTIONS = ("bedrock:invokemodel", "bedrock:invokemodelwithresponsestream")
INVOCATION_LOGGING = "aws:bedrock/modelInvocationLoggingConfiguration:ModelInvocationLoggingConfiguration"
CONTENT_LOG_WORDS = ("LOG_CONTENT", "LOG_PROMPTS", "LOG_BODIES", "LOG_BODY", "LOG_MESSAGES", "LOG_PAYLOADS")
TRUTHY = ("1", "true", "yes", "on")


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


def check_policy_document(document: Any, policy: ResidencyPolicy, *, resource: str) -> list[Finding]:
    """Findings for an IAM/endpoint policy granting Bedrock invoke: wildcards, Regions, forbidden fallback."""
    key = "paddock:fallback.bedrock.models"
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
        for arn in (str(r) for r in _as_list(st.get("Resource"))):
            if "*" in arn:
                out.append(_f(resource, key, "bedrock-iam-wildcard", None, f"Bedrock invoke on {arn!r}"))
                continue
            region = region_of_arn(arn)
            if region == "" and not policy.allow_global_profiles:
                out.append(
                    _f(
                        resource,
                        key,
                        "profile-global",
                        None,
                        f"grants the global (Region-less) foundation model {arn}",
                    )
                )
            elif region and not policy.allows(region):
                out.append(_f(resource, key, "bedrock-iam-region", region, f"grants Bedrock invoke on {arn}"))
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
                severity="warning",
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
                    severity="warning",
                )
            )
        else:
            out += check_policy_document(doc, policy, resource=record["name"])
    return out


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUTHY


def _logs_content(mapping: Mapping[str, Any]) -> list[str]:
    """Keys of a routes/logging mapping that switch on content logging (``logging: {content: true}`` …)."""
    logging_cfg = mapping.get("logging")
    hits = []
    if isinstance(logging_cfg, Mapping):
        hits += [
            f"logging.{k}"
            for k in ("content", "prompts", "bodies", "messages")
            if _truthy(logging_cfg.get(k, False))
        ]
    hits += [k for k in ("logContent", "logPrompts", "logBodies") if _truthy(mapping.get(k, False))]
    return hits


def _routes(record: Record) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(data key, parsed routes document) for every ConfigMap value that parses as a gateway routes file."""
    for data_key, text in (record.get("inputs", {}).get("data") or {}).items():
        if not isinstance(text, str) or "aliases" not in text:
            continue
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(doc, Mapping) and isinstance(doc.get("aliases"), Mapping):
            yield data_key, doc


def _alias_bedrock(entry: Any) -> Mapping[str, Any] | None:
    fallback = entry.get("fallback") if isinstance(entry, Mapping) else None
    bedrock = fallback.get("bedrock") if isinstance(fallback, Mapping) else None
    return bedrock if isinstance(bedrock, Mapping) else None


def _config_map(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    out: list[Finding] = []
    name = record["name"]
    for data_key, doc in _routes(record):
        for hit in _logs_content(doc):
            out.append(
                _f(
                    name,
                    "paddock:gateway",
                    "gateway-logs-content",
                    None,
                    f"{data_key}: {hit} logs prompt/response content",
                )
            )
        for alias, entry in doc["aliases"].items():
            bedrock = _alias_bedrock(entry)
            if bedrock is None:
                continue
            key = "paddock:models[].fallback"
            if alias in policy.pinned_aliases:
                out.append(
                    _f(
                        name,
                        key,
                        "pinned-alias-bedrock-route",
                        None,
                        f"alias {alias} is pinned (fallback: none) but {data_key} routes it to Bedrock",
                    )
                )
            if not policy.allow_fallback:
                out.append(
                    _f(
                        name,
                        "paddock:residency.allowFallback",
                        "fallback-forbidden",
                        None,
                        f"{data_key} routes alias {alias} to Bedrock",
                    )
                )
                continue
            model, region = str(bedrock.get("model", "")), str(bedrock.get("region", policy.home_region))
            if not policy.allows(region):
                out.append(
                    _f(
                        name,
                        "paddock:fallback.bedrock.region",
                        "bedrock-source-region",
                        region,
                        f"alias {alias} calls Bedrock in {region}",
                    )
                )
            route = resolve_profile(model, region, None)
            out += check_profile(route, policy, resource=name, key="paddock:fallback.bedrock.models")
    return out


def _env_content_logging(record: Record) -> list[str]:
    spec = record.get("inputs", {}).get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec")) or {}
    hits = []
    for container in pod.get("containers") or []:
        for env in container.get("env") or []:
            env_name = str(env.get("name", "")).upper()
            if any(w in env_name for w in CONTENT_LOG_WORDS) and _truthy(env.get("value", "")):
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
    return [
        _f(
            record["name"],
            "paddock:network.natGateway",
            "public-egress",
            resource_region(record, policy),
            "a NAT gateway gives pods a route to any Internet destination",
            severity="warning",
        )
    ]


CHECKS: dict[str, Callable[[Record, ResidencyPolicy], list[Finding]]] = {
    "aws:eks/cluster:Cluster": _region_rule("compute-region", "aws:region", "EKS cluster"),
    "aws:eks/nodeGroup:NodeGroup": _region_rule("compute-region", "aws:region", "node group"),
    "aws:s3/bucket:Bucket": _region_rule("weights-region", "paddock:models[].weightsRegion", "bucket"),
    "aws:s3/bucketV2:BucketV2": _region_rule("weights-region", "paddock:models[].weightsRegion", "bucket"),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:iam/role:Role": _iam,
    "aws:iam/rolePolicy:RolePolicy": _iam,
    "aws:iam/policy:Policy": _iam,
    "kubernetes:core/v1:ConfigMap": _config_map,
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
