"""One stack's audit: every place data can reach (inventory) plus the findings, rendered as JSON or Markdown.

``audit_stack(facts, resources, overrides)`` is pure; the CLI reads files and prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serving.residency.model import Finding, Place
from serving.residency.profiles import resolve_profile
from serving.residency.resource_rules import check_resource, policy_for, provider_regions, resource_region
from serving.residency.rule_table import RULES
from serving.residency.rules import check_stack
from serving.residency.stack import StackFacts


@dataclass(frozen=True, kw_only=True)
class StackAudit:
    """The audit of one stack."""

    stack: str
    region: str
    allowed_regions: tuple[str, ...]
    places: tuple[Place, ...]
    findings: tuple[Finding, ...]
    fallback_aliases: tuple[str, ...]
    pinned_aliases: tuple[str, ...]
    resources_checked: int
    """Resource records from the offline plan that were checked (0 = config-only audit)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "stack": self.stack,
            "region": self.region,
            "allowedRegions": list(self.allowed_regions),
            "fallbackAliases": list(self.fallback_aliases),
            "pinnedAliases": list(self.pinned_aliases),
            "resourcesChecked": self.resources_checked,
            "clean": not self.findings,
            "places": [p.to_dict() for p in self.places],
            "findings": [f.to_dict() | {"stack": self.stack} for f in self.findings],
        }

    def with_findings(self, extra: Sequence[Finding]) -> StackAudit:
        """The same audit with ``extra`` findings first (e.g. ``plan-unrendered`` from the CLI)."""
        return dataclasses.replace(self, findings=tuple(extra) + self.findings)


_VOLUME_TYPES = {
    "aws:eks/nodeGroup:NodeGroup": "node root volumes (EBS) of node group",
    "aws:ec2/launchTemplate:LaunchTemplate": "EBS volumes of launch template",
    "kubernetes:core/v1:PersistentVolumeClaim": "model-cache volume (EBS) claim",
}


def _config_places(facts: StackFacts, overrides: Mapping[str, tuple[str, ...]] | None) -> list[Place]:
    pol = facts.policy
    places = [
        Place(
            kind="prompts",
            what="EKS cluster: GPU nodes, gateway (prompts and responses)",
            region=facts.region,
            resource="cluster",
            config_key="aws:region",
            allowed=pol.allows(facts.region),
        )
    ]
    for m in facts.models:
        key = f"paddock:models[{m.index}].weights"
        if m.weights.startswith("s3://"):
            places.append(
                Place(
                    kind="weights",
                    what=f"S3 weights of {m.alias}",
                    region=m.weights_region,
                    resource=m.weights,
                    config_key=key + "Region",
                    allowed=pol.allows(m.weights_region),
                )
            )
        else:
            places.append(
                Place(
                    kind="weights",
                    what=f"weights of {m.alias} downloaded from Hugging Face Hub (public egress)",
                    region=None,
                    resource=m.weights,
                    config_key=key,
                    allowed=pol.allow_public_egress,
                )
            )
    if pol.allow_fallback:
        for key in sorted({m.fallback for m in facts.models if m.fallback is not None}):
            route = resolve_profile(facts.fallback_profiles[key], facts.bedrock_region, overrides)
            dests: Sequence[str | None] = route.destinations or [None]
            for region in dests:
                allowed = (
                    pol.allow_global_profiles
                    if route.scope == "global"
                    else region is not None and pol.allows(region)
                )
                places.append(
                    Place(
                        kind="prompts",
                        what=f"Bedrock {route.profile_id} via {route.geography} [{route.basis}]",
                        region=region,
                        resource=f"bedrock {route.profile_id}",
                        config_key=f"paddock:fallback.bedrock.models.{key}.inferenceProfile",
                        allowed=allowed,
                    )
                )
    places.append(_egress_place(facts))
    if facts.public_api_endpoint:
        restricted = facts.public_access_cidrs and not any(
            c in ("0.0.0.0/0", "::/0") for c in facts.public_access_cidrs
        )
        what = (
            f"EKS API endpoint public, restricted to {', '.join(facts.public_access_cidrs or ())} "
            "(control plane: no prompts)"
            if restricted
            else "EKS API endpoint public, open to 0.0.0.0/0"
        )
        places.append(
            Place(
                kind="egress",
                what=what,
                region=facts.region,
                resource="cluster",
                config_key="paddock:cluster.endpointPublicAccess",
                allowed=bool(restricted) or pol.allow_public_egress,
            )
        )
    return places


def _egress_place(facts: StackFacts) -> Place:
    """The network's egress as far as Paddock knows it (an adopted VPC's is not visible)."""
    opted = " (allowPublicEgress: true)" if facts.policy.allow_public_egress else ""
    if facts.existing_vpc:
        return Place(
            kind="egress",
            what=f"adopted VPC: egress is not visible to Paddock (NAT, gateways, endpoints, proxies){opted}",
            region=facts.region,
            resource="network",
            config_key="paddock:network.existingVpcId",
            allowed=facts.policy.allow_public_egress,
        )
    egress = "NAT gateway (public egress)" if facts.nat_gateway else "no NAT gateway"
    endpoints = "VPC endpoints" if facts.vpc_endpoints else "no VPC endpoints"
    return Place(
        kind="egress",
        what=f"{egress}; {endpoints}{opted}",
        region=facts.region,
        resource="network",
        config_key="paddock:network",
        allowed=not facts.nat_gateway or facts.policy.allow_public_egress,
    )


def _resource_places(
    facts: StackFacts, resources: Iterable[Mapping[str, Any]], providers: Mapping[str, str]
) -> list[Place]:
    places = []
    for r in resources:
        rtype, region = str(r.get("type")), resource_region(r, policy_for(r, facts.policy, providers))
        if rtype in _VOLUME_TYPES:
            places.append(
                Place(
                    kind="volumes",
                    what=f"{_VOLUME_TYPES[rtype]} {r['name']}",
                    region=region,
                    resource=r["name"],
                    config_key="aws:region",
                    allowed=facts.policy.allows(region),
                )
            )
        elif rtype == "aws:cloudwatch/logGroup:LogGroup":
            days = r.get("inputs", {}).get("retentionInDays")
            kept = f"{int(days)} days" if days else "never expires"
            places.append(
                Place(
                    kind="logs",
                    what=f"log group {r['name']} ({kept})",
                    region=region,
                    resource=r["name"],
                    config_key="paddock:residency.logRetentionDays",
                    allowed=facts.policy.allows(region),
                )
            )
        elif rtype == "aws:ec2/vpcEndpoint:VpcEndpoint":
            service = r.get("inputs", {}).get("serviceName", "?")
            places.append(
                Place(
                    kind="egress",
                    what=f"VPC endpoint {service}",
                    region=region,
                    resource=r["name"],
                    config_key="paddock:network.vpcEndpoints",
                    allowed=True,
                )
            )
    return places


def _dedupe(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    seen: set[tuple[str, str, str | None]] = set()
    out = []
    for f in findings:
        key = (f.rule, f.config_key, f.region if f.region else f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return tuple(out)


def audit_stack(
    facts: StackFacts,
    resources: Sequence[Mapping[str, Any]] = (),
    overrides: Mapping[str, tuple[str, ...]] | None = None,
) -> StackAudit:
    """Audit one stack: resource-record findings first (they name real resources), then config findings."""
    policy = dataclasses.replace(facts.policy, profile_overrides=dict(overrides or {}))
    providers = provider_regions(resources)
    by_resource = [f for r in resources for f in check_resource(r, policy_for(r, policy, providers))]
    findings = _dedupe(by_resource + check_stack(facts, overrides))
    places = _config_places(facts, overrides) + _resource_places(facts, resources, providers)
    if facts.gateway_enabled:
        content = [f.resource for f in findings if f.rule == "gateway-logs-content"]
        what = (
            f"gateway logs content ({', '.join(content)})"
            if content
            else "gateway logs: routing metadata only"
        )
        places.append(
            Place(
                kind="logs",
                what=what,
                region=facts.region,
                resource="gateway",
                config_key="paddock:gateway",
                allowed=not content,
            )
        )
    return StackAudit(
        stack=facts.stack,
        region=facts.region,
        allowed_regions=facts.policy.allowed_regions,
        places=tuple(places),
        findings=findings,
        fallback_aliases=tuple(m.alias for m in facts.models if m.fallback is not None),
        pinned_aliases=tuple(m.alias for m in facts.models if m.fallback is None),
        resources_checked=len(resources),
    )


def grouped_places(places: Sequence[Place]) -> list[tuple[Place, str]]:
    """Places with the same kind, description, key and verdict merged into one row: (first place, Regions
    joined by ", "; "-" when unknown), in first-seen order. One Bedrock profile → one row."""
    rows: dict[tuple[str, str, str, bool], tuple[Place, list[str]]] = {}
    for p in places:
        key = (p.kind, p.what, p.config_key, p.allowed)
        rows.setdefault(key, (p, []))[1].append(p.region or "-")
    return [(first, ", ".join(dict.fromkeys(regions))) for first, regions in rows.values()]


def _cell(text: str | None) -> str:
    return (text or "—").replace("|", "\\|")


def render_markdown(audits: Sequence[StackAudit], *, generated: str) -> str:
    """A one-page report an auditor can attach to a review (GitHub-flavoured Markdown)."""
    lines = ["# Paddock data-residency audit", "", f"Generated {generated}.", ""]
    for a in audits:
        errors = sum(f.severity == "error" for f in a.findings)
        verdict = "clean" if not a.findings else f"{errors} error(s), {len(a.findings) - errors} warning(s)"
        lines += [
            f"## Stack `{a.stack}`: {verdict}",
            "",
            f"- Home Region: `{a.region}`; allowed: {', '.join(f'`{r}`' for r in a.allowed_regions)}",
            f"- Aliases that can fall back to Bedrock: {', '.join(a.fallback_aliases) or 'none'}",
            f"- Pinned aliases (never leave the cluster): {', '.join(a.pinned_aliases) or 'none'}",
            f"- Resources checked from the offline plan: {a.resources_checked}",
            "",
            "| Data | Where | Region | Allowed | Config key |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {p.kind} | {_cell(p.what)} | {_cell(regions)} | {'yes' if p.allowed else '**no**'} "
            f"| `{p.config_key}` |"
            for p, regions in grouped_places(a.places)
        ]
        if a.findings:
            lines += [
                "",
                "| Stack | Severity | Rule | Resource | Config key | Region | Message |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {a.stack} | {f.severity} | `{f.rule}` | {_cell(f.resource)} | `{f.config_key}` "
                f"| {_cell(f.region)} | {_cell(f.message)} |"
                for f in a.findings
            ]
        lines.append("")
    used = sorted({f.rule for a in audits for f in a.findings})
    if used:
        lines += (
            ["## Rules", ""] + [f"- `{r}` ({RULES[r].severity}): {RULES[r].description}" for r in used] + [""]
        )
    return "\n".join(lines)
