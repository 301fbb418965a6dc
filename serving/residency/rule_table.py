"""The one table of residency rules: id, severity, what it reads, the config key that governs it.

``paddock audit`` (exit policy), the CrossGuard pack (enforcement level) and the README table all read
:data:`RULE_TABLE`; a finding's severity is looked up here, never chosen where the finding is made, so the CLI
and the pack cannot classify a rule differently.

Exit policy (``paddock audit``), like checkov ``--hard-fail-on`` / conftest ``warn`` vs ``deny``:
an ``error`` exits 1; a ``warning`` exits 0 unless ``--fail-on-warn`` (``--fail-on warning``). In the pack an
``error`` rule is ``mandatory`` (blocks ``pulumi up``) and a ``warning`` rule ``advisory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from serving.residency.model import Finding, Severity

EGRESS_KEY = "paddock:residency.allowPublicEgress"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One row of the rule table."""

    id: str
    severity: Severity
    reads: str
    """What the rule reads: config keys and the resource records (type, input) it looks at."""
    config_key: str
    """The ``paddock:residency`` (or other) key that decides it / opts out of it."""
    description: str


def _r(rule_id: str, severity: Severity, reads: str, config_key: str, description: str) -> Rule:
    return Rule(id=rule_id, severity=severity, reads=reads, config_key=config_key, description=description)


RULE_TABLE: tuple[Rule, ...] = (
    _r(
        "compute-region",
        "error",
        "`aws:region`; `aws:eks/cluster`, `aws:eks/nodeGroup` Region",
        "allowedRegions",
        "The cluster (GPU nodes, volumes: where prompts are processed) is in an allowed Region AWS knows.",
    ),
    _r(
        "region-unknown",
        "error",
        "`allowedRegions`, `weightsRegion`, `fallback.bedrock.region` against botocore's Region list",
        "allowedRegions",
        "Every Region named in the stack is a Region AWS knows (a typo never passes as 'allowed').",
    ),
    _r(
        "weights-region",
        "error",
        "`models[].weightsRegion`; `aws:s3/bucket*` Region; model-server release `values.weights.region`",
        "allowedRegions",
        "Every S3 weights bucket is in an allowed Region.",
    ),
    _r(
        "weights-public",
        "error",
        "`models[].weights: hf`; model-server release `values.weights.source`",
        EGRESS_KEY,
        "Weights downloaded from Hugging Face Hub need public egress; allowed only with allowPublicEgress.",
    ),
    _r(
        "fallback-forbidden",
        "error",
        "`models[].fallback`; gateway routes; IAM and endpoint policies granting `bedrock:InvokeModel*`",
        "allowFallback",
        "With allowFallback: false no alias, route or IAM grant may reach Bedrock.",
    ),
    _r(
        "bedrock-source-region",
        "error",
        "`fallback.bedrock.region`; gateway routes `fallback.bedrock.region`",
        "allowedRegions",
        "The Bedrock Region the gateway calls is allowed.",
    ),
    _r(
        "profile-global",
        "error",
        "`fallback.bedrock.models.*.inferenceProfile`; routes; Region-less foundation-model ARNs in IAM",
        "allowGlobalInferenceProfiles",
        "A global. profile (any commercial Region) needs allowGlobalInferenceProfiles: true.",
    ),
    _r(
        "profile-geo",
        "error",
        "`fallback.bedrock.models.*.inferenceProfile`; routes; profile ARNs in IAM",
        "allowGeoInferenceProfiles",
        "A geo inference profile (eu./us./apac./jp./au.) needs allowGeoInferenceProfiles: true.",
    ),
    _r(
        "profile-destinations",
        "error",
        "profile destinations (preflight result, else data/inference_profiles.json by source Region)",
        "allowedRegions",
        "Every destination Region of an inference profile is allowed.",
    ),
    _r(
        "profile-unknown-geography",
        "error",
        "the profile id's prefix against the known geographies and model providers",
        "fallback.bedrock.models.*.inferenceProfile",
        "A profile prefix Paddock does not know (`ca.`…) fails closed: its destinations cannot be bounded.",
    ),
    _r(
        "profile-unverified",
        "error",
        "a profile missing from the data file (or from this source Region) and no preflight result",
        "allowedRegions",
        "Destinations unknown offline and the geography reaches Regions outside allowedRegions.",
    ),
    _r(
        "profile-unverified-contained",
        "warning",
        "a profile missing from the data file (or from this source Region) and no preflight result",
        "allowedRegions",
        "Destinations unknown offline, but every Region of its geography is allowed; run paddock preflight.",
    ),
    _r(
        "public-egress",
        "error",
        "`network.natGateway` of a created VPC; `aws:ec2/natGateway` records",
        EGRESS_KEY,
        "A NAT gateway lets pods send data to any Internet destination; allowed only with allowPublicEgress.",
    ),
    _r(
        "bedrock-public-egress",
        "error",
        "`network.vpcEndpoints: false`, or an adopted VPC (no endpoint Paddock can see), while an alias may "
        "fall back",
        EGRESS_KEY,
        "Bedrock traffic without a bedrock-runtime VPC endpoint leaves over public egress.",
    ),
    _r(
        "public-api-endpoint",
        "error",
        "`aws:eks/cluster` `vpcConfig.endpointPublicAccess` and `publicAccessCidrs`",
        EGRESS_KEY,
        "A public EKS API endpoint open to 0.0.0.0/0 (a CIDR-restricted one carries no prompts and passes).",
    ),
    _r(
        "adopted-vpc-egress",
        "warning",
        "`network.existingVpcId`",
        EGRESS_KEY,
        "Egress of an adopted VPC (NAT, internet gateway, proxies, endpoints) is not visible to Paddock.",
    ),
    _r(
        "pinned-alias-bedrock-route",
        "error",
        "gateway routes (gateway Helm release `values.routes`, routes ConfigMaps) against `fallback: none`",
        "models[].fallback",
        "An alias pinned with fallback: none has no Bedrock route in the gateway.",
    ),
    _r(
        "primary-off-cluster",
        "error",
        "gateway routes `aliases.*.primary.url` (and `metricsUrl`)",
        "allowedRegions",
        "A primary URL is in-cluster (`*.svc`, localhost) or an endpoint of an allowed Region.",
    ),
    _r(
        "routes-duplicate-key",
        "error",
        "routes YAML text in ConfigMaps",
        "paddock:gateway",
        "routes.yaml has no duplicate keys (a second `fallback:` silently overrides the first).",
    ),
    _r(
        "resource-region",
        "error",
        "the explicit `region` input of any other `aws:` resource",
        "allowedRegions",
        "A resource created in an explicit Region uses an allowed Region.",
    ),
    _r(
        "log-region",
        "error",
        "`aws:cloudwatch/logGroup` Region",
        "allowedRegions",
        "Log groups are in an allowed Region.",
    ),
    _r(
        "log-retention",
        "warning",
        "`aws:cloudwatch/logGroup` `retentionInDays`",
        "logRetentionDays",
        "Log groups expire within paddock:residency.logRetentionDays.",
    ),
    _r(
        "gateway-logs-content",
        "error",
        "gateway routes/values `logging.*`, `logContent`…; Deployment env and args",
        "paddock:gateway",
        "The gateway never logs prompt or response content.",
    ),
    _r(
        "bedrock-invocation-logging",
        "error",
        "`aws:bedrock/modelInvocationLoggingConfiguration` `loggingConfig.*DataDeliveryEnabled`",
        "paddock:gateway",
        "Bedrock model-invocation logging does not store prompt/response text.",
    ),
    _r(
        "bedrock-iam-wildcard",
        "error",
        "IAM role/policy documents and endpoint policies granting `bedrock:InvokeModel*`",
        "fallback.bedrock.models",
        "Bedrock invoke permissions name exact ARNs, never '*'.",
    ),
    _r(
        "bedrock-iam-region",
        "error",
        "Regions of the ARNs in Bedrock invoke grants",
        "allowedRegions",
        "Bedrock invoke permissions only reach allowed Regions (any Region for an accepted global profile).",
    ),
    _r(
        "endpoint-region",
        "error",
        "`aws:ec2/vpcEndpoint` `serviceName` Region",
        "allowedRegions",
        "VPC endpoints are in an allowed Region.",
    ),
    _r(
        "endpoint-policy",
        "warning",
        "`aws:ec2/vpcEndpoint` (bedrock-runtime) `policy`",
        "network.vpcEndpoints",
        "The bedrock-runtime VPC endpoint carries a restrictive endpoint policy.",
    ),
    _r(
        "plan-unrendered",
        "error",
        "the offline render of the stack (`paddock audit` only; the pack sees the real resources)",
        "aws:region",
        "The offline plan rendered, so resource-level rules ran (fail closed when it cannot be rendered).",
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in RULE_TABLE})


def finding(resource: str, key: str, rule: str, region: str | None, message: str) -> Finding:
    """A :class:`Finding` of ``rule``; its severity comes from :data:`RULE_TABLE` (KeyError: unknown rule)."""
    return Finding(
        resource=resource,
        config_key=key,
        rule=rule,
        region=region,
        severity=RULES[rule].severity,
        message=message,
    )


def markdown_table() -> str:
    """The rule table as GitHub Markdown (stacks/policy_pack/README.md embeds it; a test keeps them equal)."""
    rows = ["| rule | severity | reads | config key | what it checks |", "|---|---|---|---|---|"]
    rows += [
        f"| `{r.id}` | {r.severity} | {r.reads} | `{r.config_key}` | {r.description} |" for r in RULE_TABLE
    ]
    return "\n".join(rows)
